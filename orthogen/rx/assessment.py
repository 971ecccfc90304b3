"""The clinician's assessment of a patient, as a validated file: the findings a prescription is derived from.

An assessment (YAML, TOML or JSON; see ``templates/assessments/``) names the patient's conditions and
what the clinician measured::

    conditions: [overpronation, low_back_pain]      # or a mapping condition: both | left | right
    leg_length_difference: {mm: 9, short_side: left, method: blocks}
    foot_posture_index: 8                           # FPI-6, -12 to +12; or {left: 8, right: 5}
    rcsp_deg: -4                                    # resting calcaneal stance, + inverted; or "4 everted"
    forefoot_deg: 3                                 # forefoot to rearfoot, + varus; or "3 varus"
    navicular_drop_mm: 12
    body_mass_kg: 82
    activity: moderate
    shoe: {type: casual, drop_mm: 8}
    prescription: {heel_cup_depth_mm: 16}           # values set by hand: they always win

The four foot measures and the conditions may differ between the feet (a mapping ``{left, right}``);
everything else is the patient's.  Validation problems raise one ``PrescriptionError`` whose
message lists every problem on one line (the same style as a prescription's).  Angles follow
orthogen's sign: + = varus / inverted.  The JSON schema is ``templates/assessment.schema.json``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from orthogen.errors import PrescriptionError
from orthogen.rx.limits import SHOE_DROP_RANGE_MM
from orthogen.rx.model import _literal_choices, _Part, _rng
from orthogen.rx.text import normalise_choice
from orthogen.rx.text import show as _show

#: The committed JSON schema of an assessment.
ASSESSMENT_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "templates" / "assessment.schema.json"

Condition = Literal[
    "overpronation",
    "flat_foot",
    "supination",
    "high_arch",
    "leg_length_difference",
    "plantar_heel_pain",
    "hallux_valgus",
    "metatarsalgia",
    "mortons_neuroma",
    "low_back_pain",
    "hip_pain",
    "knee_pain",
]
CONDITIONS: tuple[str, ...] = get_args(Condition)
#: Other names clinicians write for the same condition.
CONDITION_ALIASES = {
    "pronation": "overpronation",
    "pes_planus": "flat_foot",
    "flatfoot": "flat_foot",
    "flat_feet": "flat_foot",
    "fallen_arch": "flat_foot",
    "underpronation": "supination",
    "pes_cavus": "high_arch",
    "cavus": "high_arch",
    "leg_length_discrepancy": "leg_length_difference",
    "lld": "leg_length_difference",
    "plantar_fasciitis": "plantar_heel_pain",
    "heel_pain": "plantar_heel_pain",
    "heel_spur": "plantar_heel_pain",
    "bunion": "hallux_valgus",
    "neuroma": "mortons_neuroma",
    "morton_neuroma": "mortons_neuroma",
    "back_pain": "low_back_pain",
    "lower_back_pain": "low_back_pain",
}
FootSide = Literal["left", "right"]
ConditionSide = Literal["both", "left", "right"]
ShoeType = Literal["athletic", "casual", "dress", "work"]
Activity = Literal["low", "moderate", "high", "sport"]
LldMethod = Literal["tape", "blocks", "radiograph", "ultrasound", "other"]

#: The foot measures that may differ between the feet: (lo, hi, unit, whole numbers only, sign words).
SIDED: dict[str, tuple[float, float, str, bool, tuple[str, str] | None]] = {
    "foot_posture_index": (-12, 12, "", True, None),
    "rcsp_deg": (-20, 20, "deg", False, ("inverted", "everted")),
    "forefoot_deg": (-20, 20, "deg", False, ("varus", "valgus")),
    "navicular_drop_mm": (0, 30, "mm", False, None),
}
SIDES = ("left", "right")


def _sided_schema(name: str, title: str, meaning: str) -> Any:
    lo, hi, unit, whole, words = SIDED[name]
    number: dict[str, Any] = {"type": "integer" if whole else "number", "minimum": lo, "maximum": hi}
    one = [number]
    if words:
        one.append({"type": "string", "pattern": rf"^\s*[0-9.]+\s*({words[0]}|{words[1]})\s*$"})
    both = {"anyOf": one}
    per_side = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"left": both, "right": both},
    }
    unit_text = f" {unit}" if unit else ""
    words_text = f" Also written as '4 {words[0]}' or '4 {words[1]}'." if words else ""
    return WithJsonSchema(
        {
            "anyOf": [*one, per_side, {"type": "null"}],
            "title": f"{title}{f' ({unit})' if unit else ''}",
            "description": (
                f"{meaning} Range {lo:g} to {hi:g}{unit_text}; one value for both feet or {{left, right}}."
                f"{words_text} Default null (not measured)."
            ),
        }
    )


SidedValue = float | dict[str, float]


def _optional_choices(annotation: Any) -> tuple[str, ...]:
    return next((c for c in map(_literal_choices, (annotation, *get_args(annotation))) if c), ())


class _Item(_Part):
    """_Part whose optional choices (``Literal[...] | None``) also accept any case and '-' or ' ' for '_'."""

    @field_validator("*", mode="before")
    @classmethod
    def _optional_choice(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        choices = _optional_choices(field.annotation) if field is not None else ()
        return normalise_choice(value, choices) if choices else value


class LegLengthDifference(_Item):
    """A measured leg-length difference: how much, which leg is short, how it was measured."""

    mm: float = Field(
        ge=0,
        le=60,
        title="Leg-length difference (mm)",
        description="Measured difference in leg length, mm, 0 to 60.",
        json_schema_extra={"unit": "mm"},
    )
    short_side: FootSide | None = Field(
        None, title="Short side", description="Which leg is short: left or right (needed when mm > 0)."
    )
    method: LldMethod | None = Field(
        None,
        title="Method",
        description="How it was measured: tape, blocks (standing blocks), radiograph, ultrasound or other.",
    )

    @model_validator(mode="after")
    def _side_needed(self) -> LegLengthDifference:
        if self.mm > 0 and self.short_side is None:
            raise ValueError(
                f"leg_length_difference.mm = {_show(self.mm)} needs short_side: left or right (the short leg)"
            )
        return self


class Shoe(_Item):
    """The shoe the device goes in."""

    type: ShoeType | None = Field(
        None,
        title="Shoe type",
        description="athletic (trainers, running), casual (walking, lace-ups), dress (slim, low-cut) or work "
        "(boots, safety shoes).",
    )
    drop_mm: float | None = _rng(
        None,
        *SHOE_DROP_RANGE_MM,
        "mm",
        "Heel-to-ball drop",
        "The shoe's heel-to-ball drop (heel height above the ball), mm.",
    )


class Assessment(_Item):
    """A clinician's assessment: conditions, findings, patient and shoe; the source of a prescription."""

    model_config = ConfigDict(title="orthogen assessment")

    patient_ref: str | None = Field(
        None,
        max_length=64,
        title="Patient reference",
        description="The clinic's patient reference (not a name).",
    )
    conditions: Annotated[
        dict[Condition, ConditionSide],
        WithJsonSchema(
            {
                "title": "Conditions",
                "description": (
                    "The patient's conditions: a list (both feet), "
                    "or a mapping condition: both | left | right. "
                    f"Names: {', '.join(CONDITIONS)} (also: {', '.join(sorted(CONDITION_ALIASES))})."
                ),
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "object", "additionalProperties": {"enum": list(get_args(ConditionSide))}},
                ],
            }
        ),
    ] = Field(default_factory=dict)
    leg_length_difference: LegLengthDifference | None = Field(
        None, title="Leg-length difference", description="{mm, short_side, method}; null = not measured."
    )
    foot_posture_index: Annotated[
        SidedValue | None,
        _sided_schema(
            "foot_posture_index",
            "Foot Posture Index (FPI-6)",
            "Total score of the six-item Foot Posture Index: + pronated, - supinated (Redmond 2006).",
        ),
    ] = None
    rcsp_deg: Annotated[
        SidedValue | None,
        _sided_schema(
            "rcsp_deg",
            "Resting calcaneal stance position",
            "Frontal angle of the heel bisection in relaxed stance: + inverted (varus), - everted (valgus).",
        ),
    ] = None
    forefoot_deg: Annotated[
        SidedValue | None,
        _sided_schema(
            "forefoot_deg",
            "Forefoot to rearfoot",
            "Forefoot-to-rearfoot frontal angle with the subtalar joint in neutral: + varus, - valgus.",
        ),
    ] = None
    navicular_drop_mm: Annotated[
        SidedValue | None,
        _sided_schema(
            "navicular_drop_mm",
            "Navicular drop",
            "Drop of the navicular tuberosity from sitting to standing.",
        ),
    ] = None
    body_mass_kg: float | None = _rng(None, 20, 250, "kg", "Body mass", "The patient's body mass.")
    activity: Activity | None = Field(
        None, title="Activity", description="low, moderate, high, or sport (regular running or field sport)."
    )
    shoe: Shoe | None = Field(
        None, title="Shoe", description="{type, drop_mm} of the shoe the device goes in."
    )
    notes: str | None = Field(None, max_length=2000, title="Notes", description="Free text.")
    prescription: dict[str, Any] | None = Field(
        None,
        title="Values set by hand",
        description="Prescription keys the clinician sets by hand (see prescription.schema.json); they "
        "always win over the rules and are marked as the clinician's choice.",
    )

    @field_validator("conditions", mode="before")
    @classmethod
    def _conditions(cls, value: Any) -> Any:
        return _parse_conditions(value)

    @field_validator(*SIDED, mode="before")
    @classmethod
    def _sided(cls, value: Any, info: ValidationInfo) -> Any:
        return _parse_sided(str(info.field_name), value)

    @model_validator(mode="after")
    def _lld_condition_needs_measure(self) -> Assessment:
        if "leg_length_difference" in self.conditions and self.leg_length_difference is None:
            raise ValueError(
                "condition leg_length_difference needs the measurement: "
                "leg_length_difference: {mm: ..., short_side: left | right}"
            )
        return self

    # --- reading the findings of one foot ------------------------------------------------------------
    def value(self, name: str, side: str | None) -> float | None:
        """A foot measure for ``side`` (left/right), or the shared value when ``side`` is None.

        Raises PrescriptionError when the feet differ and no side is named.
        """
        raw = getattr(self, name)
        if not isinstance(raw, dict):
            return raw
        if side in SIDES:
            return raw.get(side)
        if raw.get("left") == raw.get("right"):
            return raw.get("left")
        raise PrescriptionError(
            f"{name} differs between the feet ({_show(raw)}): name the foot (a scan or --side left|right)"
        )

    def conditions_for(self, side: str | None) -> tuple[str, ...]:
        """The conditions of ``side`` (all 'both' ones; one-sided ones need ``side``), in file order."""
        out = []
        for name, where in self.conditions.items():
            if where == "both" or where == side:
                out.append(name)
            elif side is None:
                raise PrescriptionError(
                    f"condition {name} is on the {where} foot only: "
                    "name the foot (a scan or --side left|right)"
                )
        return tuple(out)

    def side_specific(self) -> list[str]:
        """Names of the findings that differ between the feet (a prescription for one foot only)."""
        names = [c for c, where in self.conditions.items() if where != "both"]
        for name in SIDED:
            raw = getattr(self, name)
            if isinstance(raw, dict) and raw.get("left") != raw.get("right"):
                names.append(name)
        return names


