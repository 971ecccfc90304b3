"""A design's print outputs: the zoned, bed-fitted 3MF, plates, slicing, time and cost.

The file-level half of print production, shared by ``orthogen design`` and the batch: it turns a
finished :class:`~orthogen.device.design.Design` into a :class:`~orthogen.printing.threemf.PrintObject`
(the device plus its stiffness zones as modifier volumes with the material's slicer settings), fits
it on the printer's bed, writes the 3MF, slices it when asked, and reports what it did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from shapely.geometry import Polygon

from orthogen.errors import OrthogenError
from orthogen.printing import materials as mats
from orthogen.printing.plates import Placed, Plate, fit_on_bed, footprint_of, pack
from orthogen.printing.printers import Printer, printer
from orthogen.printing.slicer import DEFAULT_MACHINE_PRICE_PER_H, require_slicer, slice_plate
from orthogen.printing.threemf import PrintObject, Volume, write_plate


@dataclass(frozen=True)
class PrintOptions:
    """How a lab prints: the printer (preset or bed), whether to slice, and the prices for the cost."""

    printer: Printer
    slice: bool = False
    plates: bool = False
    material_price_per_kg: float | None = None  # None: the material's default
    machine_price_per_h: float = DEFAULT_MACHINE_PRICE_PER_H

    @classmethod
    def make(
        cls,
        printer_name: str | None = None,
        bed: str | None = None,
        slice: bool = False,
        plates: bool = False,
        material_price: float | None = None,
        machine_price: float | None = None,
    ) -> PrintOptions:
        """Options from the command line; OrthogenError for a bad printer, bed or price, or a missing
        slicer when slicing is asked for."""
        for what, v in (("--material-price", material_price), ("--machine-price", machine_price)):
            if v is not None and not (np.isfinite(v) and v >= 0):
                raise OrthogenError(f"{what} must be a price of 0 or more, got {v}")
        if slice:
            require_slicer()
        return cls(
            printer(printer_name, bed),
            slice,
            plates,
            material_price,
            DEFAULT_MACHINE_PRICE_PER_H if machine_price is None else float(machine_price),
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "printer": asdict(self.printer)}

    @classmethod
    def from_dict(cls, d: Mapping) -> PrintOptions:
        return cls(**{**d, "printer": Printer(**d["printer"])})

    def price_per_kg(self, material: mats.Material) -> float:
        return material.price_per_kg if self.material_price_per_kg is None else self.material_price_per_kg


def zone_settings(rx) -> dict[str, tuple[str | float, mats.Level | None]]:
    """Each zone's prescribed stiffness and its slicer settings in the prescribed material."""
    material = mats.material(rx.material)
    return {z: (v, material.level(v)) for z, v in rx.stiffness.model_dump().items()}


def print_object(design, name: str) -> tuple[PrintObject, dict]:
    """The device as one print object with its zones as modifier volumes, and the zones' report.

    Powder-bed fusion (pa12) prints solid: its object carries no modifiers.
    """
    from orthogen.device.zones import zones_of

    rx = design.prescription
    material = mats.material(rx.material)
    settings = zone_settings(rx)
    zones = zones_of(design)
    report = zones.as_dict()
    mods = []
    for z in zones.zones:
        value, level = settings[z.name]
        report[z.name]["stiffness"] = value
        report[z.name]["settings"] = level.text() if level else "printed solid (powder-bed fusion)"
        if level is not None:
            mods.append(Volume(z.name, z.vertices, z.faces, level.prusa(), level.orca()))
    base = material.level(mats.BASE_LEVEL)
    prusa, orca = (base.prusa(), base.orca()) if base else ({}, {})
    if needs_support(design, material):
        prusa, orca = {**prusa, **SUPPORT_PRUSA}, {**orca, **SUPPORT_ORCA}
    obj = PrintObject(name, design.vertices, design.faces, tuple(mods), prusa, orca)
    return obj, report


#: A shell stands hollow over the footbed: printed by FDM, its underside under the arch overhangs and
#: needs support from the build plate (PrusaSlicer / Orca object settings).
SUPPORT_PRUSA = {
    "support_material": "1",
    "support_material_auto": "1",
    "support_material_buildplate_only": "1",
    "support_material_style": "snug",
}
SUPPORT_ORCA = {
    "enable_support": "1",
    "support_type": "normal(auto)",
    "support_style": "snug",
    "support_on_build_plate_only": "1",
}


