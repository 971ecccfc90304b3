"""Time `measure` and `design` on every real scan (and the bundled samples) and report peak memory.

Run: ``python benchmarks/bench_pipeline.py`` (add ``--repeat N``). Prints a table. Each scan runs in a
fresh process so the peak RSS column is that scan's own (``ru_maxrss`` of the child).
Targets: measure well under 0.5 s per 100k-face scan; design under 1 s per foot.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "foot_scans"
SCANS = [
    ("aetrex/dupontgu_left.stl", None),
    ("aetrex/dupontgu_right.stl", None),
    ("techmed3d/verdier_right_plantar.obj", None),
    ("foambox/seraph_a_left.ply", None),
    ("foambox/seraph_a_left.scan", None),
    ("imprint/polycron_left.ply", 245.0),
    ("phone/kotak_mobile1.stl", None),
]

CHILD = r"""
import json, resource, sys, time
from orthogen.foot.measure_scan import MeasureOptions, measure_scan
from orthogen.device.design import design_foot
from orthogen.rx.load import load_prescription
from orthogen.scan import load_scan
path, fl, repeat = sys.argv[1], (float(sys.argv[2]) if sys.argv[2] != "-" else None), int(sys.argv[3])
rx = load_prescription(None, ["rearfoot_post_deg=4", "heel_lift_mm=4"])
faces = len(load_scan(path).faces)
measure_scan(path, MeasureOptions(foot_length_mm=fl))  # warm caches and imports
tm, td = [], []
for _ in range(repeat):
    t = time.perf_counter()
    foot = measure_scan(path, MeasureOptions(foot_length_mm=fl))
    tm.append(time.perf_counter() - t)
    t = time.perf_counter()
    d = design_foot(foot, rx)
    td.append(time.perf_counter() - t)
print(json.dumps({"faces": faces, "measure": min(tm), "design": min(td), "out_faces": len(d.faces),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = [
        (str(p.relative_to(ROOT)), p, None)
        for p in sorted((ROOT / "foot_scans").glob("synth_*"))
        if p.suffix != ".json"
    ]
    if SHARED.is_dir():
        rows += [(rel, SHARED / rel, fl) for rel, fl in SCANS]
    else:
        print(f"note: {SHARED} not found; timing the bundled samples only", file=sys.stderr)
    print(f"{'scan':<42} {'faces':>8} {'measure s':>10} {'design s':>9} {'out faces':>10} {'peak MB':>8}")
    for name, path, fl in rows:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), "-" if fl is None else str(fl), str(args.repeat)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(
                f"{name:<42} failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}"
            )
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{name:<42} {r['faces']:>8} {r['measure']:>10.3f} {r['design']:>9.3f} {r['out_faces']:>10} "
            f"{r['rss_mb']:>8.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
