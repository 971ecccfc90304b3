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

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orthogen.rx import rules
from orthogen.rx import templates as templates_io
from orthogen.rx.limits import (
    BALANCE_INVERSION_RANGE_DEG,
    FOOT_LENGTH_RANGE_MM,
    INFILL_RANGE_PCT,
    LABEL_CHARS_TEXT,
    LABEL_MAX_CHARS,
    LABEL_PATTERN,
    SCHEMA_PATH,
    SHOE_DROP_RANGE_MM,
    SHOE_SIZE_SYSTEMS,
    Construction,
    HeelLiftSide,
    Material,
    ScanKind,
    ShellLength,
    ShoeSystem,
    Side,
    StiffnessLevel,
    Units,
)
from orthogen.rx.shoe_size import _shoe_length_mm, shoe_size_to_foot_length_mm
from orthogen.rx.text import normalise_choice as _normalise_choice
from orthogen.rx.text import show as _show

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
        8.0,
        0,
        30,
        "mm",
        "Met pad offset",
        "Distance from the metatarsal-head line back (proximal) to the pad's distal edge.",
    )


class MetBar(_Part):
    """Metatarsal bar: a transverse ridge across all metatarsal shafts just proximal of the heads."""

    height_mm: float = _rng(4.0, 2, 8, "mm", "Met bar height", "Bar height above the shell's top surface.")
    length_mm: float = _rng(20.0, 10, 40, "mm", "Met bar length", "Bar length along the foot (x).")
    offset_mm: float = _rng(
        8.0,
        0,
        30,
        "mm",
        "Met bar offset",
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
        0.0,
        -20,
        20,
        "mm",
        "Heel spur pocket offset",
        "Position of the pocket centre along the foot from the heel centre; "
        "positive = toward the toes (distal).",
    )
    medial_offset_mm: float = _rng(
        0.0,
        -20,
        20,
        "mm",
        "Heel spur pocket medial offset",
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


def _level_field(default: str, zone: str, where: str) -> Any:
    lo, hi = INFILL_RANGE_PCT
    return Field(
        default,
        title=f"{zone} stiffness",
        description=(
            f"Stiffness of the {where}: firm, medium or soft (the material's slicer settings, README table), "
            f"or an explicit infill percentage from {lo:g} to {hi:g}. Default {default}."
        ),
    )


class Stiffness(_Part):
    """Stiffness per device zone, printed as slicer modifier volumes placed from the foot's landmarks."""

    rearfoot: StiffnessLevel | Annotated[float, Field(ge=INFILL_RANGE_PCT[0], le=INFILL_RANGE_PCT[1])] = (
        _level_field("firm", "Rearfoot", "rearfoot around the heel cushion, back edge to the heel seat's end")
    )
    heel_cushion: StiffnessLevel | Annotated[float, Field(ge=INFILL_RANGE_PCT[0], le=INFILL_RANGE_PCT[1])] = (
        _level_field("medium", "Heel cushion", "heel strike zone under the heel centre")
    )
    arch: StiffnessLevel | Annotated[float, Field(ge=INFILL_RANGE_PCT[0], le=INFILL_RANGE_PCT[1])] = (
        _level_field("firm", "Arch", "midfoot from the heel seat's end to behind the met heads")
    )
    forefoot: StiffnessLevel | Annotated[float, Field(ge=INFILL_RANGE_PCT[0], le=INFILL_RANGE_PCT[1])] = (
        _level_field("medium", "Forefoot", "forefoot from just behind the met-head line to the toes")
    )
    posts: StiffnessLevel | Annotated[float, Field(ge=INFILL_RANGE_PCT[0], le=INFILL_RANGE_PCT[1])] = (
        _level_field("firm", "Posts", "extrinsic rearfoot post under a shell's heel (none on full contact)")
    )

    @field_validator("*", mode="before")
    @classmethod
    def _level(cls, value: Any, info: ValidationInfo) -> Any:
        # "Soft" -> "soft", "20%" -> 20.0; anything else is one clear line
        lo, hi = INFILL_RANGE_PCT
        number: Any = value
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("firm", "medium", "soft"):
                return text
            try:
                number = float(text.removesuffix("%").strip())
            except ValueError:
                number = None
        allowed = f"firm, medium, soft, or an infill % from {lo:g} to {hi:g}"
        key = f"stiffness.{info.field_name} = {_show(value)}"
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError(f"{key} is not a stiffness ({allowed})")
        if not lo <= number <= hi:
            raise ValueError(f"{key} is out of range ({allowed})")
        return float(number)


#: The nested objects of a prescription, by key.
NESTED_MODELS: dict[str, type[_Part]] = {
    "shoe_size": ShoeSize,
    "met_pad": MetPad,
    "met_bar": MetBar,
    "first_mpj_cutout": FirstMpjCutout,
    "heel_spur_pocket": HeelSpurPocket,
    "mortons_extension": MortonsExtension,
    "stiffness": Stiffness,
}
ACCOMMODATIONS = ("met_pad", "met_bar", "first_mpj_cutout", "heel_spur_pocket", "mortons_extension")
#: Keys whose --set value is taken as raw text (not parsed as YAML).
TEXT_KEYS = {
    ("template",),
    ("side",),
    ("units",),
    ("scan_kind",),
    ("length",),
    ("label",),
    ("shoe_size", "system"),
    ("construction",),
    ("heel_lift_side",),
    ("material",),
}


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
        description="Which foot: left, right, or auto (detect from the scan). Default auto.",
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
        None,
        *FOOT_LENGTH_RANGE_MM,
        "mm",
        "Foot length",
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
    construction: Construction = Field(
        "full_contact",
        title="Construction",
        description=(
            "How the device is built: full_contact (filled under the arch to the footbed; TPU, EVA) or shell "
            "(a uniform shell following the balanced foot, hollow underneath, standing on an extrinsic "
            "rearfoot post and the forefoot edge; PP, PA12). Templates set a default. Default full_contact."
        ),
    )
    balance_inversion_deg: float = _rng(
        0.0,
        *BALANCE_INVERSION_RANGE_DEG,
        "deg",
        "Balancing inversion",
        "The foot is balanced with the heel bisection vertical (0) or turned varus by this much before the "
        "device is shaped (Blake inverted technique; above about 9 deg labs add arch fill).",
    )
    shoe_drop_mm: float = _rng(
        0.0,
        *SHOE_DROP_RANGE_MM,
        "mm",
        "Shoe heel-to-ball drop",
        "Heel-to-ball drop of the shoe's footbed; the device's underside follows it (0 = flat footbed).",
    )
    shell_thickness_mm: float = _rng(
        3.0,
        1.5,
        8,
        "mm",
        "Shell thickness",
        "Thickness of the shell; thicker is stiffer, so grow it with body weight "
        "(printed PP usually 2 to 5 mm).",
    )
    top_cover_mm: float = _rng(
        0.0,
        0,
        6,
        "mm",
        "Top cover thickness",
        "Cushioning top cover modelled on the shell (usually 1 to 3 mm EVA); 0 = none.",
    )
    heel_cup_depth_mm: float = _rng(
        12.0,
        0,
        30,
        "mm",
        "Heel cup depth",
        "Height of the heel cup's posterior edge above the weight-bearing plane (12 men, 10 women, 14 sport "
        "or with a medial heel skive, 8 to 10 dress).",
    )
    arch_height_mm: float | None = _rng(
        None,
        0,
        40,
        "mm",
        "Arch height",
        "Target height of the device's medial arch top surface above the weight-bearing plane; "
        "null = follow the scan.",
    )
    arch_fill_mm: float = _rng(
        0.0,
        0,
        10,
        "mm",
        "Arch fill",
        "How far the arch contour is lowered below the scanned arch (labs: 0 none, 1.6 minimal, "
        "3.2 standard, 6.4 maximum); less fill = a higher, more controlling arch.",
    )

    # --- posting and control -------------------------------------------------------------------
    rearfoot_post_deg: float = _rng(
        0.0,
        -10,
        10,
        "deg",
        "Rearfoot post",
        "Frontal-plane angle of the heel seat against the floor, whatever the capture's tilt: positive = "
        "varus (medial side raised), negative = valgus (lateral side raised), 0 = level. Made by an "
        "extrinsic post under the heel (shell) or in the device's underside (full contact). Usual 0 to 4, "
        "at most 8.",
    )
    forefoot_post_deg: float | Literal["auto"] = Field(
        0.0,
        title="Forefoot post (deg)",
        description=(
            "Frontal-plane angle of the forefoot under the met heads against the floor in the balanced "
            "position (on top of balance_inversion_deg; the rearfoot post acts under the heel only): "
            "positive = varus (medial raised), negative = valgus (lateral raised); auto = the foot's own "
            "forefoot-to-rearfoot angle measured on the scan (balanced to the deformity). Range -10 to 10 "
            "deg, or auto; default 0."
        ),
        json_schema_extra={"unit": "deg"},
    )
    medial_heel_skive_mm: float = _rng(
        0.0,
        0,
        8,
        "mm",
        "Medial heel skive",
        "Depth of a medial heel (Kirby) skive, usually 2 to 6 mm; needs heel_cup_depth_mm of at least 14 "
        "and is normally paired with a rearfoot post. 0 = none.",
    )
    heel_lift_mm: float = _rng(
        0.0,
        0,
        12,
        "mm",
        "Heel lift",
        "Heel raise for a leg-length difference on this foot (start with 60 to 70 % of the measured "
        "difference); above 6 mm does not fit an in-shoe device well and gives a warning.",
    )
    heel_lift_side: HeelLiftSide = Field(
        "both",
        title="Heel lift side",
        description=(
            "Which foot gets heel_lift_mm: both, or only left or right (the short leg, for a leg-length "
            "difference). Default both."
        ),
    )
    medial_flange_mm: float = _rng(
        0.0,
        0,
        25,
        "mm",
        "Medial flange",
        "Extra wall height along the medial midfoot, for more pronation control.",
    )
    lateral_flange_mm: float = _rng(
        0.0,
        0,
        25,
        "mm",
        "Lateral flange",
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

    # --- print production ------------------------------------------------------------------
    material: Material = Field(
        "tpu_95a",
        title="Material",
        description=(
            "What the device is printed in: tpu_95a or tpu_85a (flexible TPU, FDM), pp (polypropylene, FDM; "
            "rigid shells) or pa12 (nylon 12 by powder-bed fusion, SLS/MJF: printed solid, no infill zones). "
            "Default tpu_95a."
        ),
    )
    stiffness: Stiffness = Field(
        default_factory=Stiffness,
        title="Stiffness by zone",
        description=(
            "Stiffness of each device zone (rearfoot, heel_cushion, arch, forefoot, posts): firm, medium, "
            "soft or an infill %, written into the 3MF as slicer modifier volumes placed from the foot's "
            "landmarks. Templates set condition-sensible values."
        ),
    )

    mirror: bool = Field(
        False,
        title="Mirrored device",
        description=(
            "true = make the device for the other foot (named by side) from this scan, mirrored: for a "
            "missing or unscannable foot. Without it a side that contradicts the scan is refused. Default "
            "false."
        ),
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

    @field_validator("forefoot_post_deg", mode="before")
    @classmethod
    def _forefoot_auto(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return value

    @field_validator("forefoot_post_deg")
    @classmethod
    def _forefoot_range(cls, value: Any) -> Any:
        if not isinstance(value, str) and not -10.0 <= value <= 10.0:
            raise ValueError(
                f"forefoot_post_deg = {_show(value)} is out of range (allowed -10 to 10 deg, or auto)"
            )
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
        problems = rules.refusals(self)
        if problems:
            raise rules.CrossFieldError(problems)
        return self

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
        """Valid but questionable choices, one line each (report and CLI); see ``rules.WARNED``."""
        return rules.warnings(self)

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
