"""The clinician's prescription: every correction orthogen applies, with units, ranges and defaults.

A prescription is a YAML or TOML file of lab-form parameters (see ``templates/example_rx.yaml``)
layered over a device template and the built-in defaults, plus ``--set key=value`` overrides::

    built-in defaults < template ``defaults`` < prescription file < --set overrides

All lengths are millimetres and all angles degrees; each unit is part of the key's name.  Positions
of accommodations are given relative to foot landmarks (metatarsal-head line, heel centre, 1st MPJ),
which the geometry code locates in the standard frame (see ``orthogen/__init__.py``).

Errors reach the user as one ``PrescriptionError`` whose message lists every problem on one line,
separated by "; " (never pydantic's multi-line text).  Values, ranges and rules follow
``/work/shared/DOMAIN.md``.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orthogen.rx import templates as templates_io
from orthogen.errors import PrescriptionError

# ---------------------------------------------------------------------------------------------
# Clinical constants (DOMAIN.md)

#: Thickest heel lift that fits on an in-shoe device (1/4 inch); above it a warning is given.
HEEL_LIFT_IN_SHOE_LIMIT_MM = 6.0
#: A medial heel (Kirby) skive needs a heel cup at least this deep.
SKIVE_MIN_HEEL_CUP_MM = 14.0
#: Skives deeper than this are "extreme" (usual 2-6 mm); a warning is given.
SKIVE_USUAL_MAX_MM = 6.0
#: Posting beyond this many degrees is unusual (lab forms use 0-8 deg); a warning is given.
POST_USUAL_MAX_DEG = 8.0
#: Shell lengths that end proximal of (behind) the metatarsal heads.
SHORT_LENGTHS = ("metatarsal", "three_quarter")
#: A metatarsal / three-quarter length shell ends this far proximal of the met-head line, so a
#: met pad or bar whose distal edge is closer to the met heads than this would hang off the shell.
SHORT_SHELL_END_MM = 5.0
#: Allowed foot lengths, also the range check for shoe-size conversions.
FOOT_LENGTH_RANGE_MM = (100.0, 350.0)
#: foot_length_mm and a shoe size that disagree by more than this give a warning.
SHOE_SIZE_MISMATCH_MM = 20.0

MM_PER_INCH = 25.4
SHOE_SIZE_SYSTEMS = ("EU", "US_men", "US_women", "UK", "mondopoint")
LABEL_MAX_CHARS = 24
LABEL_PATTERN = r"^[A-Za-z0-9 _#.-]{1,24}$"
LABEL_CHARS_TEXT = "A-Z a-z 0-9 space - _ # ."

#: The committed JSON schema (regenerate with ``write_json_schema()``).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "templates" / "prescription.schema.json"

OVERRIDE_SOURCE = "--set"

Side = Literal["auto", "left", "right"]
Units = Literal["auto", "mm", "cm", "m"]
ScanKind = Literal["auto", "full_foot", "plantar_shell", "impression"]
ShellLength = Literal["full", "sulcus", "metatarsal", "three_quarter"]
ShoeSystem = Literal["EU", "US_men", "US_women", "UK", "mondopoint"]


# ---------------------------------------------------------------------------------------------
# Shoe sizes


def shoe_size_to_foot_length_mm(system: str, size: float) -> float:
    """Foot length in mm for a shoe size (DOMAIN.md formulas; approximate, they vary by maker).

    EU = 1.5 x L(cm) + 2 (Paris points), US men = 3 x L(in) - 22, US women = 3 x L(in) - 21,
    UK = 3 x L(in) - 23, Mondopoint = L(mm).  Raises PrescriptionError for an unknown system or
    a size whose foot length falls outside 100 to 350 mm.
    """
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size):
        raise PrescriptionError(f"shoe size {size!r} is not a number")
    if system not in SHOE_SIZE_SYSTEMS:
        raise PrescriptionError(
            f"unknown shoe size system {system!r} (allowed: {', '.join(SHOE_SIZE_SYSTEMS)})"
        )
    length = _shoe_length_mm(system, size)
    lo, hi = FOOT_LENGTH_RANGE_MM
    if not lo <= length <= hi:
        raise PrescriptionError(
            f"shoe size {system} {_show(size)} gives a foot length of {length:.0f} mm, "
            f"outside {lo:g} to {hi:g} mm"
        )
    return length


def _shoe_length_mm(system: str, size: float) -> float:
    if system == "EU":
        return (size - 2.0) / 1.5 * 10.0  # Paris points: 1.5 per cm, +2
    if system == "US_men":
        return (size + 22.0) / 3.0 * MM_PER_INCH
    if system == "US_women":
        return (size + 21.0) / 3.0 * MM_PER_INCH
    if system == "UK":
        return (size + 23.0) / 3.0 * MM_PER_INCH
    return float(size)  # mondopoint


# ---------------------------------------------------------------------------------------------
# Model building blocks


def _rng(default: Any, lo: float, hi: float, unit: str, title: str, meaning: str, **extra: Any) -> Any:
    """A numeric Field whose description states meaning, unit, range and default."""
    shown = "null" if default is None else f"{default:g}"
    unit_text = f" {unit}" if unit else ""
    description = f"{meaning} Range {lo:g} to {hi:g}{unit_text}; default {shown}."
    schema_extra = {"unit": unit} if unit else None
    return Field(
        default,
        ge=lo,
        le=hi,
        title=f"{title} ({unit})" if unit else title,
        description=description,
        json_schema_extra=schema_extra,
        **extra,
    )


def _normalise_choice(value: Any, choices: tuple[str, ...]) -> Any:
    """Accept enum words case-insensitively and with '-' or spaces for '_' ("Three-quarter")."""
    if isinstance(value, str):
        key = re.sub(r"[\s-]+", "_", value.strip()).lower()
        for choice in choices:
            if choice.lower() == key:
                return choice
    return value


def _is_number_annotation(annotation: Any) -> bool:
    return annotation is float or float in get_args(annotation)


class _Part(BaseModel):
    """Common configuration: unknown keys rejected, immutable, finite numbers only."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic would read true/false as 1/0 for a number; a clinician never means that.
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _is_number_annotation(field.annotation):
            raise PydanticCustomError("float_type", "Input should be a valid number")
        literal_args = _literal_choices(field.annotation) if field is not None else ()
        if literal_args:
            return _normalise_choice(value, literal_args)
        return value