def _parse_conditions(value: Any) -> Any:
    if value is None:
        return {}
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        items = [(v, "both") for v in value]
    elif isinstance(value, dict):
        items = list(value.items())
    else:
        raise ValueError(f"conditions = {_show(value)} must be a list of names or a mapping name: side")
    out: dict[str, str] = {}
    problems = []
    for raw, where in items:
        name = _condition_name(raw)
        if name is None:
            close = difflib.get_close_matches(str(raw), [*CONDITIONS, *CONDITION_ALIASES], n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(f"unknown condition {_show(raw)} ({hint}allowed: {', '.join(CONDITIONS)})")
            continue
        side = normalise_choice(where, get_args(ConditionSide)) if where is not None else "both"
        if side not in get_args(ConditionSide):
            problems.append(f"conditions.{name} = {_show(where)} is not allowed (allowed: both, left, right)")
            continue
        previous = out.get(name)
        out[name] = side if previous in (None, side) else "both"
    if problems:
        raise ValueError("; ".join(problems))
    return out


def _condition_name(raw: Any) -> str | None:
    if not isinstance(raw, str):
        return None
    key = re.sub(r"[\s'’-]+", "_", raw.strip()).lower().replace("morton_s", "mortons")
    key = CONDITION_ALIASES.get(key, key)
    return key if key in CONDITIONS else None


def _span(lo: float, hi: float, unit: str) -> str:
    return f"{lo:g} to {hi:g}{' ' + unit if unit else ''}"


def _parse_sided(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        unknown = [k for k in value if k not in SIDES]
        if unknown:
            raise ValueError(
                f"{name} has unknown key(s) {', '.join(map(_show, unknown))} (allowed: left, right)"
            )
        return {
            side: _parse_number(f"{name}.{side}", name, value[side])
            for side in SIDES
            if side in value and value[side] is not None
        }
    return _parse_number(name, name, value)


def _parse_number(key: str, name: str, value: Any) -> float:
    lo, hi, unit, whole, words = SIDED[name]
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        pattern = (
            rf"([+-]?\d+(?:\.\d*)?)\s*(?:°|deg|degrees?|mm)?\s*({'|'.join(words)})?"
            if words
            else r"([+-]?\d+(?:\.\d*)?)\s*(?:mm)?"
        )
        match = re.fullmatch(pattern, text)
        if match:
            number = float(match.group(1))
            if words and match.group(2) == words[1]:
                number = -abs(number)
    if number is None or number != number or number in (float("inf"), float("-inf")):
        how = f" (or '4 {words[0]}' / '4 {words[1]}')" if words else ""
        raise ValueError(f"{key} = {_show(value)} is not a number{how}")
    if whole and number != int(number):
        raise ValueError(f"{key} = {_show(value)} is not a whole number (FPI-6 scores are whole numbers)")
    if not lo <= number <= hi:
        raise ValueError(f"{key} = {_show(value)} is out of range (allowed {_span(lo, hi, unit)})")
    return int(number) if whole else number


# ---------------------------------------------------------------------------------------------
# One-line problems


_NESTED = {"leg_length_difference": LegLengthDifference, "shoe": Shoe}


def _model_at(loc: tuple) -> Any:
    if not loc:
        return Assessment
    if len(loc) == 1 and loc[0] in _NESTED:
        return _NESTED[loc[0]]
    return None


def _problem(err: Mapping[str, Any]) -> str:
    loc = tuple(str(p) for p in err["loc"])
    key = ".".join(loc)
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    model = _model_at(loc[:-1])
    field = model.model_fields.get(loc[-1]) if model is not None and loc else None
    if kind == "extra_forbidden":
        names = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
        prefix = ".".join(loc[:-1])
        hint = f" (did you mean '{prefix + '.' if prefix else ''}{close[0]}'?)" if close else ""
        return f"unknown key '{key}'{hint}"
    if kind in ("greater_than_equal", "less_than_equal") and field is not None:
        lo = hi = None
        for item in field.metadata:
            lo, hi = getattr(item, "ge", lo), getattr(item, "le", hi)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        return f"{key} = {_show(value)} is out of range (allowed {_span(lo, hi, extra.get('unit', ''))})"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"{key} = {_show(value)} is not a number"
    if kind == "literal_error":
        choices = _optional_choices(field.annotation) if field is not None else ()
        allowed = ", ".join(choices) or ctx.get("expected", "")
        return f"{key} = {_show(value)} is not allowed (allowed: {allowed})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key} = {_show(value)} must be a mapping"
    if kind == "missing":
        return f"missing key '{key}'"
    if kind in ("string_type", "string_too_long"):
        limit = " of at most 64 characters" if kind == "string_too_long" else ""
        return f"{key} = {_show(value)} must be text{limit}"
    if kind == "value_error":
        return str(ctx.get("error", err.get("msg", "")))
    return f"{key}: {' '.join(str(err.get('msg', kind)).split())}"


def validate_assessment(data: Mapping[str, Any], source: str | Path | None = None) -> Assessment:
    """Validate one raw mapping; every problem is listed in one ``PrescriptionError`` naming ``source``."""
    try:
        return Assessment.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors()]
        raise PrescriptionError("; ".join(dict.fromkeys(problems)), source) from None


# ---------------------------------------------------------------------------------------------
# JSON schema


def json_schema() -> dict:
    """The assessment's JSON schema (draft 2020-12), as committed in templates/assessment.schema.json."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **Assessment.model_json_schema()}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: str | Path = ASSESSMENT_SCHEMA_PATH) -> Path:
    """Write the JSON schema (default: the repository's templates/assessment.schema.json)."""
    path = Path(path)
    path.write_text(json_schema_text(), encoding="utf-8")
    return path