#: PrusaSlicer 2.5's snug supports from the build plate reach up to 3.2 mm beyond a shell's outline seen
#: from above and its skirt 5.5 mm (2 mm round the supports; measured on the sample's full-length shell;
#: its default "grid" supports reach 8.2 mm, the skirt 10.5): a supported device takes this much more room
#: on the bed than its footprint, on top of the bed margin, mm.
SUPPORT_SPREAD_MM = 4.0


def bed_footprint(obj: PrintObject) -> Polygon:
    """Where an object prints on the bed seen from above (mm): its footprint, widened by
    SUPPORT_SPREAD_MM when it is printed on supports."""
    fp = footprint_of(obj.vertices, obj.faces)
    return fp.buffer(SUPPORT_SPREAD_MM) if obj.prusa.get("support_material") == "1" else fp


def needs_support(design, material: mats.Material) -> bool:
    """A shell printed by FDM needs support under its hollow underside."""
    return design.prescription.construction == "shell" and material.process == "fff"


def plate_config(material: mats.Material, pr: Printer, price_per_kg: float) -> dict[str, str]:
    """The plate's print settings (``Metadata/Slic3r_PE.config``): process, printer and material."""
    if material.process != "fff":
        return {"printer_technology": "FFF", **{k: v for k, v in pr.config().items() if k == "bed_shape"}}
    base = material.level(mats.BASE_LEVEL)
    cfg = {**mats.PROCESS, **pr.config(), **material.filament_config(), **base.prusa()}
    cfg["filament_cost"] = f"{price_per_kg:g}"
    return cfg


def placed_object(obj: PrintObject, height_mm: float, pr: Printer) -> tuple[PrintObject, Placed]:
    """The object alone on the bed (turned in the plane when it must be); refuses when it cannot fit."""
    spot = fit_on_bed(obj.name, bed_footprint(obj), height_mm, pr)
    return obj.transformed(spot.angle_deg, spot.dx, spot.dy), spot


def slice_report(plate_path: Path, names: Sequence[str], material: mats.Material, opts: PrintOptions) -> dict:
    """Slice a plate and return its time, filament and cost (FDM), or the solid part's material
    estimate (powder-bed fusion, which PrusaSlicer does not slice)."""
    res = slice_plate(plate_path, names)
    return {**res.as_dict(), "cost": res.cost(opts.price_per_kg(material), opts.machine_price_per_h)}


def sls_report(volume_mm3: float, material: mats.Material, opts: PrintOptions) -> dict:
    """A powder-bed part's material (its solid volume) and material cost; no per-part time."""
    grams = volume_mm3 / 1000.0 * material.density_g_cm3
    price = opts.price_per_kg(material)
    return {
        "note": f"{material.title} is printed by powder-bed fusion, which PrusaSlicer does not slice: "
        "material from the solid's volume; build time is shared by the whole build and not estimated",
        "filament_g": round(grams, 1),
        "print_time_s": None,
        "cost": {
            "material": round(grams / 1000.0 * price, 2),
            "machine": None,
            "total": round(grams / 1000.0 * price, 2),
            "material_price_per_kg": price,
            "machine_price_per_h": None,
        },
    }


@dataclass(frozen=True)
class DevicePrint:
    """One device ready to print: its placed object, plate settings and report."""

    name: str
    obj: PrintObject  # placed on the bed
    config: dict
    report: dict

    def write(self, path: str | Path) -> Path:
        return write_plate(path, [self.obj], self.config, self.name)


