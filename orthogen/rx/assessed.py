"""A prescription from an assessment: read the assessment (its own file, a prescription's ``assessment:``
section, or an order's), join the clinician's hand-set values, derive and validate.

The clinician's own values, lowest to highest priority: the assessment's ``prescription:`` section < the
prescription file's keys < ``--set`` overrides.  All of them win over the rules (see
:mod:`orthogen.rx.clinical_rules`).  Without any assessment this is ``load_prescription``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orthogen.errors import PrescriptionError
from orthogen.rx.files import read_prescription_file
from orthogen.rx.layering import OVERRIDE_SOURCE, parse_overrides
from orthogen.rx.load import load_prescription, validate_prescription
from orthogen.rx.model import Prescription

if TYPE_CHECKING:  # the assessment models and rules are imported only when an assessment is read
    from orthogen.rx.assessment import Assessment
    from orthogen.rx.clinical_rules import Derivation

#: The key of an assessment section inside a prescription file or an order.
SECTION = "assessment"


@dataclass(frozen=True)
class AssessmentSource:
    """An assessment, the clinician's hand-set values that came with it, and where it was read."""

    assessment: Assessment
    chosen: dict[str, Any]
    source: str


def is_assessment(raw: Mapping[str, Any]) -> bool:
    """Whether a raw file mapping is an assessment (or holds an ``assessment:`` section)."""
    if SECTION in raw:
        return True
    keys = set(raw)
    if not keys or keys & set(Prescription.model_fields):
        return False
    from orthogen.rx.assessment import Assessment

    return keys <= set(Assessment.model_fields)


def holds_assessment(rx_path: str | Path | None) -> bool:
    """Whether a prescription file is an assessment or has an ``assessment:`` section."""
    return rx_path is not None and is_assessment(read_prescription_file(rx_path))


def read_assessment(data: str | Path | Mapping[str, Any], source: str | None = None) -> AssessmentSource:
    """An assessment from a file path or a raw mapping (an order's inline assessment).

    A file holding a prescription with an ``assessment:`` section gives that section, and its other
    keys as the clinician's choices.  Problems raise one PrescriptionError naming the file.
    """
    from orthogen.rx.assessment import validate_assessment

    if isinstance(data, Mapping):
        raw, where = dict(data), source or SECTION
    else:
        raw, where = read_prescription_file(data), str(data)
    if SECTION not in raw:
        a = validate_assessment(raw, where)
        return AssessmentSource(a, dict(a.prescription or {}), where)
    section = raw[SECTION]
    if not isinstance(section, dict):
        raise PrescriptionError(
            f"{SECTION} must be a mapping of findings (conditions, foot_posture_index, ...)", where
        )
    if section.get("prescription"):
        raise PrescriptionError(
            f"{SECTION}.prescription: in a prescription file the values set by hand are the file's own keys",
            where,
        )
    a = validate_assessment(section, where)
    return AssessmentSource(a, {k: v for k, v in raw.items() if k != SECTION}, where)


def check_file(path: str | Path) -> list[tuple[str | None, Prescription, Derivation | None]]:
    """``orthogen validate``: (foot, prescription, derivation) of a prescription or assessment file.

    An assessment whose findings differ between the feet is checked for each foot.
    """
    raw = read_prescription_file(path)
    if not is_assessment(raw):
        return [(None, load_prescription(path), None)]
    src = read_assessment(path)
    sides = ("left", "right") if src.assessment.side_specific() else (None,)
    return [(side, *load_with_assessment(path, side=side)) for side in sides]


def _set_nested(target: dict, keys: tuple[str, ...], value: Any) -> None:
    node = target
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = value


def load_with_assessment(
    rx_path: str | Path | None = None,
    overrides: Iterable[str] = (),
    assessment: str | Path | Mapping[str, Any] | None = None,
    scan: Mapping[str, Any] | None = None,
    side: str | None = None,
    any_side: bool = False,
) -> tuple[Prescription, Derivation | None]:
    """The prescription (and its derivation when there is an assessment) of one foot.

    ``assessment`` is a file or a mapping; without it, ``rx_path`` may itself be an assessment or
    hold an ``assessment:`` section.  ``scan`` is the foot's measurement report, ``side`` the foot
    (None with no scan: both feet alike).  ``any_side``: the prescription only decides how scans are
    read (units, kind, side, foot length, which no rule sets), so a side-specific assessment without a
    side uses its left foot's findings instead of refusing.  Problems raise one PrescriptionError.
    """
    overrides = [overrides] if isinstance(overrides, str) else list(overrides)
    rx_raw = read_prescription_file(rx_path) if rx_path is not None else {}
    if assessment is not None:
        if SECTION in rx_raw:
            raise PrescriptionError(
                f"the prescription has an {SECTION}: section and an assessment was given "
                "as well: give it once",
                rx_path,
            )
        src = read_assessment(assessment)
        chosen = {**src.chosen, **copy.deepcopy(rx_raw)}
    elif rx_path is not None and is_assessment(rx_raw):
        src = read_assessment(rx_path)
        chosen = src.chosen
    else:
        return load_prescription(rx_path, overrides), None
    items, problems = parse_overrides(overrides)
    if problems:
        raise PrescriptionError("; ".join(problems), OVERRIDE_SOURCE)
    for keys, value in items:
        _set_nested(chosen, keys, value)
    where = str(rx_path or src.source)
    if any_side and side is None and scan is None and src.assessment.side_specific():
        side = "left"
    from orthogen.rx.clinical_rules import derive

    try:
        derivation = derive(src.assessment, scan, side, chosen)
        # the rules' own values are always valid, so a problem here lies in the values set by hand
        rx = validate_prescription(derivation.values, where)
    except PrescriptionError as err:
        also = f" (with --set {'; '.join(overrides)})" if overrides and err.path != OVERRIDE_SOURCE else ""
        raise PrescriptionError(err.problem + also, err.path or where) from None
    return rx, derivation
