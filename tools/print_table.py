"""The README's print table: construction x zoning x material -> print time, grams and cost, sliced.

Designs the sample scan (``foot_scans/synth_left_full_foot.stl``, standard template) as a full-contact
and as a shell device and slices each variant with PrusaSlicer's CLI on the same printer and process
(``--printer``, default mk3s, 0.2 mm layers): today's uniform device (the STL sliced with PrusaSlicer's
built-in region defaults: 20 % stars infill, 3 perimeters, 3 top / 3 bottom layers), the zoned device
(the template's stiffness zones as modifier volumes), and the shell in PP and PA12. Prints a Markdown
table and, with ``--json``, the raw numbers. Takes a few minutes (one slice per row).

    python tools/print_table.py [--printer mk3s] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orthogen.device.design import design_scan  # noqa: E402
from orthogen.printing import materials as mats  # noqa: E402
from orthogen.printing.production import (  # noqa: E402
    SUPPORT_PRUSA,
    PrintOptions,
    placed_object,
    plate_config,
    print_object,
    slice_report,
    sls_report,
)
from orthogen.printing.threemf import PrintObject, write_plate  # noqa: E402
from orthogen.rx.load import load_prescription  # noqa: E402

SAMPLE = ROOT / "foot_scans" / "synth_left_full_foot.stl"
#: PrusaSlicer 2.5's built-in region defaults (prusa-slicer --save): today's uniform device.
TODAY = mats.Level(20, "stars", 3, 3, 3)
#: The least a slicer can print a device with (not a usable device: the floor of a shell's time).
BARE = {
    "fill_density": "0%",
    "perimeters": "1",
    "top_solid_layers": "1",
    "bottom_solid_layers": "1",
    "top_solid_min_thickness": "0",
    "bottom_solid_min_thickness": "0",
    "ensure_vertical_shell_thickness": "0",
}
SOFT = [f"stiffness.{z}=soft" for z in ("rearfoot", "heel_cushion", "arch", "forefoot", "posts")]
ROWS = (
    # (construction, zoning shown, material, mode, supports)
    ("full_contact", "uniform (today)", "tpu_95a", "today", False),
    ("full_contact", "zoned", "tpu_95a", "zoned", False),
    ("full_contact", "all zones soft", "tpu_95a", "soft", False),
    ("shell", "uniform", "tpu_95a", "today", True),
    ("shell", "zoned", "tpu_95a", "zoned", True),
    ("shell", "zoned", "tpu_95a", "zoned", False),
    ("shell", "all zones soft", "tpu_95a", "soft", True),
    ("shell", "bare: 1 perimeter, 1 skin, no infill", "tpu_95a", "bare", False),
    ("shell", "zoned", "pp", "zoned", True),
    ("shell", "solid (SLS)", "pa12", "sls", False),
)


def _object(d, name: str, mode: str, supports: bool) -> PrintObject:
    if mode in ("zoned", "soft"):
        obj = print_object(d, name)[0]
    else:
        settings = TODAY.prusa() if mode == "today" else {k: v for k, v in BARE.items() if k in TODAY.prusa()}
        obj = PrintObject(name, d.vertices, d.faces, (), settings, {})
    prusa = dict(obj.prusa)
    for k in SUPPORT_PRUSA:
        prusa.pop(k, None)
    if supports:
        prusa.update(SUPPORT_PRUSA)
    return dataclasses.replace(obj, prusa=prusa)


def run(printer_name: str) -> list[dict]:
    opts = PrintOptions.make(printer_name, slice=True)
    designs = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (construction, zoning, material_name, mode, supports) in enumerate(ROWS):
            sets = [
                f"construction={construction}",
                f"material={material_name}",
                *(SOFT if mode == "soft" else ()),
            ]
            rx = load_prescription(None, sets)
            if construction not in designs:
                designs[construction] = design_scan(SAMPLE, rx)
            d = dataclasses.replace(designs[construction], prescription=rx)
            material = mats.material(material_name)
            name = f"row{i}_{construction}_{material_name}_{mode}"
            placed, _ = placed_object(
                _object(d, name, mode, supports), float(d.vertices[:, 2].max()), opts.printer
            )
            config = plate_config(material, opts.printer, opts.price_per_kg(material))
            if mode == "today":
                config.update(TODAY.prusa())
            elif mode == "bare":
                config.update(BARE)
            t = time.perf_counter()
            if material.process == "fff":
                path = write_plate(Path(tmp) / f"{name}.3mf", [placed], config, name)
                res = slice_report(path, [name], material, opts)
            else:
                res = sls_report(d.checks.volume_mm3, material, opts)
            rows.append(
                {
                    "construction": construction,
                    "zoning": zoning,
                    "material": material_name,
                    "supports": supports,
                    "volume_cm3": round(d.checks.volume_mm3 / 1000.0, 1),
                    **res,
                    "slice_s": round(time.perf_counter() - t, 1),
                }
            )
            print(f"  {name}: {res.get('print_time')} {res['filament_g']} g", file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict], printer_name: str) -> str:
    base = rows[0]
    out = [
        "| construction | zoning | material | supports | device cm³ | print time | vs today | filament "
        "| cost |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.get("print_time_s"):
            time_txt = r["print_time"]
            rel = f"{100 * r['print_time_s'] / base['print_time_s']:.0f} %"
            fil = f"{r['filament_m']:g} m, {r['filament_g']:g} g"
        else:
            time_txt, rel, fil = "not sliced (SLS)", "-", f"{r['filament_g']:g} g"
        out.append(
            f"| {r['construction']} | {r['zoning']} | {r['material']} | {'yes' if r['supports'] else 'no'} | "
            f"{r['volume_cm3']:g} | {time_txt} | "
            f"{rel} | {fil} | {r['cost']['total']:.2f} |"
        )
    return (
        "\n".join(out)
        + f"\n\n(printer {printer_name}, {rows[0].get('slicer', 'PrusaSlicer')}, 0.2 mm layers)\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--printer", default="mk3s")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    rows = run(a.printer)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    sys.stdout.write(markdown(rows, a.printer))


if __name__ == "__main__":
    main()
