"""Time the milling job per device: toolpaths (opencamlib drop-cutter) and the cut simulation.

Run: ``python benchmarks/bench_mill.py [--scallop 0.1]``. Designs every scan (not timed), mills each
device alone at the scallop target and prints, per device, the wall seconds (CPU of this process in
brackets) of the toolpaths and of the simulation (G-code read back, swept, compared), the total
with the CPU of the forked drop-cutting helper included, the points dropped, the blank, the
machining time and the simulated deviation. The load average is printed: on a shared machine the
wall times grow with it.
Target: toolpath + simulation under 10 s per device at 0.1 mm scallop on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "foot_scans"
SCANS = [
    ("aetrex/dupontgu_left.stl", None),
    ("aetrex/dupontgu_right.stl", None),
    ("techmed3d/verdier_right_plantar.obj", None),
    ("foambox/seraph_a_left.scan", None),
    ("foambox/seraph_a_right.ply", None),
    ("imprint/polycron_left.ply", 245.0),
    ("phone/kotak_mobile1.stl", None),
]


def main() -> int:
    from orthogen.device.design import design_foot
    from orthogen.device.template import template_geometry
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan
    from orthogen.lab.mill_data import MillOptions
    from orthogen.lab.mill_job import mill_designs
    from orthogen.rx.load import load_prescription

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scallop", type=float, default=0.1)
    args = ap.parse_args()
    rows = [(ROOT / "foot_scans" / "synth_left_full_foot.stl", None)]
    if SHARED.is_dir():
        rows += [(SHARED / name, fl) for name, fl in SCANS]
    else:
        print(f"({SHARED} not found: bundled sample only)")
    rx = load_prescription(None, [])
    options = MillOptions(scallop_mm=args.scallop)
    print(f"scallop {args.scallop} mm; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    head = (
        f"{'scan':38} {'toolpath s':>13} {'sim s':>11} {'total s':>13} {'points':>7} "
        f"{'blank':>15} {'min':>5} {'left':>6} {'gouge':>6}"
    )
    print(head + "\n" + "-" * len(head))
    totals = []
    for path, fl in rows:
        foot = measure_scan(path, MeasureOptions(foot_length_mm=fl))
        design = design_foot(foot, rx, template_geometry(rx.template))
        helper0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        [job] = mill_designs([design], [path.stem], options)
        helper1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = job.timings
        wall = t["toolpath"][0] + t["simulation"][0]
        # CPU of this process plus the drop-cutting helper it forks (reaped when the job ends)
        cpu = (
            t["toolpath"][1]
            + t["simulation"][1]
            + (helper1.ru_utime + helper1.ru_stime - helper0.ru_utime - helper0.ru_stime)
        )
        totals.append(wall)
        s = job.cut.stats
        print(
            f"{path.parent.name + '/' + path.name:38} {t['toolpath'][0]:6.1f} ({t['toolpath'][1]:4.1f}) "
            f"{t['simulation'][0]:4.1f} ({t['simulation'][1]:4.1f}) {wall:6.1f} ({cpu:4.1f}) "
            f"{job.toolpath.points_dropped:7d} {job.placement.blank.name:>15} {job.time['total_min']:5.0f} "
            f"{s['max_leftover_mm']:6.3f} {s['max_gouge_mm']:6.3f}"
        )
    median = sorted(totals)[len(totals) // 2]
    print(
        f"wall seconds per device (total CPU with the helper in brackets): median {median:.1f}, "
        f"max {max(totals):.1f}; load average now {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
