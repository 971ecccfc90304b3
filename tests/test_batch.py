"""The lab batch: statuses, per-side overrides, idempotent resume, kill-and-resume, dask executor."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orthogen.lab.batch import order_is_complete, run_batch
from orthogen.lab.folder import MANIFEST, TEMP_MARKER, TEMP_MARKER_TEXT, sha256_file
from orthogen.lab.orders import COLUMNS, check_orders, parse_orders

REPO = Path(__file__).resolve().parents[1]
SCANS = REPO / "foot_scans"
TEMPLATES = REPO / "templates"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "foot_scans"
#: overrides for a quick device (three-quarter length, no pad, no skive, no label)
FAST = "template=dress;length=three_quarter;met_pad=false;medial_heel_skive_mm=0;heel_cup_depth_mm=9;label="
CLI = [sys.executable, "-c", "from orthogen.cli.app import main; main()"]


def write_orders(path: Path, rows: list[dict]) -> Path:
    """Write an order CSV; absolute paths in the rows are made relative to the file's folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            row = dict(row)
            for key in ("left_scan", "right_scan", "prescription"):
                if row.get(key) and Path(row[key]).is_absolute():
                    row[key] = os.path.relpath(row[key], path.parent)
            w.writerow(row)
    return path


def sample_rows() -> list[dict]:
    """templates/sample_orders.csv with its paths made absolute."""
    with open(TEMPLATES / "sample_orders.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in ("left_scan", "right_scan", "prescription"):
            if row[key]:
                row[key] = str((TEMPLATES / row[key]).resolve())
    return rows


def real_rows() -> list[dict]:
    rx = str(TEMPLATES / "example_rx.yaml")
    base = {"patient_ref": "REAL", "prescription": rx, "quantity": "1", "formats": "stl"}
    return [
        {
            **base,
            "order_id": "R-aetrex",
            "left_scan": str(REAL / "aetrex/dupontgu_left.stl"),
            "overrides": "shoe_size=null;met_pad=false",
        },
        {
            **base,
            "order_id": "R-techmed",
            "right_scan": str(REAL / "techmed3d/verdier_right_plantar.obj"),
            "overrides": "shoe_size=null",
        },
        {
            **base,
            "order_id": "R-foambox",
            "left_scan": str(REAL / "foambox/seraph_a_left.ply"),
            "overrides": "shoe_size=null;template=sport",
        },
        {
            **base,
            "order_id": "R-imprint",
            "left_scan": str(REAL / "imprint/polycron_left.ply"),
            "overrides": "shoe_size=null;foot_length_mm=245",
        },
        {
            **base,
            "order_id": "R-phone",
            "right_scan": str(REAL / "phone/kotak_mobile1.stl"),
            "overrides": "shoe_size=null;met_pad=false",
        },
    ]


def by_id(summary: dict) -> dict[str, dict]:
    return {r["order_id"]: r for r in summary["orders"]}


def assert_complete(out: Path, order_id: str) -> dict:
    """The order folder holds exactly its manifest's files, each matching its hash."""
    folder = out / order_id
    manifest = json.loads((folder / MANIFEST).read_text())
    assert sorted(p.name for p in folder.iterdir()) == sorted([*manifest["files"], MANIFEST])
    for name, digest in manifest["files"].items():
        assert sha256_file(folder / name) == digest, name
    return manifest


def assert_no_debris(out: Path) -> None:
    left = [p for p in out.rglob("*") if p.name.endswith(".part") or ".tmp-" in p.name or ".old-" in p.name]
    assert not left, left


def make_sample_batch(tmp: Path) -> Path:
    """Good, bad and (when present) real-scan orders in one order file."""
    (tmp / "scans").mkdir()
    (tmp / "scans" / "garbage.stl").write_bytes(b"this is not a mesh at all\x00\x01" * 10)
    (tmp / "scans" / "empty.ply").write_bytes(b"")
    rx = str(TEMPLATES / "example_rx.yaml")
    left = str(SCANS / "synth_left_full_foot.stl")
    bad = {"patient_ref": "BAD", "prescription": rx, "quantity": "1", "formats": "stl"}
    rows = [
        *sample_rows(),
        {**bad, "order_id": "B-garbage", "left_scan": str(tmp / "scans" / "garbage.stl")},
        {**bad, "order_id": "B-empty", "right_scan": str(tmp / "scans" / "empty.ply")},
        {**bad, "order_id": "B-range", "left_scan": left, "overrides": "heel_lift_mm=20"},
        {**bad, "order_id": "../evil", "left_scan": left},
        {**bad, "order_id": "B-dup", "left_scan": left},
        {**bad, "order_id": "B-dup", "left_scan": left},
    ]
    if REAL.is_dir():
        rows += real_rows()
    return write_orders(tmp / "lab" / "orders.csv", rows)


def check_statuses(out: Path, summary: dict) -> None:
    res = by_id(summary)
    assert len(summary["orders"]) >= 10
    for oid in ("S-1001", "S-1002", "S-1003", "S-1004", "S-1005"):
        assert res[oid]["status"] == "done", res[oid]["reason"]
        assert_complete(out, oid)
    assert res["B-garbage"]["status"] == "failed" and "garbage.stl" in res["B-garbage"]["reason"]
    assert res["B-empty"]["status"] == "failed" and "empty" in res["B-empty"]["reason"]
    assert "heel_lift_mm = 20 is out of range (allowed 0 to 12 mm)" in res["B-range"]["reason"]
    assert res["../evil"]["status"] == "failed" and "escape the output folder" in res["../evil"]["reason"]
    assert [r["status"] for r in summary["orders"] if r["order_id"] == "B-dup"] == ["failed", "failed"]
    assert not (out.parent / "evil").exists() and not (out / "evil").exists()
    assert all("\n" not in r["reason"] for r in summary["orders"])
    files = set(res["S-1002"]["files"])  # stl + 3mf; S-1003 asks for 3mf only
    assert {"S-1002_left.3mf", "S-1002_right.stl", "S-1002_report.html", "S-1002_right.png"} <= files
    assert not any(n.endswith(".stl") for n in res["S-1003"]["files"])
    assert_no_debris(out)


def check_summary_files(out: Path, summary: dict) -> None:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == sum(len(r["sides"]) for r in summary["orders"])
    pair = [r for r in rows if r["order_id"] == "S-1002"]
    assert [r["side"] for r in pair] == ["left", "right"]
    assert all(float(r["foot_length_mm"]) > 200 and float(r["design_s"]) > 0 for r in pair)
    failed = {r["order_id"]: r for r in rows if r["status"] == "failed"}
    assert "B-garbage" in failed and failed["B-garbage"]["reason"]
    data = json.loads((out / "summary.json").read_text())
    assert data["batch"]["orders"] == len(summary["orders"]) and data["batch"]["failed"] == 6
    assert data["rows"] == json.loads(json.dumps(summary["rows"]))


def check_pair_heel_lifts(out: Path) -> None:
    left = json.loads((out / "S-1002" / "S-1002_left.json").read_text())
    right = json.loads((out / "S-1002" / "S-1002_right.json").read_text())
    assert (left["prescription"]["heel_lift_mm"], right["prescription"]["heel_lift_mm"]) == (3.0, 9.0)
    assert (left["side"], right["side"]) == ("left", "right")
    lift = {r["side"]: next(i for i in r["intent"] if i["rx_key"] == "heel_lift_mm") for r in (left, right)}
    assert lift["left"]["measured"] == pytest.approx(3.0, abs=0.3)
    assert lift["right"]["measured"] == pytest.approx(9.0, abs=0.3)
    assert any("heel_lift_mm = 9" in w for w in right["warnings"])
    assert not any("heel_lift_mm" in w for w in left["warnings"])


def check_real_scans(out: Path, summary: dict) -> None:
    res = by_id(summary)
    for oid in ("R-aetrex", "R-techmed", "R-foambox", "R-imprint", "R-phone"):
        assert res[oid]["status"] == "done", res[oid]["reason"]
        assert_complete(out, oid)
    imprint = res["R-imprint"]["sides"][0]
    assert imprint["measurements"]["foot_length_mm"] == pytest.approx(245, abs=3)
    assert any("no real-world scale" in w for w in imprint["warnings"])
    phone = res["R-phone"]["sides"][0]["warnings"]
    assert any("not weight-bearing" in w for w in phone) and any("scale is not verified" in w for w in phone)


def check_rerun_does_no_work(orders: Path, out: Path, first: dict, first_seconds: float) -> None:
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if "summary" not in p.name}
    t = time.perf_counter()
    summary = run_batch(orders, out, workers=2)
    elapsed = time.perf_counter() - t
    done = {r["order_id"] for r in first["orders"] if r["status"] == "done"}
    for r in summary["orders"]:
        assert r["status"] == ("skipped" if r["order_id"] in done else "failed"), (r["order_id"], r["reason"])
        assert "measure_s" not in r["timings"]
    after = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if "summary" not in p.name}
    assert after == before  # no file written, replaced or added
    assert elapsed < first_seconds / 2
    rows = json.loads((out / "summary.json").read_text())["rows"]
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert skipped and all(r["foot_length_mm"] != "" for r in skipped)


