"""Rules across prescription keys, as a table: combinations that are refused, and ones that only warn.

Each rule names the keys it involves (so an error can say which file or ``--set`` set them), a
test on the prescription and the message. Rules are data: adding one is adding a row.

Examples
--------
>>> from orthogen.rx.model import Prescription
>>> [keys for keys, _ in refusals(Prescription(medial_heel_skive_mm=3, heel_cup_depth_mm=10))]
[('medial_heel_skive_mm', 'heel_cup_depth_mm')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orthogen.rx.limits import (
    HEEL_LIFT_IN_SHOE_LIMIT_MM,
    POST_USUAL_MAX_DEG,
    SHOE_SIZE_MISMATCH_MM,
    SHORT_LENGTHS,
    SHORT_SHELL_END_MARGIN_MM,
    SHORT_SHELL_END_MM,
    SHORT_SHELL_PAD_CLEAR_MM,
    SHORT_SHELL_SKIVE_MM,
    SKIVE_MIN_HEEL_CUP_MM,
    SKIVE_USUAL_MAX_MM,
)
from orthogen.rx.text import show

if TYPE_CHECKING:
    from orthogen.rx.model import Prescription


@dataclass(frozen=True)
class Rule:
    """One cross-key rule: when ``applies(rx)``, ``message(rx)`` is a problem about ``keys``."""

    keys: tuple[str, ...]
    applies: Callable[[Prescription], bool]
    message: Callable[[Prescription], str]


class CrossFieldError(ValueError):
    """Cross-field problems, each with the keys involved (used to report where they came from)."""

    def __init__(self, problems: list[tuple[tuple[str, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


def _short(rx: Prescription) -> bool:
    return rx.length in SHORT_LENGTHS


def _pad_beyond_short_shell(key: str) -> Rule:
    def applies(rx: Prescription) -> bool:
        part = getattr(rx, key)
        return _short(rx) and part is not None and part.offset_mm < SHORT_SHELL_PAD_CLEAR_MM

    return Rule(
        ("length", f"{key}.offset_mm"),
        applies,
        lambda rx: (
            f"{key}.offset_mm = {show(getattr(rx, key).offset_mm)} puts its distal edge in the skive of a "
            f"length {rx.length} shell, which ends {SHORT_SHELL_END_MM + SHORT_SHELL_END_MARGIN_MM:g} mm "
            f"behind the met heads and tapers over the {SHORT_SHELL_SKIVE_MM:g} mm behind that "
            f"(use length sulcus or full to keep the {key.replace('_', ' ')} just behind the met heads, "
            f"or offset_mm of at least {SHORT_SHELL_PAD_CLEAR_MM:g})"
        ),
    )


#: Combinations that are refused.
REFUSED: tuple[Rule, ...] = (
    Rule(
        ("medial_heel_skive_mm", "heel_cup_depth_mm"),
        lambda rx: rx.medial_heel_skive_mm > 0 and rx.heel_cup_depth_mm < SKIVE_MIN_HEEL_CUP_MM,
        lambda rx: (
            f"medial_heel_skive_mm = {show(rx.medial_heel_skive_mm)} needs heel_cup_depth_mm of at least "
            f"{SKIVE_MIN_HEEL_CUP_MM:g} mm (got {show(rx.heel_cup_depth_mm)}): a medial heel skive needs "
            "a deep heel cup"
        ),
    ),
    Rule(
        ("met_pad", "met_bar"),
        lambda rx: rx.met_pad is not None and rx.met_bar is not None,
        lambda rx: (
            "met_pad and met_bar cannot both be used (choose one: a met bar already lifts every metatarsal)"
        ),
    ),
    Rule(
        ("first_mpj_cutout", "mortons_extension"),
        lambda rx: rx.first_mpj_cutout is not None and rx.mortons_extension is not None,
        lambda rx: (
            "first_mpj_cutout and mortons_extension cannot both be used "
            "(choose one: one frees the 1st MPJ, the other blocks it)"
        ),
    ),
    Rule(
        ("length", "mortons_extension"),
        lambda rx: _short(rx) and rx.mortons_extension is not None,
        lambda rx: (
            f"mortons_extension lies under the 1st MPJ, beyond a length {rx.length} shell that ends behind "
            "the met heads (use length sulcus or full)"
        ),
    ),
    _pad_beyond_short_shell("met_pad"),
    _pad_beyond_short_shell("met_bar"),
    Rule(
        ("length", "mortons_extension.to_hallux_tip"),
        lambda rx: (
            rx.length == "sulcus" and rx.mortons_extension is not None and rx.mortons_extension.to_hallux_tip
        ),
        lambda rx: (
            "mortons_extension.to_hallux_tip = true reaches beyond a length sulcus shell (use length full)"
        ),
    ),
    Rule(
        ("mirror", "side"),
        lambda rx: rx.mirror and rx.side == "auto",
        lambda rx: (
            "mirror = true makes a device for the other foot from this scan: name that foot with "
            "side: left or side: right"
        ),
    ),
)


def _post_beyond_usual(key: str) -> Rule:
    def applies(rx: Prescription) -> bool:
        value = getattr(rx, key)
        return not isinstance(value, str) and abs(value) > POST_USUAL_MAX_DEG

    return Rule(
        (key,),
        applies,
        lambda rx: f"{key} = {show(getattr(rx, key))} is beyond the usual 0 to {POST_USUAL_MAX_DEG:g} deg",
    )


#: Valid but questionable choices: one warning line each.
WARNED: tuple[Rule, ...] = (
    Rule(
        ("heel_lift_mm",),
        lambda rx: rx.heel_lift_mm > HEEL_LIFT_IN_SHOE_LIMIT_MM,
        lambda rx: (
            f"heel_lift_mm = {show(rx.heel_lift_mm)} is above the ~{HEEL_LIFT_IN_SHOE_LIMIT_MM:g} mm that "
            "fits on an in-shoe device: consider a full-length lift about half as thick at the met heads, "
            "or a lift on the shoe above ~10 mm"
        ),
    ),
    Rule(
        ("medial_heel_skive_mm", "rearfoot_post_deg"),
        lambda rx: rx.medial_heel_skive_mm > 0 and rx.rearfoot_post_deg == 0,
        lambda rx: (
            f"medial_heel_skive_mm = {show(rx.medial_heel_skive_mm)} without a rearfoot post: a skive is "
            "normally paired with an extrinsic rearfoot post (set rearfoot_post_deg)"
        ),
    ),
    Rule(
        ("medial_heel_skive_mm", "rearfoot_post_deg"),
        lambda rx: rx.medial_heel_skive_mm > 0 and rx.rearfoot_post_deg < 0,
        lambda rx: (
            f"medial_heel_skive_mm = {show(rx.medial_heel_skive_mm)} with a valgus rearfoot post "
            f"(rearfoot_post_deg = {show(rx.rearfoot_post_deg)}): the post works against the skive"
        ),
    ),
    Rule(
        ("medial_heel_skive_mm",),
        lambda rx: rx.medial_heel_skive_mm > SKIVE_USUAL_MAX_MM,
        lambda rx: (
            f"medial_heel_skive_mm = {show(rx.medial_heel_skive_mm)} is extreme (usual 2 to "
            f"{SKIVE_USUAL_MAX_MM:g} mm)"
        ),
    ),
    _post_beyond_usual("rearfoot_post_deg"),
    _post_beyond_usual("forefoot_post_deg"),
    Rule(
        ("length", "forefoot_post_deg"),
        lambda rx: _short(rx) and rx.forefoot_post_deg not in (0, "auto"),
        lambda rx: (
            f"forefoot_post_deg = {show(rx.forefoot_post_deg)} with length {rx.length}: the shell ends "
            "behind the met heads, so a forefoot post can act only at its distal edge (use length sulcus or "
            "full)"
        ),
    ),
    Rule(
        ("length", "first_mpj_cutout"),
        lambda rx: _short(rx) and rx.first_mpj_cutout is not None,
        lambda rx: (
            f"first_mpj_cutout has no effect with length {rx.length}: the shell ends behind the 1st MPJ"
        ),
    ),
    Rule(
        ("foot_length_mm", "shoe_size"),
        lambda rx: (
            rx.foot_length_mm is not None
            and rx.shoe_size is not None
            and abs(rx.shoe_size.foot_length_mm - rx.foot_length_mm) > SHOE_SIZE_MISMATCH_MM
        ),
        lambda rx: (
            f"foot_length_mm = {show(rx.foot_length_mm)} disagrees with shoe_size {rx.shoe_size.system} "
            f"{show(rx.shoe_size.size)} (about {rx.shoe_size.foot_length_mm:.0f} mm), foot_length_mm is used"
        ),
    ),
)


def refusals(rx: Prescription) -> list[tuple[tuple[str, ...], str]]:
    """(keys, message) of every refused combination in ``rx``."""
    return [(r.keys, r.message(rx)) for r in REFUSED if r.applies(rx)]


def warnings(rx: Prescription) -> list[str]:
    """One line per questionable choice in ``rx`` (for the report and the CLI)."""
    return [r.message(rx) for r in WARNED if r.applies(rx)]
