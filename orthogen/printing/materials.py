"""Materials and stiffness levels as slicer settings, every figure with its source.

A prescription names a ``material`` and a stiffness per device zone (``firm``, ``medium``, ``soft`` or an
infill %). Here each material's level becomes the settings a slicer applies to that zone's modifier
volume (infill density and pattern, perimeters, top and bottom solid layers), and each material gives
the print settings of the whole plate (layer height, temperatures, volumetric speed, density, price).

``python -m orthogen.printing.materials --table`` prints the README table.

Sources (keys used in :data:`SOURCES`):

* ``ps_default``: PrusaSlicer 2.5 built-in defaults (``prusa-slicer --save``): fill_density 20 %,
  perimeters 3, top_solid_layers 3, bottom_solid_layers 3. The slicer's default a lab gets without a
  profile, and the level of today's uniform device.
* ``ps_profile``: PrusaSlicer 2.5 vendor profile ``resources/profiles/PrusaResearch.ini``, print
  ``0.20mm QUALITY @MK3``: gyroid 15 %, perimeters 2, 6 top / 4 bottom layers, speeds; filament and
  printer sections as named per material.
* ``holmes2022``: Holmes DW et al. Mechanical behaviour of flexible 3D printed gyroid structures as a
  tuneable replacement for soft padding foam. Additive Manufacturing 2022;50:102555 (TPU gyroid
  stiffness rises steeply with density: halving or doubling the density gives distinctly softer or
  firmer padding).
* ``simi2024``: Simi F et al. An algorithm for coding an additive manufacturing file from the pressure
  distribution of a baropodometric board for 3D printing customised orthopaedic insoles. Computation
  2024;12(9):184 (an FDM insole printed with zone-wise infill percentages as its stiffness).
* ``orthogen``: orthogen's starting point, chosen between the figures above; the clinician can give any
  infill % instead.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from orthogen.errors import OrthogenError

SOURCES = {
    "ps_default": "PrusaSlicer 2.5 built-in defaults (prusa-slicer --save)",
    "ps_profile": "PrusaSlicer 2.5 PrusaResearch.ini vendor profile",
    "holmes2022": "Holmes et al., Additive Manufacturing 2022;50:102555 (gyroid TPU padding)",
    "simi2024": "Simi et al., Computation 2024;12(9):184 (zone-wise infill insoles)",
    "orthogen": "orthogen starting point (a clinician may give any infill %)",
}


@dataclass(frozen=True)
class Level:
    """Slicer settings of one stiffness level (one zone's modifier volume)."""

    infill_pct: float
    pattern: str  # PrusaSlicer / Orca name
    perimeters: int
    top_layers: int
    bottom_layers: int

    def prusa(self) -> dict[str, str]:
        """The settings as PrusaSlicer region keys (``Metadata/Slic3r_PE_model.config``)."""
        return {
            "fill_density": f"{self.infill_pct:g}%",
            "fill_pattern": self.pattern,
            "perimeters": str(self.perimeters),
            "top_solid_layers": str(self.top_layers),
            "bottom_solid_layers": str(self.bottom_layers),
        }

    def orca(self) -> dict[str, str]:
        """The same settings under Orca Slicer / Bambu Studio names (``Metadata/model_settings.config``)."""
        return {
            "sparse_infill_density": f"{self.infill_pct:g}%",
            "sparse_infill_pattern": self.pattern,
            "wall_loops": str(self.perimeters),
            "top_shell_layers": str(self.top_layers),
            "bottom_shell_layers": str(self.bottom_layers),
        }

    def text(self) -> str:
        return (
            f"{self.infill_pct:g} % {self.pattern}, {self.perimeters} perimeters, "
            f"{self.top_layers} top / {self.bottom_layers} bottom layers"
        )


#: TPU levels: medium is the slicer's default density (ps_default) in the vendor profile's pattern and
#: perimeters (ps_profile); soft halves it and firm doubles it (holmes2022, simi2024, orthogen).
TPU_LEVELS = {
    "soft": Level(10, "gyroid", 2, 3, 3),
    "medium": Level(20, "gyroid", 2, 4, 3),
    "firm": Level(40, "gyroid", 3, 5, 4),
}
#: Source of each figure of the TPU table: (infill, pattern, perimeters, top, bottom).
TPU_LEVEL_SOURCES = {
    "soft": ("orthogen, holmes2022", "ps_profile, holmes2022", "ps_profile", "ps_default", "ps_default"),
    "medium": ("ps_default", "ps_profile, holmes2022", "ps_profile", "orthogen", "ps_default"),
    "firm": (
        "orthogen, holmes2022, simi2024",
        "ps_profile, holmes2022",
        "ps_default",
        "orthogen",
        "ps_profile",
    ),
}
#: PP (rigid shells): a stiffer material needs less infill for the same zone; perimeters carry a thin shell.
PP_LEVELS = {
    "soft": Level(15, "gyroid", 2, 4, 3),
    "medium": Level(25, "gyroid", 3, 5, 4),
    "firm": Level(50, "gyroid", 4, 6, 4),
}
PP_LEVEL_SOURCES = {
    "soft": ("ps_profile", "ps_profile", "ps_profile", "orthogen", "ps_default"),
    "medium": ("orthogen", "ps_profile", "ps_default", "orthogen", "ps_profile"),
    "firm": ("orthogen", "ps_profile", "orthogen", "ps_profile", "ps_profile"),
}


@dataclass(frozen=True)
class Material:
    """A print material: its process, reference product and the plate's print settings.

    ``levels`` is empty for powder-bed fusion (printed solid; zones do not change it).
    """

    name: str
    title: str
    process: str  # "fff" (sliced by PrusaSlicer) or "sls" (powder-bed fusion)
    reference: str  # the product whose vendor-profile figures are used
    density_g_cm3: float
    price_per_kg: float
    price_source: str
    filament_type: str = ""
    temperature_c: int = 0
    first_layer_temperature_c: int = 0
    bed_c: int = 0
    first_layer_bed_c: int = 0
    max_volumetric_speed_mm3_s: float = 0.0
    retract_mm: float = 0.8
    fan_min_pct: int = 0
    fan_max_pct: int = 0
    layer_height_mm: float = 0.2
    levels: dict[str, Level] = field(default_factory=dict)
    level_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def level(self, value: str | float) -> Level | None:
        """The slicer settings of a stiffness (a level name or an infill %); None for powder-bed fusion.

        An explicit infill % keeps the medium level's pattern, perimeters and solid layers.
        """
        if not self.levels:
            return None
        if isinstance(value, str):
            return self.levels[value]
        m = self.levels["medium"]
        return Level(float(value), m.pattern, m.perimeters, m.top_layers, m.bottom_layers)

    def filament_config(self) -> dict[str, str]:
        """The material's PrusaSlicer filament settings (``Metadata/Slic3r_PE.config``)."""
        return {
            "filament_type": self.filament_type,
            "filament_density": f"{self.density_g_cm3:g}",
            "filament_cost": f"{self.price_per_kg:g}",
            "filament_diameter": "1.75",
            "temperature": str(self.temperature_c),
            "first_layer_temperature": str(self.first_layer_temperature_c),
            "bed_temperature": str(self.bed_c),
            "first_layer_bed_temperature": str(self.first_layer_bed_c),
            "filament_max_volumetric_speed": f"{self.max_volumetric_speed_mm3_s:g}",
            "retract_length": f"{self.retract_mm:g}",
            "min_fan_speed": str(self.fan_min_pct),
            "max_fan_speed": str(self.fan_max_pct),
            "cooling": "1" if self.fan_max_pct else "0",
        }


MATERIALS: dict[str, Material] = {
    "tpu_95a": Material(
        "tpu_95a",
        "TPU 95A",
        "fff",
        "BASF Ultrafuse TPU 95A (PrusaResearch.ini; flex base *FLEX*)",
        density_g_cm3=1.14,
        price_per_kg=82.0,
        price_source="PrusaResearch.ini Generic FLEX filament_cost",
        filament_type="FLEX",
        temperature_c=225,
        first_layer_temperature_c=230,
        bed_c=40,
        first_layer_bed_c=40,
        max_volumetric_speed_mm3_s=1.5,
        retract_mm=0.8,
        fan_min_pct=20,
        fan_max_pct=100,
        levels=TPU_LEVELS,
        level_sources=TPU_LEVEL_SOURCES,
    ),
    "tpu_85a": Material(
        "tpu_85a",
        "TPU 85A",
        "fff",
        "BASF Ultrafuse TPU 85A (PrusaResearch.ini; flex base *FLEX*)",
        density_g_cm3=1.11,
        price_per_kg=82.0,
        price_source="PrusaResearch.ini Generic FLEX filament_cost",
        filament_type="FLEX",
        temperature_c=220,
        first_layer_temperature_c=225,
        bed_c=40,
        first_layer_bed_c=40,
        max_volumetric_speed_mm3_s=1.5,
        retract_mm=0.8,
        fan_min_pct=20,
        fan_max_pct=100,
        levels=TPU_LEVELS,
        level_sources=TPU_LEVEL_SOURCES,
    ),
    "pp": Material(
        "pp",
        "PP (polypropylene)",
        "fff",
        "Verbatim PP (PrusaResearch.ini)",
        density_g_cm3=0.89,
        price_per_kg=72.0,
        price_source="PrusaResearch.ini Verbatim PP filament_cost",
        filament_type="PP",
        temperature_c=220,
        first_layer_temperature_c=220,
        bed_c=100,
        first_layer_bed_c=100,
        max_volumetric_speed_mm3_s=5.0,
        retract_mm=0.8,
        fan_min_pct=100,
        fan_max_pct=100,
        levels=PP_LEVELS,
        level_sources=PP_LEVEL_SOURCES,
    ),
    "pa12": Material(
        "pa12",
        "PA12 (SLS / MJF)",
        "sls",
        "laser-sintered PA12 (EOS PA 2200 datasheet: part density 0.93)",
        density_g_cm3=0.93,
        price_per_kg=60.0,
        price_source="orthogen assumption for PA12 powder (set --material-price)",
    ),
}

#: Layer height and nozzle every FDM plate is printed with (ps_profile 0.20mm QUALITY, 0.4 mm nozzle).
LAYER_HEIGHT_MM = 0.2
NOZZLE_MM = 0.4
#: Print speeds and the rest of the process, from ps_profile ``0.20mm QUALITY @MK3``.
PROCESS = {
    "layer_height": "0.2",
    "first_layer_height": "0.2",
    "perimeter_speed": "45",
    "external_perimeter_speed": "25",
    "small_perimeter_speed": "25",
    "infill_speed": "80",
    "solid_infill_speed": "80",
    "top_solid_infill_speed": "40",
    "bridge_speed": "25",
    "gap_fill_speed": "40",
    "first_layer_speed": "20",
    "travel_speed": "180",
    "max_print_speed": "200",
    "default_acceleration": "1000",
    "perimeter_acceleration": "800",
    "infill_acceleration": "1000",
    "bridge_acceleration": "1000",
    "first_layer_acceleration": "800",
    "extrusion_width": "0.45",
    "perimeter_extrusion_width": "0.45",
    "external_perimeter_extrusion_width": "0.45",
    "infill_extrusion_width": "0.45",
    "solid_infill_extrusion_width": "0.45",
    "top_infill_extrusion_width": "0.4",
    "first_layer_extrusion_width": "0.42",
    "ensure_vertical_shell_thickness": "1",
    "top_solid_min_thickness": "0.7",
    "bottom_solid_min_thickness": "0.5",
    "infill_anchor": "2.5",
    "infill_anchor_max": "12",
    "elefant_foot_compensation": "0.2",
    "skirts": "1",
    "skirt_distance": "2",
    "skirt_height": "3",
    "seam_position": "aligned",
    "gcode_label_objects": "1",
    "gcode_comments": "0",
    "complete_objects": "0",
    # the classic perimeter generator: Arachne (2.5's default) logs Voronoi robustness warnings on
    # these thin curved walls, and a warning fails an order
    "perimeter_generator": "classic",
}
#: The level the object itself carries (every zone overrides it; a device without zones prints at it).
BASE_LEVEL = "medium"


def material(name: str) -> Material:
    """The material called ``name``; OrthogenError naming the choices otherwise."""
    try:
        return MATERIALS[name]
    except KeyError:
        raise OrthogenError(f"unknown material {name!r} (allowed: {', '.join(MATERIALS)})") from None


def markdown_table() -> str:
    """The README table: material x level -> slicer settings, with the source of each figure."""
    lines = [
        "| material | level | infill | pattern | perimeters | top / bottom layers | sources |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in MATERIALS.values():
        if not m.levels:
            lines.append(
                f"| {m.name} | any | printed solid (powder-bed fusion: no infill) | - | - | - | "
                f"{m.reference} |"
            )
            continue
        for name, lv in m.levels.items():
            src = m.level_sources[name]
            cite = "; ".join(
                f"{k}: {v}"
                for k, v in zip(("infill", "pattern", "perimeters", "top", "bottom"), src, strict=True)
            )
            lines.append(
                f"| {m.name} | {name} | {lv.infill_pct:g} % | {lv.pattern} | {lv.perimeters} | "
                f"{lv.top_layers} / {lv.bottom_layers} | {cite} |"
            )
    lines += [
        "",
        "| material | reference product | density g/cm³ | max volumetric speed mm³/s | nozzle / bed °C "
        "| price per kg (default) |",
        "|---|---|---|---|---|---|",
    ]
    for m in MATERIALS.values():
        fff = m.process == "fff"
        speed = f"{m.max_volumetric_speed_mm3_s:g}" if fff else "-"
        temps = f"{m.temperature_c} / {m.bed_c}" if fff else "-"
        lines.append(
            f"| {m.name} | {m.reference} | {m.density_g_cm3:g} | {speed} | {temps} | "
            f"{m.price_per_kg:g} ({m.price_source}) |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - README helper
    if "--table" in sys.argv:
        sys.stdout.write(markdown_table())
