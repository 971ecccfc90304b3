"""Issue 12's speed table, from one run: per-stage CPU time per scan, the CLI against the load-and-write
floor, and batch throughput with 1 and 2 workers.

Run from the repository root::

    python benchmarks/bench_speed.py [--repeat 3] [--orders 20] [--no-batch]

Prints one markdown table (the README quotes it). All times are CPU seconds (user + system), the
minimum over ``--repeat`` runs, so other jobs on a shared machine inflate them less than wall time;
batch throughput is wall time, which they do inflate: each batch row is the median of ``--repeat``
runs (the load average is printed with the table).

* per stage, in a fresh process per scan (imports done, one warm-up design first): ``load`` the scan
  file; ``measure`` the rest of the measure job; ``fields`` the design up to the height fields;
  ``solid`` the grid solid and its boolean (manifold3d); ``verify`` reading the mesh back (envelopes,
  topology, clinical checks); ``preview`` the PNG; ``files`` the STL and JSON report bytes.
* ``CLI``: ``orthogen design SCAN -o DIR`` in a fresh process (preview on), against the ``floor``: a
  fresh process that loads the same scan with trimesh and writes it as STL, measured alternately in
  the same run. A Seraph ``.scan`` file has no floor (trimesh cannot read it).
* batch: 40 single-foot orders of the bundled synthetic scans (35k faces each), and, when
  ``../shared`` is there, 24 orders of the real scans (pairs where the scanner captured both feet, a
  pair counting as two feet), previews and clinician reports on, as always, with 1 and 2 local
  workers: feet per minute (wall), CPU seconds per foot (the workers' own CPU time) and the largest
  worker's peak resident memory.

The child processes get a bytecode cache in the run's temporary folder (``PYTHONPYCACHEPREFIX``, with
``PYTHONDONTWRITEBYTECODE`` dropped for them), as an installed package has its ``.pyc`` files: without
it a session that sets ``PYTHONDONTWRITEBYTECODE`` recompiles orthogen's modules on every CLI run
(0.2-0.3 s), while the floor runs from trimesh's installed bytecode. Nothing is written to the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_batch import bench, write_orders, write_real_orders  # benchmarks/ is on the path as a script

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "foot_scans"
#: (scan, --foot-length, --side): the real scans, as the README's device table designs them.
REAL = [
    ("aetrex/dupontgu_left.stl", None, None),
    ("aetrex/dupontgu_right.stl", None, None),
    ("techmed3d/verdier_right_plantar.obj", None, None),
    ("foambox/seraph_a_left.ply", None, None),
    ("foambox/seraph_a_right.ply", None, None),
    ("foambox/seraph_a_left.scan", None, None),
    ("imprint/polycron_left.ply", 250.0, None),
    ("phone/kotak_mobile1.stl", None, "right"),
]
SAMPLE = ("foot_scans/synth_left_full_foot.stl", None, None)
STAGES = ("load", "measure", "fields", "solid", "verify", "preview", "files")
BATCH_TEMPLATES = ("standard", "sport", "flat_foot", "high_arch", "heel_pain")

#: The child that times the stages of one scan (run in a fresh process: its own imports and memory).
STAGE_CHILD = r"""
import json, sys, time
import orthogen.device.design as D
import orthogen.foot.measure_scan as M
from orthogen.device.template import template_geometry
from orthogen.foot.measure_scan import MeasureOptions
from orthogen.output.export import json_text, stl_bytes
from orthogen.output.preview import preview_png
from orthogen.rx.load import load_prescription

path, fl, side, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rx = load_prescription(None, [])
opts = D.measure_options_from_rx(
    rx, MeasureOptions(foot_length_mm=None if fl == "-" else float(fl), side=None if side == "-" else side)
)
spent = {}

def timed(name, func):
    def run(*a, **k):
        t = time.process_time()
        try:
            return func(*a, **k)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - t
    return run

M.load_scan = timed("load", M.load_scan)
D.build_solid = timed("solid", D.build_solid)
for name in ("read_surfaces", "measure_device", "check_intent"):
    setattr(D, name, timed("verify", getattr(D, name)))
best = {}
for n in range(repeat + 1):  # the first run warms up
    spent.clear()
    t = time.process_time()
    foot = M.measure_scan(path, opts)
    measure = time.process_time() - t
    t = time.process_time()
    d = D.design_foot(foot, rx, template_geometry(rx.template))
    design = time.process_time() - t
    t = time.process_time()
    preview_png(d)
    preview = time.process_time() - t
    t = time.process_time()
    json_text(d.report()), stl_bytes(d.vertices, d.faces)
    files = time.process_time() - t
    row = {"load": spent["load"], "measure": measure - spent["load"], "solid": spent["solid"],
           "verify": spent["verify"], "fields": design - spent["solid"] - spent["verify"],
           "preview": preview, "files": files}
    if n:
        best = {k: min(v, best.get(k, v)) for k, v in row.items()}
