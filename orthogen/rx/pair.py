"""Rules for the two prescriptions of a pair, and for prescriptions that only make sense on one side.

``template: leg_length`` corrects a leg-length difference with a heel lift under the short leg only;
a pair whose two feet end up with the same lift cancels the correction, so it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from orthogen.errors import Hint, PrescriptionError
from orthogen.rx.model import Prescription

#: Templates that lift one side only (the short leg).
ONE_SIDED_LIFT_TEMPLATES = ("leg_length",)


def effective_heel_lift(rx: Prescription, side: str) -> float:
    """The heel lift (mm) ``rx`` gives the ``side`` foot: ``heel_lift_mm`` unless ``heel_lift_side``
    names the other foot."""
    return float(rx.heel_lift_mm) if rx.heel_lift_side in ("both", side) else 0.0


def check_pair(rxs: Mapping[str, Prescription], source: str | None = None) -> None:
    """Refuse a pair (``{"left": rx, "right": rx}``) that a one-sided template would make equal.

    Raises PrescriptionError naming ``source`` (the prescription file) with a hint that names the
    short side.
    """
    if set(rxs) != {"left", "right"}:
        return
    templates = {rx.template for rx in rxs.values()} & set(ONE_SIDED_LIFT_TEMPLATES)
    if not templates:
        return
    lifts = {side: effective_heel_lift(rx, side) for side, rx in rxs.items()}
    if abs(lifts["left"] - lifts["right"]) > 1e-9:
        return
    both = f"a {lifts['left']:g} mm heel lift" if lifts["left"] else "no heel lift"
    raise PrescriptionError(
        f"template {sorted(templates)[0]} lifts the short leg only, but both feet of this pair get {both}, "
        "which cancels the correction",
        source,
        Hint("name the short side", ("heel_lift_side", "right.heel_lift_mm=0")),
    )
