"""The findings of one foot: the assessment's and the scan's, and the foot posture classified from them.

Pure functions of plain data: an :class:`~orthogen.rx.assessment.Assessment`, the scan's measurement
report (``MeasuredFoot.report()``: ``arch_index``, ``foot_type``, ``arch_height_mm``, ``weight_bearing``
and, when the device code measures it, ``forefoot_to_rearfoot_deg`` with + = forefoot varus) and the
posture table of the clinical rules (``templates/rules/clinical_rules.yaml``).  Angles: + = varus / inverted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orthogen.rx.assessment import Assessment

#: Posture classes and the direction each belongs to.
DIRECTION = {
    "highly_pronated": "pronated",
    "pronated": "pronated",
    "normal": "normal",
    "supinated": "supinated",
    "highly_supinated": "supinated",
}
#: The scan report key of the forefoot-to-rearfoot angle (+ = forefoot varus), when the scan measures it.
SCAN_FOREFOOT_KEY = "forefoot_to_rearfoot_deg"


@dataclass(frozen=True)
class Finding:
    """One finding: its name, value, how it reads in a reason, and where it came from."""

    name: str
    value: Any
    text: str
    origin: str  # "assessment", "scan" or "derived"


@dataclass(frozen=True)
class FootFindings:
    """Everything known about one foot (``side`` None = both feet alike), in reading order."""

    side: str | None
    items: tuple[Finding, ...]
    conditions: tuple[str, ...]
    warnings: tuple[str, ...]

    def get(self, name: str) -> Finding | None:
        return next((f for f in self.items if f.name == name), None)

    def value(self, name: str) -> Any:
        found = self.get(name)
        return None if found is None else found.value

    def shown(self) -> tuple[Finding, ...]:
        """The findings as a reader sees them: each text once (the short side is in the difference's)."""
        seen: set[str] = set()
        out = []
        for f in self.items:
            if f.name != "short_side" and f.text not in seen:
                seen.add(f.text)
                out.append(f)
        return tuple(out)


def _deg(value: float, words: tuple[str, str]) -> str:
    return f"{abs(value):g}° {words[0] if value >= 0 else words[1]}"


def _condition_text(name: str) -> str:
    return {
        "hallux_valgus": "hallux valgus / bunion",
        "mortons_neuroma": "Morton's neuroma",
        "plantar_heel_pain": "plantar heel pain",
    }.get(name, name.replace("_", " "))


def _assessment_items(a: Assessment, side: str | None) -> list[Finding]:
    items = [
        Finding(f"condition:{c}", True, _condition_text(c), "assessment") for c in a.conditions_for(side)
    ]
    lld = a.leg_length_difference
    if lld is not None:
        how = f" ({lld.method})" if lld.method else ""
        short = f", {lld.short_side} leg short" if lld.mm > 0 else ""
        items.append(
            Finding(
                "leg_length_difference_mm",
                lld.mm,
                f"leg-length difference {lld.mm:g} mm{short}{how}",
                "assessment",
            )
        )
        if lld.short_side:
            items.append(Finding("short_side", lld.short_side, f"{lld.short_side} leg short", "assessment"))
    fpi = a.value("foot_posture_index", side)
    if fpi is not None:
        items.append(Finding("foot_posture_index", fpi, f"FPI-6 {fpi:+g}", "assessment"))
    nd = a.value("navicular_drop_mm", side)
    if nd is not None:
        items.append(Finding("navicular_drop_mm", nd, f"navicular drop {nd:g} mm", "assessment"))
    rcsp = a.value("rcsp_deg", side)
    if rcsp is not None:
        items.append(
            Finding("rcsp_deg", rcsp, f"calcaneal stance {_deg(rcsp, ('inverted', 'everted'))}", "assessment")
        )
    if a.body_mass_kg is not None:
        items.append(
            Finding("body_mass_kg", a.body_mass_kg, f"body mass {a.body_mass_kg:g} kg", "assessment")
        )
    if a.activity is not None:
        items.append(Finding("activity", a.activity, f"activity {a.activity}", "assessment"))
    shoe = a.shoe
    if shoe is not None and shoe.type is not None:
        items.append(Finding("shoe_type", shoe.type, f"{shoe.type} shoe", "assessment"))
    if shoe is not None and shoe.drop_mm is not None:
        items.append(
            Finding("shoe_drop_mm", shoe.drop_mm, f"shoe heel-to-ball drop {shoe.drop_mm:g} mm", "assessment")
        )
    return items


def _scan_items(scan: Mapping[str, Any]) -> list[Finding]:
    estimate = "" if scan.get("weight_bearing", True) else ", non-weight-bearing estimate"
    items = []
    ai = f"arch index {scan['arch_index']:.3f}" if scan.get("arch_index") is not None else ""
    if scan.get("foot_type") is not None:
        items.append(
            Finding(
                "foot_type",
                scan["foot_type"],
                f"{scan['foot_type']} arch ({ai + ', ' if ai else ''}scan{estimate})",
                "scan",
            )
        )
    if ai:  # read together with the foot type it defines
        text = items[0].text if items else f"{ai} (scan{estimate})"
        items.append(Finding("arch_index", scan["arch_index"], text, "scan"))
    if scan.get("arch_height_mm") is not None:
        items.append(
            Finding(
                "arch_height_mm",
                scan["arch_height_mm"],
                f"arch height {scan['arch_height_mm']:.1f} mm (scan)",
                "scan",
            )
        )
    return items


def _forefoot(
    a: Assessment, side: str | None, scan: Mapping[str, Any] | None, disagreement_deg: float
) -> tuple[list[Finding], list[str]]:
    clinical = a.value("forefoot_deg", side)
    measured = None if scan is None else scan.get(SCAN_FOREFOOT_KEY)
    items, warnings = [], []
    words = ("varus", "valgus")
    if measured is not None:
        items.append(
            Finding(
                SCAN_FOREFOOT_KEY,
                float(measured),
                f"forefoot-to-rearfoot {_deg(float(measured), words)} (scan)",
                "scan",
            )
        )
    if clinical is not None:
        items.append(Finding("forefoot_deg", clinical, f"forefoot {_deg(clinical, words)}", "assessment"))
        if measured is not None and abs(clinical - float(measured)) > disagreement_deg:
            warnings.append(
                f"the clinician's forefoot {_deg(clinical, words)} and the scan's "
                f"{_deg(float(measured), words)} differ by more than {disagreement_deg:g}°: the clinician's "
                "is used (measured with the subtalar joint in neutral, which is what the post balances)"
            )
    elif measured is not None:
        items.append(
            Finding(
                "forefoot_deg", float(measured), f"forefoot {_deg(float(measured), words)} (scan)", "scan"
            )
        )
    return items, warnings


@dataclass(frozen=True)
class _Vote:
    cls: str
    text: str
    why_first: str


def _classify(value: Any, source: Mapping[str, Any]) -> str | None:
    if "classes" in source:
        return source["classes"].get(value)
    for threshold, cls in source["bands"]:
        if value >= threshold:
            return cls
    return None


def _posture(
    items: Sequence[Finding], conditions: Sequence[str], table: Sequence[Mapping[str, Any]]
) -> tuple[Finding | None, list[str]]:
    """The foot posture from the first source present, graded by the agreeing ones; disagreements warn."""
    by_name = {f.name: f for f in items}
    votes: list[_Vote] = []
    for source in table:
        if source["finding"] == "condition":
            for c in conditions:
                cls = source["classes"].get(c)
                if cls is not None:
                    text = f"the clinician's diagnosis of {_condition_text(c)}"
                    votes.append(_Vote(cls, text, source["why_first"]))
            continue
        found = by_name.get(source["finding"])
        if found is not None:
            cls = _classify(found.value, source)
            if cls is not None:
                votes.append(_Vote(cls, found.text, source["why_first"]))
    if not votes:
        return None, []
    first = votes[0]
    direction = DIRECTION[first.cls]
    agree = [v for v in votes[1:] if DIRECTION[v.cls] == direction]
    cls = first.cls
    if direction != "normal" and any(v.cls.startswith("highly_") for v in (first, *agree)):
        cls = f"highly_{direction}"
    warnings = [
        f"{v.text} reads as {v.cls.replace('_', ' ')}, but {first.text} reads as "
        f"{first.cls.replace('_', ' ')}: {direction} used, because {first.why_first}"
        for v in votes[1:]
        if DIRECTION[v.cls] != direction
    ]
    also = "; ".join(v.text for v in agree)
    text = f"{cls.replace('_', ' ')} foot ({first.text}{'; ' + also if also else ''})"
    return Finding("posture", cls, text, "derived"), warnings


def gather(
    assessment: Assessment,
    scan: Mapping[str, Any] | None,
    side: str | None,
    posture_table: Sequence[Mapping[str, Any]],
    forefoot_disagreement_deg: float,
) -> FootFindings:
    """All findings of ``side`` (None = both feet alike): assessment, scan, and the classified posture.

    Raises PrescriptionError when the assessment differs between the feet and ``side`` is None.
    """
    items = _assessment_items(assessment, side)
    conditions = assessment.conditions_for(side)
    forefoot, warnings = _forefoot(assessment, side, scan, forefoot_disagreement_deg)
    items += forefoot
    if scan is not None:
        items += _scan_items(scan)
    posture, posture_warnings = _posture(items, conditions, posture_table)
    if posture is not None:
        items.append(posture)
    return FootFindings(side, tuple(items), conditions, tuple(warnings + posture_warnings))
