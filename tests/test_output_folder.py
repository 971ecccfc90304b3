"""The output folder belongs to the user: orthogen removes only what it provably made, never claims a
stale result, writes a design's files all together or not at all, and reports a full or read-only disk
as the user's situation (one line, exit code 2), not as a bug."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orthogen.cli.app import app
from orthogen.lab import executors
from orthogen.lab.batch import run_batch
from orthogen.lab.folder import LOCK_NAME, MANIFEST
from tests.test_batch import (
    FAST,
    SCANS,
    TEMPLATES,
    _batch_cmd,
    _kill_orders,
    _wait_for,
    assert_complete,
    assert_no_debris,
    write_orders,
)

LEFT = SCANS / "synth_left_full_foot.stl"
RX = TEMPLATES / "example_rx.yaml"

#: Files a user may keep in a folder they point orthogen at, named like orthogen's own temporaries.
USER_FILES = {
    "movie.mkv.part": b"half a film",
    "Downloads/movie.mkv.part": b"another half",
    ".cache.tmp-42/blob": b"cache",
    ".thesis.old-2024/chapter1.tex": b"\\chapter{One}",
    ".K-0.tmp-123/mine.txt": b"looks like orthogen's, is not",
    ".summary.csv.part": b"not an mkstemp name",
    "K-9/notes.txt": b"a folder named like an order id",
    "K-1/extra.txt": b"added to an order folder orthogen made",
    ".orthogen-batch.lock.bak": b"lock-alike",
}


def _one_order(tmp_path: Path, order_id: str, scan: Path) -> Path:
    row = {"order_id": order_id, "patient_ref": "P", "left_scan": str(scan), "prescription": str(RX)}
    return write_orders(tmp_path / "o.csv", [{**row, "overrides": FAST}])


def _snapshot(root: Path) -> dict[str, str]:
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in USER_FILES}


def _fill(root: Path, names=USER_FILES) -> None:
    for rel, data in names.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _one_line(result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


# ----------------------------------------------------------------------------------- the user's files
def test_user_files_survive_batches_kills_and_reruns(tmp_path):
    """Was: batch deleted *.part files anywhere, hidden folders that looked like its temporaries, and the
    files of a folder named like an order id."""
    out = tmp_path / "out"
    orders = _kill_orders(tmp_path, 3)  # K-0, K-1, K-2
    _fill(out, {k: v for k, v in USER_FILES.items() if not k.startswith("K-1/")})
    # 1. a run that is killed once an order is complete
    proc = subprocess.Popen(
        _batch_cmd(orders, out), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _wait_for(lambda: any(out.glob(f"K-*/{MANIFEST}")), 120, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.6)  # the orphaned workers notice and exit
    # 2. a rerun finishes; 3. the user adds a file to an order folder; 4. a forced rerun
    first = subprocess.run(_batch_cmd(orders, out), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    _fill(out, {"K-1/extra.txt": USER_FILES["K-1/extra.txt"]})
    forced = [*_batch_cmd(orders, out), "--force"]
    second = subprocess.run(forced, capture_output=True, text=True, timeout=300)
    assert second.returncode == 1  # K-1 holds a user's file, so it is not remade
    assert _snapshot(out) == {rel: hashlib.sha256(data).hexdigest() for rel, data in USER_FILES.items()}
    summary = {r["order_id"]: r for r in json.loads((out / "summary.json").read_text())["orders"]}
    assert summary["K-0"]["status"] == summary["K-2"]["status"] == "done"
    assert summary["K-1"]["status"] == "failed"
    assert "holds files orthogen did not write (extra.txt)" in summary["K-1"]["reason"]
    assert_complete(out, "K-0")
    assert not (out / LOCK_NAME).exists()
    ours = [p.name for p in out.iterdir() if p.name.startswith(".K-") and p.name != ".K-0.tmp-123"]
    assert ours == []  # nothing of orthogen's left behind either


def test_folder_named_like_an_order_is_not_overwritten(tmp_path):
    out = tmp_path / "out"
    _fill(out, {"A-1/notes.txt": b"mine"})
    orders = _one_order(tmp_path, "A-1", LEFT)
    res = run_batch(orders, out, workers=1)["orders"][0]
    assert res["status"] == "failed"
    assert res["reason"] == (
        f"the folder {out / 'A-1'} exists and was not made by orthogen (no {MANIFEST}): move it away or use "
        "another output folder"
    )
    assert (out / "A-1" / "notes.txt").read_bytes() == b"mine"
    assert sorted(os.listdir(out / "A-1")) == ["notes.txt"]


def test_a_foreign_summary_csv_is_not_overwritten(tmp_path):
    out = tmp_path / "out"
    _fill(out, {"summary.csv": b"my,own\n1,2\n"})
    orders = _one_order(tmp_path, "A-1", LEFT)
    r = CliRunner().invoke(app, ["batch", str(orders), "-o", str(out), "-q"])
    _one_line(r, "summary.csv exists and was not written by orthogen")
    assert (out / "summary.csv").read_bytes() == b"my,own\n1,2\n" and not (out / "A-1").exists()


# ----------------------------------------------------------------------------------- stale summaries
def test_summary_never_says_done_for_changed_inputs(tmp_path, monkeypatch):
    """Was: after a finished batch, a changed scan and a killed rerun, summary.csv still said done."""
    import trimesh

    scan = tmp_path / "scan.stl"
    scan.write_bytes(LEFT.read_bytes())
    orders = _one_order(tmp_path, "C-1", scan)
    out = tmp_path / "out"
    assert run_batch(orders, out, workers=1)["orders"][0]["status"] == "done"
    mesh = trimesh.load(scan)
    mesh.apply_translation([0.0, 0.0, 0.001])  # the same foot, rescanned: other bytes
    mesh.export(scan)

    def killed(specs, done, **kw):
        raise SystemExit(9)  # the run dies after it started, before the order finished

    monkeypatch.setitem(executors.EXECUTORS, "local", killed)
    with pytest.raises(SystemExit):
        run_batch(orders, out, workers=1)
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["order_id"], r["status"]) for r in rows] == [("C-1", "pending")]
    assert "not designed yet in this run" in rows[0]["reason"]


def test_summary_escapes_cells_a_spreadsheet_would_run(tmp_path):
    refs = ['=HYPERLINK("http://x","y")', "+1-2", "-3", "@SUM(A1)", "PAT-1"]
    rows = [
        {
            "order_id": f"Q-{i}",
            "patient_ref": ref,
            "left_scan": str(LEFT),
            "prescription": str(RX),
            "overrides": "heel_lift_mm=99",
        }
        for i, ref in enumerate(refs)
    ]  # fail fast: no design work
    out = tmp_path / "out"
    run_batch(write_orders(tmp_path / "o.csv", rows), out, workers=1)
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        got = [r["patient_ref"] for r in csv.DictReader(fh)]
    assert got == ['\'=HYPERLINK("http://x","y")', "'+1-2", "'-3", "'@SUM(A1)", "PAT-1"]
    data = json.loads((out / "summary.json").read_text())
    assert [r["patient_ref"] for r in data["rows"]] == refs  # JSON keeps the values as given


# ----------------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_writes_the_summary_so_far_and_removes_the_lock(tmp_path):
    orders, out = _kill_orders(tmp_path, 6), tmp_path / "out"
    proc = subprocess.Popen(
        [*_batch_cmd(orders, out)[:-1]],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(lambda: any(out.glob(f"K-*/{MANIFEST}")), 120, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.startswith("orthogen:")]
    assert len(lines) == 1 and lines[0].startswith("orthogen: interrupted: ")
    assert "not finished of 6 orders; summary: " in lines[0]
    assert not (out / LOCK_NAME).exists()
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        status = {r["order_id"]: r["status"] for r in csv.DictReader(fh)}
    assert set(status) == {f"K-{i}" for i in range(6)}
    assert "done" in status.values() and "interrupted" in status.values()
    for oid, st in status.items():
        if st == "done":
            assert_complete(out, oid)
    time.sleep(0.6)
    rerun = subprocess.run(_batch_cmd(orders, out), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert_no_debris(out)


# ----------------------------------------------------------------------------------- design: all or nothing
def _design(out: Path, *extra: str):
    args = ["design", str(LEFT), "--set", "length=three_quarter", "-o", str(out), *extra]
    return CliRunner().invoke(app, args)


def test_design_writes_its_files_all_or_none(tmp_path):
    """Was: a <stem>.json that is a folder left a device without its report (exit 3)."""
    out = tmp_path / "out"
    (out / f"{LEFT.stem}.json").mkdir(parents=True)
    r = _design(out)
    _one_line(r, str(out), "cannot write: a folder is in the way of a file")
    assert sorted(p.name for p in out.iterdir()) == [f"{LEFT.stem}.json"]
    ok = _design(tmp_path / "fine", "--format", "3mf")
    assert ok.exit_code == 0, ok.stderr
    names = sorted(p.name for p in (tmp_path / "fine").iterdir())
    assert names == sorted(f"{LEFT.stem}.{e}" for e in ("stl", "3mf", "json", "png"))


def test_output_under_a_file_and_a_dangling_link_are_the_users_situation(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    under_a_file = _design(tmp_path / "file.txt" / "out")
    _one_line(under_a_file, "cannot write: a part of the path is a file, not a folder")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    _one_line(_design(tmp_path / "link"), "cannot write:", "dangling symbolic link")
    assert not (tmp_path / "nowhere").exists()


@pytest.fixture
def small_disk(tmp_path):
    """A 256 kB tmpfs (a full disk after the first megabyte-sized file), mounted for the test."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {proc.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_is_one_line_exit_2_and_no_device_without_its_report(small_disk):
    """Was: "internal error ... please report it" with exit code 3 (errno 28)."""
    r = _design(small_disk / "out")
    _one_line(r, str(small_disk / "out"), "cannot write: the disk is full")
    assert not list(small_disk.rglob("*"))  # no .part, no STL without its JSON; the folder it made is gone


def test_read_only_folder_is_one_line_exit_2(small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    _one_line(_design(small_disk / "out"), "cannot write: the file system is read-only")
    _one_line(_design(small_disk), "cannot write: the file system is read-only")


def test_batch_on_a_full_disk_fails_the_order_then_stops_in_one_line(small_disk, tmp_path):
    orders = _one_order(tmp_path, "A-1", LEFT)
    r = CliRunner().invoke(app, ["batch", str(orders), "-o", str(small_disk), "-q", "--workers", "1"])
    assert r.exit_code in (1, 2), r.stderr  # 1: the order failed and the summary was written; 2: it was not
    lines = r.stderr.strip().splitlines()
    if r.exit_code == 2:
        assert len(lines) == 1 and "cannot write: the disk is full" in lines[0]
    else:
        summary = json.loads((small_disk / "summary.json").read_text())
        assert "cannot write: the disk is full" in summary["orders"][0]["reason"]
    assert not (small_disk / "A-1").exists() and not (small_disk / LOCK_NAME).exists()
    assert not [p for p in small_disk.iterdir() if ".tmp-" in p.name or p.name.endswith(".part")]