def _literal_choices(annotation: Any) -> tuple[str, ...]:
    if getattr(annotation, "__origin__", None) is Literal:
        return tuple(get_args(annotation))
    return ()


class ShoeSize(_Part):
    """A shoe size; converted to a foot length with DOMAIN.md's formulas."""

    system: ShoeSystem = Field(
        title="Shoe size system",
        description=(
            "Sizing system: EU (Paris points), US_men, US_women, UK, or mondopoint (foot length in mm)."
        ),
    )
    size: float = Field(
        title="Shoe size", description="Size number in that system, e.g. 42 (EU) or 9.5 (US_men)."
    )

    @model_validator(mode="after")
    def _length_in_range(self) -> ShoeSize:
        length = _shoe_length_mm(self.system, self.size)
        lo, hi = FOOT_LENGTH_RANGE_MM
        if not lo <= length <= hi:
            raise ValueError(
                f"shoe_size = {self.system} {_show(self.size)} gives a foot length of {length:.0f} mm, "
                f"outside {lo:g} to {hi:g} mm"
            )
        return self

    @property
    def foot_length_mm(self) -> float:
        """Approximate foot length for this size."""
        return shoe_size_to_foot_length_mm(self.system, self.size)


class MetPad(_Part):
    """Metatarsal pad: a dome proximal of the central met heads that lifts and spreads them."""

    height_mm: float = _rng(5.0, 2, 8, "mm", "Met pad height", "Dome height above the shell's top surface.")
    length_mm: float = _rng(30.0, 15, 50, "mm", "Met pad length", "Pad length along the foot (x).")
    width_mm: float = _rng(22.0, 10, 40, "mm", "Met pad width", "Pad width across the foot (y).")
    offset_mm: float = _rng(
        8.0, 0, 30, "mm", "Met pad offset",
        "Distance from the metatarsal-head line back (proximal) to the pad's distal edge.",
    )


class MetBar(_Part):
    """Metatarsal bar: a transverse ridge across all metatarsal shafts just proximal of the heads."""

    height_mm: float = _rng(4.0, 2, 8, "mm", "Met bar height", "Bar height above the shell's top surface.")
    length_mm: float = _rng(20.0, 10, 40, "mm", "Met bar length", "Bar length along the foot (x).")
    offset_mm: float = _rng(
        8.0, 0, 30, "mm", "Met bar offset",
        "Distance from the metatarsal-head line back (proximal) to the bar's distal edge.",
    )


class FirstMpjCutout(_Part):
    """1st MPJ / 1st ray cut-out: a recess under the first met head that frees 1st MPJ motion."""

    depth_mm: float = _rng(
        2.0, 1, 6, "mm", "1st MPJ cut-out depth", "Depth of the recess below the shell's top surface."
    )
    radius_mm: float = _rng(
        14.0, 8, 25, "mm", "1st MPJ cut-out radius", "Radius of the recess, centred under the 1st met head."
    )


class HeelSpurPocket(_Part):
    """Heel spur pocket (plug): a soft recess under the plantar heel that offloads a painful spot."""

    depth_mm: float = _rng(
        3.0, 1, 6, "mm", "Heel spur pocket depth", "Depth of the recess below the shell's top surface."
    )
    radius_mm: float = _rng(14.0, 8, 25, "mm", "Heel spur pocket radius", "Radius of the recess.")
    offset_mm: float = _rng(
        0.0, -20, 20, "mm", "Heel spur pocket offset",
        "Position of the pocket centre along the foot from the heel centre; "
        "positive = toward the toes (distal).",
    )
    medial_offset_mm: float = _rng(
        0.0, -20, 20, "mm", "Heel spur pocket medial offset",
        "Position of the pocket centre across the foot from the heel centre; "
        "positive = medial, negative = lateral.",
    )