def test_sample_batch_and_rerun(tmp_path):
    """At least 10 orders (real scans too when present): right statuses; a rerun does no work.

    One test rather than a module fixture, so that pytest-xdist runs the batch once.
    """
    orders, out = make_sample_batch(tmp_path), tmp_path / "out"
    t = time.perf_counter()
    summary = run_batch(orders, out, workers=2)
    seconds = time.perf_counter() - t
    check_statuses(out, summary)
    check_summary_files(out, summary)
    check_pair_heel_lifts(out)
    if REAL.is_dir():
        check_real_scans(out, summary)
    check_rerun_does_no_work(orders, out, summary, seconds)


def test_real_scan_orders_are_valid(tmp_path):
    """The real-scan orders of the sample batch pass `validate` (the batch above designs them)."""
    if not REAL.is_dir():
        pytest.skip(f"real scans not available at {REAL}; the sample batch ran on synthetic scans only")
    _, problems, warnings = check_orders(write_orders(tmp_path / "real.csv", real_rows()))
    assert problems == [] and warnings == []


def test_manifest_detects_changes_and_force_redoes(tmp_path):
    orders = write_orders(
        tmp_path / "orders.csv",
        [
            {
                "order_id": "F-1",
                "patient_ref": "P",
                "left_scan": str(SCANS / "synth_left_full_foot.stl"),
                "prescription": str(TEMPLATES / "example_rx.yaml"),
                "overrides": FAST,
            }
        ],
    )
    out = tmp_path / "out"
    assert run_batch(orders, out, workers=1)["orders"][0]["status"] == "done"
    order = parse_orders(orders)[0]
    assert order_is_complete(order, out) is not None
    stl = out / "F-1" / "F-1_left.stl"
    good = stl.read_bytes()
    stl.write_bytes(good[:-10] + b"0123456789")  # a damaged output
    assert order_is_complete(order, out) is None
    stl.write_bytes(good)
    changed = type(order).from_dict({**order.to_dict(), "overrides": (*order.overrides, "top_cover_mm=1")})
    assert order_is_complete(changed, out) is None  # other inputs
    assert order_is_complete(order, out) is not None
    (out / ".F-1.tmp-999999").mkdir()  # what a killed run leaves: a marked temporary folder, a summary part
    (out / ".F-1.tmp-999999" / TEMP_MARKER).write_text(TEMP_MARKER_TEXT)
    (out / ".summary.csv.abc1_xyz.part").write_text("partial")
    res = run_batch(orders, out, workers=1, force=True)
    assert res["orders"][0]["status"] == "done" and res["batch"]["stale_removed"] == 2
    assert_complete(out, "F-1")
    assert_no_debris(out)