print(json.dumps({"faces": len(foot.scan.faces), "triangles": len(d.faces), **best}))
"""

FLOOR = "import sys, trimesh; trimesh.load(sys.argv[1]).export(sys.argv[2])"


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_of(cmd: list[str]) -> float:
    """CPU seconds of one run of ``cmd`` (it must succeed)."""
    t = _child_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {(out.stderr.strip().splitlines() or ['failed'])[-1]}")
    return _child_cpu() - t


def stages(path: Path, fl, side, repeat: int) -> dict:
    args = [str(path), "-" if fl is None else str(fl), side or "-", str(repeat)]
    cmd = [sys.executable, "-c", STAGE_CHILD, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError((out.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_and_floor(path: Path, fl, side, repeat: int, work: Path) -> tuple[float, float | None]:
    """Minimum CPU seconds of the CLI and of the floor over ``repeat`` alternating runs."""
    cli = [sys.executable, "-m", "orthogen", "design", str(path), "-o", str(work / "cli")]
    if fl is not None:
        cli += ["--foot-length", str(fl)]
    if side is not None:
        cli += ["--side", side]
    floor = [sys.executable, "-c", FLOOR, str(path), str(work / "floor.stl")]
    has_floor = path.suffix.lower() != ".scan"
    c, f = [], []
    for _ in range(repeat):
        if has_floor:
            f.append(_cpu_of(floor))
        c.append(_cpu_of(cli))
    return min(c), (min(f) if f else None)


def batch(orders: Path, workers: int, feet: int, repeat: int = 1) -> dict:
    """Run the order file ``repeat`` times with ``workers`` local workers: the median run's feet per
    minute, CPU per foot and peak memory (the largest peak of all runs)."""
    runs = []
    for _ in range(max(1, repeat)):
        r = bench(orders, workers)
        runs.append({**r, "feet": feet, "wall": r["seconds"], "feet_per_min": 60.0 * feet / r["seconds"],
                     "cpu_per_foot": r["cpu_s"] / feet})  # fmt: skip
    runs.sort(key=lambda r: r["feet_per_min"])
    median = runs[len(runs) // 2]
    return {
        **median,
        "peak_mb": max(r["peak_mb"] for r in runs),
        "failed": [f for r in runs for f in r["failed"]],
    }


def batch_rows(name: str, orders: Path, feet: int, repeat: int = 1) -> tuple[list[list[str]], list[str]]:
    """The table rows of one order file run with 1 and 2 workers (median of ``repeat`` runs each),
    and its failures."""
    one, two = batch(orders, 1, feet, repeat), batch(orders, 2, feet, repeat)
    rows = []
    for r in (one, two):
        label = f"batch, {name}: {r['orders']} orders, {r['feet']} feet, {r['workers']} worker"
        rows.append([label + ("s" if r["workers"] > 1 else ""), f"{r['feet_per_min']:.0f} feet/min",
                     f"{r['cpu_per_foot']:.2f} CPU s/foot", f"peak {r['peak_mb']:.0f} MB/worker",
                     f"{r['wall']:.1f} s wall"])  # fmt: skip
    gain = two["feet_per_min"] / one["feet_per_min"]
    rows.append([f"batch, {name}: 2 workers / 1", f"{gain:.2f}x feet/min",
                 f"{two['cpu_per_foot'] / one['cpu_per_foot']:.2f}x CPU s/foot",
                 f"2 idle cores: {2 * 60 / two['cpu_per_foot']:.0f} feet/min at most"])  # fmt: skip
    return rows, one["failed"] + two["failed"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (minimum taken)")
    ap.add_argument("--orders", type=int, default=40, help="synthetic single-foot orders (default 40)")
    ap.add_argument("--real-orders", type=int, default=24, help="real-scan orders (default 24)")
    ap.add_argument("--no-batch", action="store_true", help="skip the batch rows")
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    load0 = os.getloadavg()[0]
    cases = [(SAMPLE[0], ROOT / SAMPLE[0], SAMPLE[1], SAMPLE[2])]
    if SHARED.is_dir():
        cases += [(rel, SHARED / rel, fl, side) for rel, fl, side in REAL]
    else:
        print(f"note: {SHARED} not found; the bundled sample only", file=sys.stderr)
    head = ["case", "faces", *STAGES, "CLI", "floor", "CLI / floor"]
    rows = []
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="orthogen-speed-") as tmp:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # children: bytecode cached in tmp, as installed
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        for name, path, fl, side in cases:
            try:
                s = stages(path, fl, side, args.repeat)
                cli, floor = cli_and_floor(path, fl, side, args.repeat, Path(tmp))
            except RuntimeError as err:
                rows.append([name, "failed: " + str(err)])
                continue
            ratio = cli / floor if floor else None
            worst = max(worst, ratio or 0.0)
            end = [f"{cli:.2f}", *(("n/a", "n/a") if ratio is None else (f"{floor:.2f}", f"{ratio:.2f}"))]
            rows.append([name, str(s["faces"]), *(f"{s[k]:.3f}" for k in STAGES), *end])
        if not args.no_batch:
            synthetic = write_orders(Path(tmp), args.orders, BATCH_TEMPLATES)
            sets = [("synthetic scans", synthetic, args.orders)]
            if SHARED.is_dir():
                sets.append(("real scans", *write_real_orders(Path(tmp), args.real_orders, BATCH_TEMPLATES)))
            for name, orders, feet in sets:
                more, failed = batch_rows(name, orders, feet, args.repeat)
                rows += more
                for f in failed:
                    print(f"failed: {f}", file=sys.stderr)
    print(
        f"orthogen speed, CPU seconds (min of {args.repeat}); {os.cpu_count()} cores, load average "
        f"{load0:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    )
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r + [""] * (len(head) - len(r))) + " |")
    if worst:
        print(f"\nworst CLI / floor: {worst:.2f} (target: at most 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