class MortonsExtension(_Part):
    """Morton's extension: a firm layer under the 1st MPJ (optionally the hallux) that limits its motion."""

    thickness_mm: float = _rng(3.0, 1, 6, "mm", "Morton's extension thickness", "Thickness of the extension.")
    to_hallux_tip: bool = Field(
        False,
        title="Morton's extension to hallux tip",
        description=(
            "true = extend to the tip of the hallux (needs length full); "
            "false = end just distal of the 1st MPJ."
        ),
    )


#: The nested objects of a prescription, by key.
NESTED_MODELS: dict[str, type[_Part]] = {
    "shoe_size": ShoeSize,
    "met_pad": MetPad,
    "met_bar": MetBar,
    "first_mpj_cutout": FirstMpjCutout,
    "heel_spur_pocket": HeelSpurPocket,
    "mortons_extension": MortonsExtension,
}
ACCOMMODATIONS = ("met_pad", "met_bar", "first_mpj_cutout", "heel_spur_pocket", "mortons_extension")
#: Keys whose --set value is taken as raw text (not parsed as YAML).
TEXT_KEYS = {
    ("template",), ("side",), ("units",), ("scan_kind",), ("length",), ("label",), ("shoe_size", "system")
}


class _CrossFieldError(ValueError):
    """Cross-field problems, each with the keys involved (used to report where they came from)."""

    def __init__(self, problems: list[tuple[tuple[str, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


def _accommodation_field(title: str, meaning: str) -> Any:
    return Field(
        None,
        title=title,
        description=(
            f"{meaning} null = none; a mapping (may be empty) adds it with the defaults of the keys it omits."
        ),
    )


class Prescription(_Part):
    """A foot orthosis prescription: every key has a unit in its name, a range and a default.

    Lengths are mm and angles degrees.  Accommodation positions are relative to foot landmarks.
    """

    model_config = ConfigDict(title="orthogen prescription")

    # --- identification and input -------------------------------------------------------------
    template: str = Field(
        "standard",
        title="Template",
        description=(
            "Name of a device template in templates/ (standard, sport, dress, flat_foot, high_arch, "
            "leg_length, heel_pain, ...) whose defaults fill the keys this prescription leaves out. "
            "Default standard."
        ),
    )
    side: Side = Field(
        "auto",
        title="Side",
        description="Which foot: left, right, or auto (detect from the scan). Default auto."
    )
    units: Units = Field(
        "auto",
        title="Scan units",
        description=(
            "Units of the scan file's coordinates: mm, cm, m, or auto (judge from the foot's size). "
            "Default auto."
        ),
    )
    scan_kind: ScanKind = Field(
        "auto",
        title="Scan kind",
        description=(
            "What the scan shows: full_foot (whole foot surface), plantar_shell (sole surface only), "
            "impression (a foam-box or other negative impression), or auto (detect). Default auto."
        ),
    )
    foot_length_mm: float | None = _rng(
        None, *FOOT_LENGTH_RANGE_MM, "mm", "Foot length",
        "Foot length, back of the heel to the tip of the longest toe, used to check the scan's scale; "
        "null = measure it from the scan.",
    )
    shoe_size: ShoeSize | None = Field(
        None,
        title="Shoe size",
        description=(
            "Shoe size as {system, size} (or text like 'EU 42'); converted to a foot-length hint when "
            "foot_length_mm is null. null = not given."
        ),
    )

    # --- shell ---------------------------------------------------------------------------------
    length: ShellLength = Field(
        "full",
        title="Shell length",
        description=(
            "Where the device ends: full (to the toes), sulcus (at the base of the toes), metatarsal "
            "(just behind the met heads, following the metatarsal parabola) or three_quarter (a straight "
            "cut behind the met heads). Default full."
        ),
    )
    shell_thickness_mm: float = _rng(
        3.0, 1.5, 8, "mm", "Shell thickness",
        "Thickness of the shell; thicker is stiffer, so grow it with body weight "
        "(printed PP usually 2 to 5 mm).",
    )
    top_cover_mm: float = _rng(
        0.0, 0, 6, "mm", "Top cover thickness",
        "Cushioning top cover modelled on the shell (usually 1 to 3 mm EVA); 0 = none.",
    )
    heel_cup_depth_mm: float = _rng(
        12.0, 0, 30, "mm", "Heel cup depth",
        "Height of the heel cup's posterior edge above the weight-bearing plane (12 men, 10 women, 14 sport "
        "or with a medial heel skive, 8 to 10 dress).",
    )
    arch_height_mm: float | None = _rng(
        None, 0, 40, "mm", "Arch height",
        "Target height of the device's medial arch top surface above the weight-bearing plane; "
        "null = follow the scan.",
    )
    arch_fill_mm: float = _rng(
        0.0, 0, 10, "mm", "Arch fill",
        "How far the arch contour is lowered below the scanned arch (labs: 0 none, 1.6 minimal, "
        "3.2 standard, 6.4 maximum); less fill = a higher, more controlling arch.",
    )

    # --- posting and control -------------------------------------------------------------------
    rearfoot_post_deg: float = _rng(
        0.0, -10, 10, "deg", "Rearfoot post",
        "Frontal-plane wedge under the heel; positive = varus (medial side raised), negative = valgus "
        "(lateral side raised). Usual 0 to 4, at most 8.",
    )
    forefoot_post_deg: float = _rng(
        0.0, -10, 10, "deg", "Forefoot post",
        "Frontal-plane wedge under the forefoot, balanced to the measured forefoot deformity; "
        "positive = varus (medial raised), negative = valgus (lateral raised).",
    )
    medial_heel_skive_mm: float = _rng(
        0.0, 0, 8, "mm", "Medial heel skive",
        "Depth of a medial heel (Kirby) skive, usually 2 to 6 mm; needs heel_cup_depth_mm of at least 14 "
        "and is normally paired with a rearfoot post. 0 = none.",
    )
    heel_lift_mm: float = _rng(
        0.0, 0, 12, "mm", "Heel lift",
        "Heel raise for a leg-length difference on this foot (start with 60 to 70 % of the measured "
        "difference); above 6 mm does not fit an in-shoe device well and gives a warning.",
    )
    medial_flange_mm: float = _rng(
        0.0, 0, 25, "mm", "Medial flange",
        "Extra wall height along the medial midfoot, for more pronation control.",
    )
    lateral_flange_mm: float = _rng(
        0.0, 0, 25, "mm", "Lateral flange",
        "Extra wall height along the lateral midfoot, for more supination control.",
    )

    # --- accommodations ------------------------------------------------------------------------
    met_pad: MetPad | None = _accommodation_field(
        "Metatarsal pad", "Dome proximal of the central met heads (metatarsalgia, neuroma)."
    )
    met_bar: MetBar | None = _accommodation_field(
        "Metatarsal bar", "Transverse ridge proximal of all met heads; not together with met_pad."
    )
    first_mpj_cutout: FirstMpjCutout | None = _accommodation_field(
        "1st MPJ cut-out", "Recess under the 1st met head (functional hallux limitus, sesamoiditis)."
    )
    heel_spur_pocket: HeelSpurPocket | None = _accommodation_field(
        "Heel spur pocket", "Recess under the plantar heel (plantar heel pain, heel spur)."
    )
    mortons_extension: MortonsExtension | None = _accommodation_field(
        "Morton's extension", "Firm layer under the 1st MPJ / hallux (hallux limitus/rigidus)."
    )

    # --- marking -------------------------------------------------------------------------------
    label: str | None = Field(
        None,
        max_length=LABEL_MAX_CHARS,
        pattern=LABEL_PATTERN,
        title="Label",
        description=(
            f"Text for the device's underside, e.g. the order id: up to {LABEL_MAX_CHARS} characters of "
            f"{LABEL_CHARS_TEXT}; null = none."
        ),
    )

    # --- field preparation ---------------------------------------------------------------------
    @field_validator(*ACCOMMODATIONS, mode="before")
    @classmethod
    def _accommodation_switch(cls, value: Any) -> Any:
        # `met_pad: true` adds a pad with default values, `false` removes one (TOML has no null).
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @field_validator("shoe_size", mode="before")
    @classmethod
    def _shoe_size_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = re.fullmatch(r"\s*([A-Za-z_ ]*[A-Za-z_])\s*[:=]?\s*([-+]?\d+(?:\.\d*)?)\s*", value)
            if match:
                system = _normalise_choice(match.group(1), SHOE_SIZE_SYSTEMS)
                return {"system": system, "size": float(match.group(2))}
        return value

    @field_validator("label", mode="before")
    @classmethod
    def _label_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # `label: 10234` (an order number) in YAML/TOML
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("template")
    @classmethod
    def _template_exists(cls, value: str, info: ValidationInfo) -> str:
        directory = (info.context or {}).get("templates_dir")
        if templates_io.template_path(value, directory) is None:
            raise ValueError(templates_io.unknown_template_problem(value, directory))
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Prescription:
        problems = self._cross_field_problems()
        if problems:
            raise _CrossFieldError(problems)
        return self

    def _cross_field_problems(self) -> list[tuple[tuple[str, ...], str]]:
        problems: list[tuple[tuple[str, ...], str]] = []
        if self.medial_heel_skive_mm > 0 and self.heel_cup_depth_mm < SKIVE_MIN_HEEL_CUP_MM:
            problems.append((
                ("medial_heel_skive_mm", "heel_cup_depth_mm"),
                f"medial_heel_skive_mm = {_show(self.medial_heel_skive_mm)} needs heel_cup_depth_mm of at "
                f"least {SKIVE_MIN_HEEL_CUP_MM:g} mm (got {_show(self.heel_cup_depth_mm)}): a medial heel "
                "skive needs a deep heel cup",
            ))
        if self.met_pad is not None and self.met_bar is not None:
            problems.append((
                ("met_pad", "met_bar"),
                "met_pad and met_bar cannot both be used "
                "(choose one: a met bar already lifts every metatarsal)",
            ))
        if self.first_mpj_cutout is not None and self.mortons_extension is not None:
            problems.append((
                ("first_mpj_cutout", "mortons_extension"),
                "first_mpj_cutout and mortons_extension cannot both be used "
                "(choose one: one frees the 1st MPJ, the other blocks it)",
            ))
        if self.length in SHORT_LENGTHS:
            if self.mortons_extension is not None:
                problems.append((
                    ("length", "mortons_extension"),
                    f"mortons_extension lies under the 1st MPJ, beyond a length {self.length} shell that "
                    "ends behind the met heads (use length sulcus or full)",
                ))
            for key in ("met_pad", "met_bar"):
                part = getattr(self, key)
                if part is not None and part.offset_mm < SHORT_SHELL_END_MM:
                    problems.append((
                        ("length", f"{key}.offset_mm"),
                        f"{key}.offset_mm = {_show(part.offset_mm)} puts its distal edge beyond a length "
                        f"{self.length} shell, which ends {SHORT_SHELL_END_MM:g} mm behind the met heads "
                        f"(use offset_mm of at least {SHORT_SHELL_END_MM:g} or a longer length)",
                    ))
        extension = self.mortons_extension
        if self.length == "sulcus" and extension is not None and extension.to_hallux_tip:
            problems.append((
                ("length", "mortons_extension.to_hallux_tip"),
                "mortons_extension.to_hallux_tip = true reaches beyond a length sulcus shell "
                "(use length full)",
            ))
        return problems

    # --- public helpers ------------------------------------------------------------------------
    @property
    def foot_length_hint_mm(self) -> float | None:
        """foot_length_mm if given, else the foot length implied by shoe_size, else None."""
        if self.foot_length_mm is not None:
            return self.foot_length_mm
        if self.shoe_size is not None:
            return self.shoe_size.foot_length_mm
        return None

    def warnings(self) -> list[str]:
        """Valid but questionable choices, one line each (for the report and the CLI)."""
        out: list[str] = []
        if self.heel_lift_mm > HEEL_LIFT_IN_SHOE_LIMIT_MM:
            out.append(
                f"heel_lift_mm = {_show(self.heel_lift_mm)} is above the ~{HEEL_LIFT_IN_SHOE_LIMIT_MM:g} mm "
                "that fits on an in-shoe device: consider a full-length lift about half as thick at the met "
                "heads, or a lift on the shoe above ~10 mm"
            )
        if self.medial_heel_skive_mm > 0 and self.rearfoot_post_deg == 0:
            out.append(
                f"medial_heel_skive_mm = {_show(self.medial_heel_skive_mm)} without a rearfoot post: a skive "
                "is normally paired with an extrinsic rearfoot post (set rearfoot_post_deg)"
            )
        elif self.medial_heel_skive_mm > 0 and self.rearfoot_post_deg < 0:
            out.append(
                f"medial_heel_skive_mm = {_show(self.medial_heel_skive_mm)} with a valgus rearfoot post "
                f"(rearfoot_post_deg = {_show(self.rearfoot_post_deg)}): the post works against the skive"
            )
        if self.medial_heel_skive_mm > SKIVE_USUAL_MAX_MM:
            out.append(
                f"medial_heel_skive_mm = {_show(self.medial_heel_skive_mm)} is extreme (usual 2 to "
                f"{SKIVE_USUAL_MAX_MM:g} mm)"
            )
        for key in ("rearfoot_post_deg", "forefoot_post_deg"):
            value = getattr(self, key)
            if abs(value) > POST_USUAL_MAX_DEG:
                out.append(f"{key} = {_show(value)} is beyond the usual 0 to {POST_USUAL_MAX_DEG:g} deg")
        if self.length in SHORT_LENGTHS:
            if self.forefoot_post_deg != 0:
                out.append(
                    f"forefoot_post_deg = {_show(self.forefoot_post_deg)} with length {self.length}: the "
                    "shell ends behind the met heads, so a forefoot post can act only at its distal edge "
                    "(use length sulcus or full)"
                )
            if self.first_mpj_cutout is not None:
                out.append(
                    f"first_mpj_cutout has no effect with length {self.length}: "
                    "the shell ends behind the 1st MPJ"
                )
        if self.foot_length_mm is not None and self.shoe_size is not None:
            implied = self.shoe_size.foot_length_mm
            if abs(implied - self.foot_length_mm) > SHOE_SIZE_MISMATCH_MM:
                out.append(
                    f"foot_length_mm = {_show(self.foot_length_mm)} disagrees with shoe_size "
                    f"{self.shoe_size.system} {_show(self.shoe_size.size)} (about {implied:.0f} mm), "
                    "foot_length_mm is used"
                )
        return out

    def as_applied(self) -> dict:
        """Every key with defaults filled in, JSON-serialisable (for reports)."""
        return self.model_dump(mode="json")


# ---------------------------------------------------------------------------------------------
# JSON schema


def json_schema() -> dict:
    """The prescription's JSON schema (draft 2020-12), as committed in templates/prescription.schema.json."""
    schema = Prescription.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def json_schema_text() -> str:
    """The schema file's exact text."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write the JSON schema (default: the repository's templates/prescription.schema.json)."""
    path = Path(path)
    path.write_text(json_schema_text(), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Reading files


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML would silently keep the last one) and aliases.

    A prescription never needs ``&anchor``/``*alias``; refusing them stops "billion laughs" files
    that would expand to gigabytes.
    """

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a prescription", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                marker = (type(key), key)  # 1 and true are different keys
                duplicate = marker in seen
                seen.add(marker)
            except TypeError:
                continue  # unhashable key: the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"YAML syntax error: {problem}"


def _toml_problem(exc: tomllib.TOMLDecodeError) -> str:
    text = str(exc)
    match = re.fullmatch(r"(.*?)\s*\(at line (\d+), column (\d+)\)", text)
    if match:
        return f"TOML syntax error at line {match.group(2)}, column {match.group(3)}: {match.group(1)}"
    match = re.fullmatch(r"(.*?)\s*\(at end of document\)", text)
    if match:
        return f"TOML syntax error at the end of the file: {match.group(1)}"
    return f"TOML syntax error: {text}"


def read_prescription_file(path: str | Path) -> dict:
    """The raw mapping of a YAML (.yaml/.yml), TOML (.toml) or JSON (.json) prescription file.

    An empty YAML file is an empty mapping.  Raises PrescriptionError (naming the file) when the file
    is missing, unreadable, has a syntax error (with its line number) or is not a mapping.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise PrescriptionError(f"unsupported file type '{path.suffix}' (use .yaml, .yml or .toml)", path)
    if not path.exists():
        raise PrescriptionError("file not found", path)
    if path.is_dir():
        raise PrescriptionError("is a folder, not a prescription file", path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise PrescriptionError(f"cannot read the file ({exc.strerror or exc})", path) from None
    except UnicodeDecodeError:
        raise PrescriptionError("is not a UTF-8 text file", path) from None
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text) if text.strip() else None
        else:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PrescriptionError(_yaml_problem(exc), path) from None
    except tomllib.TOMLDecodeError as exc:
        raise PrescriptionError(_toml_problem(exc), path) from None
    except json.JSONDecodeError as exc:
        raise PrescriptionError(
            f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}", path
        ) from None
    except RecursionError:
        raise PrescriptionError("is nested too deeply to be a prescription", path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PrescriptionError(
            f"a prescription must be a mapping of keys to values (key: value lines), not a {_kind(data)}",
            path,
        )
    return data


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "single text value"
    if isinstance(value, (int, float)):
        return "single number"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------
# --set overrides


def _parse_override_value(keys: tuple[str, ...], raw: str) -> Any:
    text = raw.strip()
    if text in ("", "null", "Null", "NULL", "~"):
        return None
    if keys in TEXT_KEYS:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # reported by validation as "... is not a number" etc.


def parse_overrides(overrides: Iterable[str]) -> tuple[list[tuple[tuple[str, ...], Any]], list[str]]:
    """Split ``--set key=value`` strings into ``((key, sub_key...), value)`` pairs plus problems."""
    items: list[tuple[tuple[str, ...], Any]] = []
    problems: list[str] = []
    for item in overrides:
        if "=" not in item:
            problems.append(f"{item!r} is not key=value (e.g. heel_lift_mm=4 or met_pad.height_mm=6)")
            continue
        key, raw = item.split("=", 1)
        keys = tuple(part.strip() for part in key.strip().split("."))
        if not all(keys):
            problems.append(f"{item!r} has an empty key")
            continue
        if len(keys) > 1:
            parent_model: type[_Part] = Prescription
            bad = None
            for depth, part in enumerate(keys[:-1]):
                field = parent_model.model_fields.get(part)
                if field is None:
                    break  # unknown: validation reports it with a suggestion
                nested = NESTED_MODELS.get(part) if parent_model is Prescription else None
                if nested is None:
                    bad = ".".join(keys[: depth + 1])
                    break
                parent_model = nested
            if bad is not None:
                problems.append(f"'{'.'.join(keys)}': {bad} is a single value, it has no sub-keys")
                continue
        items.append((keys, _parse_override_value(keys, raw)))
    return items, problems


# ---------------------------------------------------------------------------------------------
# Layering with provenance


def _drop_origins(origins: dict[tuple, str], prefix: tuple) -> None:
    for key in [k for k in origins if k[: len(prefix)] == prefix]:
        del origins[key]


def _mark_origins(origins: dict[tuple, str], prefix: tuple, value: Any, source: str) -> None:
    origins[prefix] = source
    if isinstance(value, dict):
        for key, sub in value.items():
            _mark_origins(origins, (*prefix, key), sub, source)


def _merge(dst: dict, src: Mapping, source: str, origins: dict[tuple, str], prefix: tuple = ()) -> None:
    """Deep-merge ``src`` into ``dst``: mappings merge key by key, anything else replaces."""
    for key, value in src.items():
        path = (*prefix, key)
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            origins[path] = source
            _merge(dst[key], value, source, origins, path)
        else:
            _drop_origins(origins, path)
            dst[key] = copy.deepcopy(value)
            _mark_origins(origins, path, value, source)


def _set_override(dst: dict, keys: tuple[str, ...], value: Any, origins: dict[tuple, str]) -> None:
    node = dst
    for depth, key in enumerate(keys[:-1]):
        if not isinstance(node.get(key), dict):
            node[key] = {}  # an accommodation that is not present is created with defaults
        origins[keys[: depth + 1]] = OVERRIDE_SOURCE
        node = node[key]
    _drop_origins(origins, keys)
    node[keys[-1]] = value
    _mark_origins(origins, keys, value, OVERRIDE_SOURCE)


# ---------------------------------------------------------------------------------------------
# Error translation (pydantic -> one-line, clinician-readable)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _model_at(loc: tuple) -> type[_Part] | None:
    model: type[_Part] = Prescription
    for part in loc:
        if model is not Prescription or part not in NESTED_MODELS:
            return None
        model = NESTED_MODELS[part]
    return model


def _field_at(loc: tuple) -> Any:
    model = _model_at(loc[:-1])
    if model is None or not loc:
        return None
    return model.model_fields.get(loc[-1])


def _all_keys() -> list[str]:
    keys = list(Prescription.model_fields)
    for name, model in NESTED_MODELS.items():
        keys.extend(f"{name}.{sub}" for sub in model.model_fields)
    return keys


def _unknown_key_problem(loc: tuple) -> str:
    dotted = ".".join(str(p) for p in loc)
    key = str(loc[-1])
    parent = loc[:-1]
    model = _model_at(parent)
    suggestions: list[str] = []
    if model is not None:
        close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
        suggestions = [".".join((*map(str, parent), c)) for c in close]
        if not parent:
            # a nested key written at the top level ("height_mm" for "met_pad.height_mm")
            nested = [k for k in _all_keys() if "." in k]
            exact = [k for k in nested if k.split(".", 1)[1] == key]
            if exact:
                suggestions = (exact + suggestions)[:3]
            elif not suggestions:
                leaves = sorted({k.split(".", 1)[1] for k in nested})
                close_leaf = difflib.get_close_matches(key, leaves, n=1, cutoff=0.6)
                suggestions = [k for k in nested if k.split(".", 1)[1] in close_leaf][:3]
    if suggestions:
        return f"unknown key '{dotted}' (did you mean {' or '.join(repr(s) for s in suggestions)}?)"
    return f"unknown key '{dotted}'"


def _range_of(field: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for item in field.metadata:
        lo = getattr(item, "ge", lo)
        hi = getattr(item, "le", hi)
    return lo, hi


def _range_problem(loc: tuple, key: str, value: Any) -> str:
    field = _field_at(loc)
    if field is None:
        return f"{key} = {_show(value)} is out of range"
    lo, hi = _range_of(field)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    unit = extra.get("unit", "")
    allowed = f"allowed {lo:g} to {hi:g}{' ' + unit if unit else ''}"
    if type(None) in get_args(field.annotation):
        allowed += ", or null"
    return f"{key} = {_show(value)} is out of range ({allowed})"


def _translate(err: dict) -> list[tuple[tuple[tuple, ...], str]]:
    """One pydantic error -> [(locations involved, message)]."""
    loc = tuple(err["loc"])
    kind = err["type"]
    key = ".".join(str(p) for p in loc)
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), _CrossFieldError):
        return [
            (tuple(tuple(k.split(".")) for k in keys), message) for keys, message in ctx["error"].problems
        ]
    if kind == "extra_forbidden":
        message = _unknown_key_problem(loc)
    elif kind == "invalid_key":
        message = f"key {_show(loc[-1])} is not a name"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        message = _range_problem(loc, key, value)
    elif kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        message = f"{key} = {_show(value)} is not a number"
    elif kind == "finite_number":
        message = f"{key} = {_show(value)} is not a finite number"
    elif kind in ("bool_type", "bool_parsing"):
        message = f"{key} = {_show(value)} is not true or false"
    elif kind == "string_type":
        message = f"{key} = {_show(value)} is not text"
    elif kind == "literal_error":
        field = _field_at(loc)
        choices = _literal_choices(field.annotation) if field is not None else ()
        allowed = ", ".join(choices) if choices else ctx.get("expected", "")
        message = f"{key} = {_show(value)} is not allowed (allowed: {allowed})"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        model = _model_at(loc)
        keys = ", ".join(model.model_fields) if model is not None else ""
        message = f"{key} = {_show(value)} must be a mapping (keys {keys}) or null"
    elif kind == "missing":
        message = f"missing key '{key}'"
    elif kind in ("string_pattern_mismatch", "string_too_long", "string_too_short") and loc == ("label",):
        message = (
            f"label = {_show(value)} must be 1 to {LABEL_MAX_CHARS} characters of {LABEL_CHARS_TEXT}"
        )
    elif kind == "value_error":
        message = str(ctx.get("error", err.get("msg", "")))
    else:
        message = f"{key}: {' '.join(str(err.get('msg', kind)).split())}"
    return [((loc,), message)]


# ---------------------------------------------------------------------------------------------
# Loading


def _origin(locs: tuple[tuple, ...], origins: dict[tuple, str], rank: dict[str, int], fallback: str) -> str:
    """Where a problem came from: the most recent layer that set any of the keys involved."""
    found: list[str] = []
    for loc in locs:
        for n in range(len(loc), 0, -1):
            source = origins.get(tuple(loc[:n]))
            if source is not None:
                found.append(source)
                break
    if not found:
        return fallback
    return max(found, key=lambda s: rank.get(s, -1))


def _raise_problems(problems: list[tuple[str, str]], main_source: str) -> None:
    unique: list[tuple[str, str]] = []
    seen: set[str] = set()
    for source, message in problems:
        if message not in seen:
            seen.add(message)
            unique.append((source, message))
    sources = {source for source, _ in unique}
    if len(sources) == 1:
        raise PrescriptionError("; ".join(m for _, m in unique), sources.pop())
    raise PrescriptionError(
        "; ".join(m if s == main_source else f"{s}: {m}" for s, m in unique), main_source
    )


def validate_prescription(
    data: Mapping[str, Any],
    source: str | Path | None = None,
    templates_dir: str | Path | None = None,
) -> Prescription:
    """Validate one raw mapping (no template layering); problems raise one PrescriptionError."""
    directory = templates_io.templates_dir() if templates_dir is None else Path(templates_dir)
    try:
        return Prescription.model_validate(dict(data), context={"templates_dir": directory})
    except ValidationError as exc:
        messages = [m for err in exc.errors() for _, m in _translate(err)]
        raise PrescriptionError("; ".join(dict.fromkeys(messages)), source) from None


def load_prescription(
    path: str | Path | None = None,
    overrides: Iterable[str] = (),
    templates_dir: str | Path | None = None,
) -> Prescription:
    """Load a prescription: built-in defaults < template defaults < file ``path`` < ``--set`` overrides.

    ``path`` is a .yaml/.yml/.toml file or None (defaults only).  ``overrides`` are ``key=value``
    strings; dotted keys reach nested objects (``met_pad.height_mm=6``) and create an absent
    accommodation with its defaults.  ``templates_dir`` defaults to ``templates_io.templates_dir()``.
    All problems raise one PrescriptionError naming the file (or "--set").
    """
    directory = templates_io.templates_dir() if templates_dir is None else Path(templates_dir)
    file_source = None if path is None else str(path)
    main_source = file_source or OVERRIDE_SOURCE
    problems: list[tuple[str, str]] = []

    file_data = {} if path is None else read_prescription_file(path)
    if isinstance(overrides, str):
        overrides = [overrides]
    items, override_problems = parse_overrides(list(overrides))
    problems.extend((OVERRIDE_SOURCE, message) for message in override_problems)

    # which template: an override beats the file, the file beats the built-in default
    template_name: Any = Prescription.model_fields["template"].default
    template_source = str(directory)
    if "template" in file_data:
        template_name, template_source = file_data["template"], main_source
    for keys, value in items:
        if keys == ("template",):
            template_name, template_source = value, OVERRIDE_SOURCE
    template_defaults: dict = {}
    template_file = "template"
    if isinstance(template_name, str):
        try:
            template_defaults = templates_io.load_template(template_name, directory)["defaults"]
            template_file = str(templates_io.template_path(template_name, directory))
        except PrescriptionError as exc:
            problems.append((exc.path or template_source, exc.problem))

    merged: dict = {}
    origins: dict[tuple, str] = {}
    _merge(merged, template_defaults, template_file, origins)
    if file_source is not None:
        _merge(merged, file_data, file_source, origins)
    for keys, value in items:
        _set_override(merged, keys, value, origins)

    rank = {template_file: 0, OVERRIDE_SOURCE: 2}
    if file_source is not None:
        rank[file_source] = 1
    try:
        prescription = Prescription.model_validate(merged, context={"templates_dir": directory})
    except ValidationError as exc:
        for err in exc.errors():
            for locs, message in _translate(err):
                problems.append((_origin(locs, origins, rank, main_source), message))
        prescription = None
    if problems:
        _raise_problems(problems, main_source)
    assert prescription is not None
    return prescription