def device_print(design, name: str, opts: PrintOptions) -> DevicePrint:
    """The device's zoned object fitted alone on the bed, with its settings and print report."""
    material = mats.material(design.prescription.material)
    obj, zones = print_object(design, name)
    placed, spot = placed_object(obj, float(design.vertices[:, 2].max()), opts.printer)
    report = {
        "material": material.name,
        "process": material.process,
        "reference": material.reference,
        "printer": opts.printer.name,
        "bed": opts.printer.text(),
        "bed_mm": [opts.printer.width_mm, opts.printer.depth_mm],
        "layer_height_mm": mats.LAYER_HEIGHT_MM if material.process == "fff" else None,
        "placement": {
            "angle_deg": round(spot.angle_deg, 2),
            "offset_mm": [round(spot.dx, 3), round(spot.dy, 3)],
            "frame": "bed = turn the output frame by angle_deg about z, then move by offset_mm",
        },
        "zones": zones,
        "supports": "under the shell's hollow underside, from the build plate"
        if needs_support(design, material)
        else None,
        "slice": None,
    }
    return DevicePrint(
        name, placed, plate_config(material, opts.printer, opts.price_per_kg(material)), report
    )


def sliced(dp: DevicePrint, path: Path, design, opts: PrintOptions) -> DevicePrint:
    """``dp`` with its slice (FDM) or material estimate (SLS) in the report; ``path`` is its written 3MF."""
    material = mats.material(design.prescription.material)
    if material.process != "fff":
        result = sls_report(design.checks.volume_mm3, material, opts)
    else:
        result = slice_report(path, [dp.name], material, opts)
    return DevicePrint(dp.name, dp.obj, dp.config, {**dp.report, "slice": result})


def slice_devices(
    prints: Mapping[str, DevicePrint], designs: Mapping, opts: PrintOptions
) -> dict[str, DevicePrint]:
    """Slice every device (from a temporary 3MF) and return them with their results."""
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory(prefix="orthogen-print-") as tmp:
        for key, dp in prints.items():
            out[key] = sliced(dp, dp.write(Path(tmp) / f"{key}.3mf"), designs[key], opts)
    return out


def pack_plates(
    objects: Sequence[PrintObject], heights: Sequence[float], pr: Printer
) -> list[tuple[Plate, list]]:
    """Pack objects onto plates; each plate with its objects placed in bed coordinates."""
    by_name = {o.name: o for o in objects}
    if len(by_name) != len(objects):
        raise OrthogenError("two devices to pack have the same name")
    footprints: dict[int, object] = {}  # copies of one device share its mesh arrays and settings
    for o in objects:
        if id(o.vertices) not in footprints:
            footprints[id(o.vertices)] = bed_footprint(o)
    items = [(o.name, footprints[id(o.vertices)], h) for o, h in zip(objects, heights, strict=True)]
    plates = pack(items, pr)
    return [(pl, [by_name[p.name].transformed(p.angle_deg, p.dx, p.dy) for p in pl.placed]) for pl in plates]


def write_plates(
    out_dir: Path,
    stem: str,
    objects: Sequence[PrintObject],
    heights: Sequence[float],
    config: dict,
    opts: PrintOptions,
    material: mats.Material | None = None,
) -> list[dict]:
    """Pack and write ``<stem>_plate<N>.3mf`` files (sliced when asked); one report per plate."""
    reports = []
    for i, (plate, placed) in enumerate(pack_plates(objects, heights, opts.printer), start=1):
        path = write_plate(Path(out_dir) / f"{stem}_plate{i}.3mf", placed, config, f"{stem} plate {i}")
        rep = {"file": path.name, **plate.as_dict()}
        if opts.slice and material is not None and material.process == "fff":
            rep["slice"] = slice_report(path, plate.names, material, opts)
        reports.append(rep)
    return reports


def pair_plates(
    out_dir: Path,
    stems: Sequence[str],
    designs: Sequence,
    prints: Mapping[str, DevicePrint],
    opts: PrintOptions | None,
) -> list[dict]:
    """A pair's devices packed onto as few plates as fit: ``<first stem>_pair_plate<N>.3mf``.

    Both devices must share a material (one plate prints one material)."""
    opts = opts or PrintOptions.make()
    materials = {d.prescription.material for d in designs}
    if len(materials) != 1:
        return []
    material = mats.material(materials.pop())
    objs = [prints[s].obj for s in stems]  # zoned, wherever they lie: packing turns and moves them
    heights = [float(d.vertices[:, 2].max()) for d in designs]
    config = prints[stems[0]].config
    return write_plates(Path(out_dir), f"{stems[0]}_pair", objs, heights, config, opts, material)
