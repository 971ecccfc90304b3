"""Batch throughput (orders per minute) and peak memory per worker, for 1 and 2 workers.

Run from the repository root::

    python benchmarks/bench_batch.py [--orders 6] [--workers 1 2]

Each run is ``orthogen batch`` in a fresh process (timed from start to exit, as a lab runs it) and
designs the same orders (single feet from the bundled synthetic scans in ``foot_scans/``, with the
example prescription and different templates) into a fresh temporary folder, so nothing is skipped.
Peak memory is each worker process's own maximum resident set size (``ru_maxrss``), as reported back
by the job; the table shows the largest worker of the run.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANS = (
    "synth_left_full_foot.stl",
    "synth_right_plantar_shell.obj",
    "synth_left_impression.ply",
    "synth_right_full_foot_noisy.stl",
)
TEMPLATES = ("standard", "sport", "flat_foot", "dress", "high_arch", "heel_pain")


def write_orders(folder: Path, n: int, templates: tuple[str, ...] = TEMPLATES) -> Path:
    """``n`` single-foot orders over the bundled scans, cycling through ``templates``; paths are absolute."""
    path = folder / "orders.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "patient_ref", "left_scan", "right_scan", "prescription", "overrides"])
        for i in range(n):
            scan = SCANS[i % len(SCANS)]
            full = str(REPO / "foot_scans" / scan)
            cells = [full, ""] if "left" in scan else ["", full]
            overrides = f"template={templates[i % len(templates)]};shoe_size=null;met_pad=false;label=B-{i}"
            rx = str(REPO / "templates" / "example_rx.yaml")
            w.writerow([f"B-{i}", f"BENCH-{i}", *cells, rx, overrides])
    return path


SHARED = REPO.parent / "shared" / "foot_scans"
#: Real-scan orders as a lab gets them: pairs where the scanner captured both feet, single feet
#: otherwise; (left scan, right scan, extra overrides). The unscaled imprint needs its foot length.
REAL_ORDERS = (
    ("aetrex/dupontgu_left.stl", "aetrex/dupontgu_right.stl", ""),
    ("foambox/seraph_a_left.ply", "foambox/seraph_a_right.ply", ""),
    ("", "techmed3d/verdier_right_plantar.obj", ""),
    ("", "phone/kotak_mobile1.stl", ""),
    ("imprint/polycron_left.ply", "", ";foot_length_mm=250"),
    ("foambox/seraph_a_left.scan", "", ""),
)


def write_real_orders(folder: Path, n: int, templates: tuple[str, ...] = TEMPLATES) -> tuple[Path, int]:
    """``n`` orders of the real scans in ``../shared/foot_scans`` (pairs and single feet, cycling
    through ``templates``); returns the order file and the number of feet (a pair is two)."""
    path = folder / "real_orders.csv"
    feet = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "patient_ref", "left_scan", "right_scan", "prescription", "overrides"])
        for i in range(n):
            left, right, extra = REAL_ORDERS[i % len(REAL_ORDERS)]
            feet += bool(left) + bool(right)
            cells = [str(SHARED / s) if s else "" for s in (left, right)]
            template = templates[i % len(templates)]
            overrides = f"template={template};shoe_size=null;met_pad=false;label=R-{i}{extra}"
            rx = str(REPO / "templates" / "example_rx.yaml")
            w.writerow([f"R-{i}", f"REAL-{i}", *cells, rx, overrides])
    return path, feet


def bench(orders: Path, workers: int) -> dict:
    """``orthogen batch ORDERS --workers N`` in a fresh process, as a lab runs it: its wall time from
    start to exit (imports and the workers' start-up included), and what its summary reports."""
    with tempfile.TemporaryDirectory(prefix="orthogen-bench-") as out:
        cmd = [
            sys.executable,
            "-m",
            "orthogen",
            "batch",
            str(orders),
            "-o",
            out,
            "--workers",
            str(workers),
            "-q",
        ]
        t = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        if run.returncode not in (0, 1):  # 1: some orders failed (listed below)
            raise RuntimeError(f"orthogen batch exited {run.returncode}: {run.stderr.strip()[-500:]}")
        summary = json.loads((Path(out) / "summary.json").read_text())
    results = summary["orders"]
    peak: dict[int, float] = {}
    cpu: dict[int, float] = {}  # each worker's own CPU time so far, reported with every order
    for r in results:
        w = r.get("worker", {})
        if "pid" in w:
            peak[w["pid"]] = max(peak.get(w["pid"], 0.0), w.get("peak_rss_mb", 0.0))
            cpu[w["pid"]] = max(cpu.get(w["pid"], 0.0), w.get("cpu_s", 0.0))
    failed = [f"{r['order_id']}: {r['reason']}" for r in results if r["status"] != "done"]
    return {
        "workers": workers,
        "orders": len(results),
        "seconds": seconds,
        "per_min": 60.0 * len(results) / seconds,
        "design_s": sum(r["timings"].get("order_s", 0) for r in results),
        "peak_mb": max(peak.values(), default=float("nan")),
        "cpu_s": sum(cpu.values()),
        "processes": len(peak),
        "failed": failed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=6, help="number of orders (default 6)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory(prefix="orthogen-bench-orders-") as folder:
        orders = write_orders(Path(folder), args.orders)
        rows = [bench(orders, w) for w in args.workers]
    table = Table(title=f"orthogen batch: {args.orders} single-foot orders of the bundled scans")
    for col in (
        "workers",
        "wall s",
        "orders/min",
        "speed-up",
        "sum of order s",
        "peak RSS / worker MB",
        "worker processes",
    ):
        table.add_column(col, justify="right")
    base = rows[0]["seconds"]
    for r in rows:
        table.add_row(
            str(r["workers"]),
            f"{r['seconds']:.1f}",
            f"{r['per_min']:.1f}",
            f"{base / r['seconds']:.2f}",
            f"{r['design_s']:.1f}",
            f"{r['peak_mb']:.0f}",
            str(r["processes"]),
        )
    Console(width=120).print(table)
    problems = [f for r in rows for f in r["failed"]]
    for p in problems:
        print(f"failed: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