def _kill_orders(tmp_path: Path, n: int) -> Path:
    rx = str(TEMPLATES / "example_rx.yaml")
    scans = ["synth_left_full_foot.stl", "synth_right_plantar_shell.obj", "synth_left_impression.ply"]
    rows = []
    for i in range(n):
        scan = scans[i % 3]
        column = "left_scan" if "left" in scan else "right_scan"
        rows.append(
            {
                "order_id": f"K-{i}",
                "patient_ref": "P",
                "prescription": rx,
                "overrides": FAST,
                column: str(SCANS / scan),
            }
        )
    return write_orders(tmp_path / "orders.csv", rows)


def _batch_cmd(orders: Path, out: Path) -> list[str]:
    return [*CLI, "batch", str(orders), "-o", str(out), "--workers", "2", "-q"]


def _wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end or proc.poll() is not None:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            pytest.fail(f"condition not reached (batch exit code {proc.returncode}): {err}")
        time.sleep(0.05)


def test_kill_batch_and_resume(tmp_path):
    orders, out = _kill_orders(tmp_path, 5), tmp_path / "out"
    proc = subprocess.Popen(
        _batch_cmd(orders, out), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _wait_for(lambda: any(out.glob(f"*/{MANIFEST}")), 120, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the batch and its workers, mid-run
    proc.wait()
    time.sleep(0.6)
    finished = {p.parent.name for p in out.glob(f"*/{MANIFEST}")}
    assert 1 <= len(finished) < 5
    for d in out.iterdir():  # every visible order folder is complete: folders appear atomically
        if d.is_dir() and not d.name.startswith("."):
            assert_complete(out, d.name)
    done = subprocess.run(_batch_cmd(orders, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    status = {r["order_id"]: r["status"] for r in summary["orders"]}
    assert status == {f"K-{i}": ("skipped" if f"K-{i}" in finished else "done") for i in range(5)}
    for i in range(5):
        assert_complete(out, f"K-{i}")
    assert_no_debris(out)
    import trimesh

    mesh = trimesh.load(out / "K-3" / "K-3_left.stl")
    assert mesh.is_watertight


def _workers(pid: int) -> list:
    import psutil

    found = []
    for p in psutil.Process(pid).children(recursive=True):
        try:
            parent = p.parent()
            forked = parent.pid != pid and "forkserver" in " ".join(parent.cmdline())
            if forked or "spawn_main" in " ".join(p.cmdline()):
                found.append(p)
        except psutil.Error:
            continue
    return found


def _cpu(proc) -> float:
    import psutil

    try:
        t = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system


def test_killed_worker_orders_are_retried(tmp_path):
    pytest.importorskip("psutil", reason="psutil finds the worker processes")
    orders, out = _kill_orders(tmp_path, 6), tmp_path / "out"
    proc = subprocess.Popen(
        _batch_cmd(orders, out),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    busy: list = []

    def a_worker_is_busy() -> bool:  # at work on its first order: a design is ~0.6 s of CPU
        busy[:] = [w for w in _workers(proc.pid) if _cpu(w) > 0.2]
        return bool(busy)

    _wait_for(a_worker_is_busy, 60, proc)
    busy[0].send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in summary["orders"]] == ["done"] * 6
    for i in range(6):
        assert_complete(out, f"K-{i}")
    assert_no_debris(out)


def test_dask_executor(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    (tmp_path / "bad.obj").write_text("v 0 0 0\nf 1 1 1\n")
    rx = str(TEMPLATES / "example_rx.yaml")
    orders = write_orders(
        tmp_path / "orders.csv",
        [
            {
                "order_id": "D-1",
                "patient_ref": "P",
                "left_scan": str(SCANS / "synth_left_full_foot.stl"),
                "prescription": rx,
                "overrides": FAST,
            },
            {
                "order_id": "D-2",
                "patient_ref": "P",
                "left_scan": str(tmp_path / "bad.obj"),
                "prescription": rx,
            },
        ],
    )
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        summary = run_batch(orders, tmp_path / "out", executor="dask", scheduler=cluster.scheduler_address)
    res = by_id(summary)
    assert res["D-1"]["status"] == "done", res["D-1"]["reason"]
    assert res["D-2"]["status"] == "failed" and "bad.obj" in res["D-2"]["reason"]
    assert summary["batch"]["executor"] == "dask"
    assert_complete(tmp_path / "out", "D-1")


def test_worker_threads_capped_at_one(monkeypatch):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from orthogen.lab.executors import THREAD_VARS, _init_worker, one_thread_env

    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    with one_thread_env():
        assert all(os.environ[k] == "1" for k in THREAD_VARS)
    assert os.environ["OMP_NUM_THREADS"] == "4"  # restored
    with ProcessPoolExecutor(
        1, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(os.getpid(),)
    ) as pool:
        assert [pool.submit(os.getenv, k).result() for k in THREAD_VARS] == ["1", "1", "1"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_workers_keep_their_heap_for_large_arrays():
    """Batch workers set glibc's mmap and trim thresholds (fewer page faults per order)."""
    import platform

    from orthogen.lab.executors import keep_heap

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert keep_heap() is True


def test_a_pool_broken_before_a_submit_is_made_anew(monkeypatch):
    """A worker dying between two orders breaks the pool before the next submit: the order goes back
    in line and runs in a new pool, instead of stopping the batch with an internal error."""
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    from orthogen.lab import executors

    pools, calls = [], []

    class Pool:
        def __init__(self, *args, **kwargs):
            pools.append(self)

        def submit(self, fn, spec):
            calls.append(spec["n"])
            if len(calls) == 2:  # the first pool breaks as the second order is handed over
                raise BrokenProcessPool("a worker died")
            fut = cf.Future()
            fut.set_result({"order_id": spec["n"]})
            return fut

        def shutdown(self, wait=True, cancel_futures=False):
            pass

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Pool)
    results = []
    executors.run_local([{"n": i, "order": {}} for i in range(4)], results.append, workers=1)
    assert sorted(r["order_id"] for r in results) == [0, 1, 2, 3]
    assert len(pools) == 2 and calls == [0, 1, 1, 2, 3]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2, reason="one CPU")
def test_workers_run_booleans_on_their_own_thread():
    """After the worker set-up, a large boolean starts no thread pool (it would only contend with the
    other workers); a process without it does."""
    code = (
        "import sys, numpy as np\n"
        "from orthogen.lab.executors import one_boolean_thread\n"
        "from orthogen.device.solid import _manifold, grid_solid_arrays\n"
        "from orthogen.foot.heightmap import Grid\n"
        "assert one_boolean_thread() if sys.argv[1] == 'worker' else True\n"
        "g = Grid((0.5, 0.5), 1.0, (297, 128)); X, Y = g.mesh()\n"
        "_manifold(*grid_solid_arrays(g, 5 + np.sin(X / 20) * np.cos(Y / 15), np.zeros(g.shape)))\n"
        "print([int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('Threads')][0])\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    threads = {
        kind: int(subprocess.run([sys.executable, "-c", code, kind], capture_output=True, text=True,
                                 env=env, check=True).stdout.split()[-1])
        for kind in ("worker", "free")
    }  # fmt: skip
    assert threads["worker"] < threads["free"], threads


@pytest.mark.skipif(
    "forkserver" not in __import__("multiprocessing").get_all_start_methods(), reason="no fork server"
)
def test_the_fork_server_started_early_is_the_one_the_workers_come_from():
    """A batch starts its workers' fork server first, so its imports run beside the batch's own
    start-up: the pool made later forks from that same server, and the server's numeric libraries
    are single-threaded as the workers' must be."""
    code = (
        "import os\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from multiprocessing import forkserver\n"
        "from orthogen.lab import executors\n"
        "assert executors.start_fork_server()\n"
        "pid = forkserver._forkserver._forkserver_pid\n"
        "with ProcessPoolExecutor(1, mp_context=executors._pool_context()) as pool:\n"
        "    assert pool.submit(os.getppid).result() == pid\n"
        "env = open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0')  # read once the server serves\n"
        "assert b'OPENBLAS_NUM_THREADS=1' in env and b'OMP_NUM_THREADS=1' in env, env\n"
        "assert os.environ.get('OPENBLAS_NUM_THREADS') != '1'  # the batch process itself is left as it was\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
