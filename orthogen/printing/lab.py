"""Print production in the lab batch: each order's zoned 3MF (sliced when asked) and the batch's plates.

Called from :mod:`orthogen.lab.batch` in a few lines: :func:`order_prints` inside an order's worker
(a slicer warning or error fails that order), :func:`print_summary` for the summary row and
:func:`batch_plates` once all orders are done, which packs every device of the finished orders
(``quantity`` copies each, named ``<order id>_<side>``, then ``_2``, ``_3``...) onto as few plates per
material as fit, writes ``DIR/plates/plate_NN.3mf`` and ``DIR/plates/plates.json``, and slices every
plate when asked.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from orthogen.errors import OrthogenError

PLATES_DIR = "plates"
PLATES_REPORT = "plates.json"
#: Summary columns added by print production (empty when an order was not printed or sliced).
SUMMARY_COLUMNS = ("material", "print_time_h", "filament_m", "filament_g", "cost")


def order_prints(designs: Mapping, order_id: str, formats: Sequence[str], options: Mapping | None) -> dict:
    """Each side's :class:`~orthogen.printing.production.DevicePrint` (object ``<order id>_<side>``),
    sliced when ``options["slice"]``; empty when neither print options nor a 3MF are asked for.

    Raises OrthogenError when a device does not fit the bed or its slice warns or fails."""
    if options is None and "3mf" not in formats:
        return {}
    from orthogen.printing.production import PrintOptions, device_print, slice_devices

    opts = PrintOptions.from_dict(options) if options is not None else PrintOptions.make()
    prints = {side: device_print(d, f"{order_id}_{side}", opts) for side, d in designs.items()}
    return slice_devices(prints, designs, opts) if opts.slice else prints


def print_summary(report: Mapping) -> dict:
    """The summary-row print numbers of one device's JSON report."""
    p = report.get("print") or {}
    s = p.get("slice") or {}
    cost = (s.get("cost") or {}).get("total")
    return {
        "material": p.get("material"),
        "print_time_h": s.get("print_time_h"),
        "filament_m": s.get("filament_m"),
        "filament_g": s.get("filament_g"),
        "cost": cost,
    }


def _devices(out_dir: Path, results: Sequence[Mapping]) -> list[tuple[str, str, Path]]:
    """(object name, material, 3MF path) of every printed copy of every finished order."""
    items = []
    for r in results:
        if r.get("status") not in ("done", "skipped"):
            continue
        oid = r["order_id"]
        for s in r.get("sides", []):
            stem = f"{oid}_{s['side']}"
            path, rep = out_dir / oid / f"{stem}.3mf", out_dir / oid / f"{stem}.json"
            if not path.is_file() or not rep.is_file():
                continue
            material = (json.loads(rep.read_text(encoding="utf-8")).get("print") or {}).get("material")
            for k in range(1, int(r.get("quantity") or 1) + 1):
                items.append((stem if k == 1 else f"{stem}_{k}", material or "unknown", path))
    return items


def batch_plates(out_dir: str | Path, results: Sequence[Mapping], options: Mapping) -> dict:
    """Pack every device of the finished orders onto plates (one material per plate), write
    ``plates/plate_NN.3mf`` and ``plates/plates.json``, slice each plate when asked.

    Returns the plates report (also ``plates.json``): per plate its file, material, objects and their
    placement, the smallest gap, and the slice (or the reason it failed)."""
    from orthogen.printing import materials as mats
    from orthogen.printing.production import PrintOptions, pack_plates, slice_report
    from orthogen.printing.threemf import read_plate, write_plate

    opts = PrintOptions.from_dict(options)
    out_dir = Path(out_dir)
    tmp = out_dir / f".{PLATES_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    plates, failed = [], 0
    try:
        by_material: dict[str, list[tuple[str, Path]]] = {}
        for name, material, path in _devices(out_dir, results):
            by_material.setdefault(material, []).append((name, path))
        n = 0
        for material_name, devices in sorted(by_material.items()):
            cache: dict[Path, tuple] = {}
            objs, config = [], {}
            for name, path in devices:
                if path not in cache:
                    cache[path] = read_plate(path)
                obj_list, config = cache[path]
                objs.append(obj_list[0].renamed(name))
            heights = [float(o.vertices[:, 2].max()) for o in objs]
            for plate, placed in pack_plates(objs, heights, opts.printer):
                n += 1
                fname = f"plate_{n:02d}.3mf"
                write_plate(tmp / fname, placed, config, f"plate {n}")
                rep = {"file": fname, "material": material_name, **plate.as_dict()}
                material = mats.MATERIALS.get(material_name)
                if opts.slice and material is not None and material.process == "fff":
                    try:
                        rep["slice"] = slice_report(tmp / fname, plate.names, material, opts)
                    except OrthogenError as err:
                        rep["failed"] = err.problem
                        failed += 1
                plates.append(rep)
        report = {
            "printer": opts.printer.name,
            "plates": plates,
            "failed": failed,
            "objects": sum(len(p["objects"]) for p in plates),
        }
        (tmp / PLATES_REPORT).write_text(
            json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        final = out_dir / PLATES_DIR
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


__all__ = ["SUMMARY_COLUMNS", "batch_plates", "order_prints", "print_summary"]
