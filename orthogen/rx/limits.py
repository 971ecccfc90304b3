"""Clinical limits and vocabulary of a prescription, named once (values from ../shared/DOMAIN.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
#: The short shell's cut lies this much further behind (a margin) and is skived: it tapers to its end
#: over this length (mm). A pad or bar on a short shell must end behind the skive, or the skive would
#: pare its front away: its distal edge at least SHORT_SHELL_PAD_CLEAR_MM behind the met heads.
SHORT_SHELL_END_MARGIN_MM = 1.0
SHORT_SHELL_SKIVE_MM = 12.0
SHORT_SHELL_PAD_CLEAR_MM = SHORT_SHELL_END_MM + SHORT_SHELL_END_MARGIN_MM + SHORT_SHELL_SKIVE_MM
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


Side = Literal["auto", "left", "right"]
Units = Literal["auto", "mm", "cm", "m"]
ScanKind = Literal["auto", "full_foot", "plantar_shell", "impression"]
ShellLength = Literal["full", "sulcus", "metatarsal", "three_quarter"]
ShoeSystem = Literal["EU", "US_men", "US_women", "UK", "mondopoint"]

#: Balancing inversion (Blake inverted technique, heel bisection turned varus), deg.
BALANCE_INVERSION_RANGE_DEG = (0.0, 25.0)
#: A shoe's heel-to-ball drop that the device's underside follows, mm (0 = flat footbed).
SHOE_DROP_RANGE_MM = (0.0, 40.0)

Construction = Literal["full_contact", "shell"]
HeelLiftSide = Literal["both", "left", "right"]

#: Print materials: TPU 95A / 85A and PP (FDM, sliced), PA12 (powder-bed fusion: SLS / MJF).
Material = Literal["tpu_95a", "tpu_85a", "pp", "pa12"]
#: Named stiffness levels of a device zone; a number instead is an explicit infill percentage.
StiffnessLevel = Literal["firm", "medium", "soft"]
STIFFNESS_LEVELS = ("firm", "medium", "soft")
INFILL_RANGE_PCT = (5.0, 100.0)
#: The device zones whose stiffness is prescribed (see orthogen/device/zones.py).
STIFFNESS_ZONES = ("rearfoot", "heel_cushion", "arch", "forefoot", "posts")
