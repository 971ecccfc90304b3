"""Determinism: the same inputs give byte-identical outputs across processes and worker counts.

* ``orthogen design`` run in two separate processes (different ``PYTHONHASHSEED``) writes the
  same STL, 3MF, JSON and PNG bytes, and the same bytes as ``design_files`` in this process;
* ``orthogen batch`` with ``--workers 1`` and ``--workers 2`` writes the same files (everything
  but the timings in ``summary.*``). The suite runs two small orders; ``ORTHOGEN_LONG=1`` runs
  ``templates/sample_orders.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANS = ROOT / "foot_scans"
TEMPLATES = ROOT / "templates"
LONG = bool(os.environ.get("ORTHOGEN_LONG"))
CLI = [sys.executable, "-m", "orthogen"]
TIMING_COLUMNS = {"measure_s", "design_s", "order_s"}


def _env(hash_seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    env.pop("ORTHOGEN_DEBUG", None)
    return env


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".orthogen-batch")
    }


def _differences(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    out = [f"only in one run: {k}" for k in sorted(set(a) ^ set(b))]
    out += [f"bytes differ: {k}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
    return out


def test_design_is_byte_identical_across_processes(tmp_path):
    from orthogen.synth.model import FootSpec, synth_scan

    scan = tmp_path / "right.obj"
    synth_scan(FootSpec(length_mm=180.0, side="right"), kind="plantar_shell", rotation="random", seed=5)[
        0
    ].export(scan)
    rx = TEMPLATES / "example_rx.yaml"
    args = [str(scan), "--rx", str(rx), "--set", "side=right", "--set", "label=DET-1", "--format", "3mf"]
    procs = [
        subprocess.Popen(
            [*CLI, "design", *args, "-o", str(tmp_path / name)],
            env=_env(seed),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, seed in (("a", "1"), ("b", "2"))
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert {Path(k).suffix for k in a} == {".stl", ".3mf", ".json", ".png"}
    assert not _differences(a, b)

    # and the same bytes from design_files in this process
    from orthogen.cli.design_job import design_files

    design_files(
        [scan], rx, ["side=right", "label=DET-1"], tmp_path / "c", formats=("stl", "3mf"), preview=True
    )
    assert not _differences(a, _files(tmp_path / "c"))


def _write_orders(path: Path, rows: list[dict]) -> Path:
    from orthogen.lab.orders import COLUMNS

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def _small_orders(folder: Path) -> Path:
    from orthogen.synth.model import FootSpec, synth_scan

    rows = []
    for i, (side, kind) in enumerate((("left", "plantar_shell"), ("right", "impression"))):
        scan = folder / f"{side}_{kind}.stl"
        synth_scan(FootSpec(length_mm=140.0, side=side), kind=kind, rotation="random", seed=i)[0].export(scan)
        rows.append(
            {
                "order_id": f"D-{i}",
                "patient_ref": f"P-{i}",
                f"{side}_scan": str(scan),
                "prescription": str(TEMPLATES / "example_rx.yaml"),
                "overrides": f"shoe_size=null;label=D-{i};rearfoot_post_deg=3;heel_lift_mm=2",
                "quantity": "1",
                "formats": "stl;3mf",
            }
        )
    return _write_orders(folder / "orders.csv", rows)


def _sample_orders(folder: Path) -> Path:
    with open(TEMPLATES / "sample_orders.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("left_scan", "right_scan", "prescription"):
            if row[key]:
                row[key] = str((TEMPLATES / row[key]).resolve())
    return _write_orders(folder / "orders.csv", rows)


def _summary_without_timings(text: str) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(io.StringIO(text))
    ]


@pytest.mark.parametrize("orders", ["small"] + (["sample"] if LONG else []))
def test_batch_is_byte_identical_across_worker_counts(tmp_path, orders):
    pytest.importorskip("orthogen.lab.batch")
    order_file = (_small_orders if orders == "small" else _sample_orders)(tmp_path)
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        r = subprocess.run(
            [*CLI, "batch", str(order_file), "-o", str(out), "--workers", workers, "-q"],
            env=_env(workers),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        outs[workers] = _files(out)
    a, b = outs["1"], outs["2"]
    summary = {"summary.csv", "summary.json"}
    assert not _differences(
        {k: v for k, v in a.items() if k not in summary}, {k: v for k, v in b.items() if k not in summary}
    )
    assert _summary_without_timings(a["summary.csv"].decode()) == _summary_without_timings(
        b["summary.csv"].decode()
    )
    ja, jb = json.loads(a["summary.json"]), json.loads(b["summary.json"])
    assert [o["files"] for o in ja["orders"]] == [o["files"] for o in jb["orders"]]
    assert {Path(k).suffix for k in a} >= {".stl", ".3mf", ".json", ".png", ".html"}
