"""Lab batch: design every order of an order file, in parallel, resumably.

Each order is one call of :func:`run_order`, a pure top-level function taking a plain dict and
returning a plain dict; it never raises (an :class:`~orthogen.errors.OrthogenError` becomes
``failed`` with its one-line message, anything else ``failed`` with "internal error: ..."), so
one bad order never stops the others, and the same function runs in a local process pool or on
a dask.distributed cluster (which must see the same file system).

Resume and atomicity: an order is written into ``DIR/.<id>.tmp-<pid>/`` (the completion manifest
``order.done.json`` last, with every file's sha256 and the order's input fingerprint), then the
folder is renamed to ``DIR/<id>``. A rerun skips an order only when its manifest matches the
current inputs and every file matches its hash; temporary folders and ``*.part`` files left by a
killed run are removed at the start. A lock file keeps two batches out of the same folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orthogen import __version__
from orthogen.errors import OrthogenError, ScanError
from orthogen.lab.orders import Order, order_id_problem, order_prescriptions, order_why, parse_orders
from orthogen.printing.lab import SUMMARY_COLUMNS as PRINT_COLUMNS

MANIFEST = "order.done.json"
MANIFEST_FORMAT = "orthogen-order-manifest/1"
LOCK_NAME = ".orthogen-batch.lock"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CRASH_REASON = "the worker process died while designing this order (killed, or out of memory)"
SUMMARY_COLUMNS = (
    "order_id", "patient_ref", "side", "status", "reason", "scan", "quantity",
    "foot_length_mm", "ball_width_mm", "heel_width_mm", "arch_height_mm", "arch_index", "foot_type",
    "heel_lift_mm", "rearfoot_post_deg", "construction", "heel_seat_deg", "volume_cm3", "min_thickness_mm",
    "warnings", "files", "measure_s", "design_s", "order_s", *PRINT_COLUMNS,
)
_STALE = re.compile(r"^\..+\.(tmp|old)-\d+$")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        raise ScanError("file not found", path) from None
    except OSError as exc:
        raise ScanError(f"cannot be read ({exc.strerror or exc})", path) from None
    return h.hexdigest()


def order_fingerprint(order: Order, rxs: dict, print_options: dict | None = None) -> str:
    """Hash of everything an order's outputs depend on: scan and prescription bytes, overrides, order facts,
    the prescriptions as applied and their template files."""
    from orthogen.rx.templates import template_path

    facts = {k: v for k, v in order.to_dict().items() if k not in ("source", "row", "problems", "scans")}
    facts["prescription"] = None
    data = {
        "orthogen": __version__,
        "order": facts,
        "scans": {side: sha256_file(p) for side, p in sorted(order.scans.items())},
        "prescription": sha256_file(order.prescription) if order.prescription else None,
        "assessment": sha256_file(order.assessment) if isinstance(order.assessment, str) else None,
        "applied": {side: rx.as_applied() for side, rx in sorted(rxs.items())},
        "templates": {side: sha256_file(template_path(rx.template)) for side, rx in sorted(rxs.items())},
        "print": print_options,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _side_rows(order_dict: dict) -> list[dict]:
    rows = [{"side": s, "scan": p} for s, p in order_dict.get("scans", {}).items()]
    return rows or [{"side": "", "scan": ""}]


def failed_result(order_dict: dict, reason: str) -> dict:
    """The result of an order that could not be done (one-line reason)."""
    return {
        "order_id": str(order_dict.get("order_id", "")), "patient_ref": order_dict.get("patient_ref", ""),
        "row": order_dict.get("row", ""), "quantity": order_dict.get("quantity", 1), "status": "failed",
        "reason": _one_line(reason), "sides": _side_rows(order_dict), "files": {}, "timings": {},
    }


def _worker_info() -> dict:
    info = {"pid": os.getpid()}
    try:
        import resource

        info["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    except ImportError:  # pragma: no cover - not on Windows
        pass
    return info


def run_order(spec: dict) -> dict:
    """Design, verify and write one order; never raises.

    Parameters
    ----------
    spec : ``{"order": Order.to_dict(), "out_dir": str}``.

    Returns
    -------
    dict
        ``order_id``, ``status`` ("done" or "failed"), ``reason`` (one line), ``sides`` (measurements
        and device numbers per side), ``files`` (name -> sha256), ``timings`` (s) and ``worker``.
    """
    t0 = time.perf_counter()
    order_dict = dict(spec.get("order", {})) if isinstance(spec, dict) else {}
    timings: dict[str, float] = {}
    try:
        result = _do_order(Order.from_dict(order_dict), Path(spec["out_dir"]), timings, spec.get("print"))
    except OrthogenError as err:
        result = failed_result(order_dict, str(err))
    except MemoryError:
        result = failed_result(order_dict, "out of memory while designing this order (use fewer workers)")
    except Exception as err:
        result = failed_result(order_dict, f"internal error: {type(err).__name__}: {err}")
    timings["order_s"] = round(time.perf_counter() - t0, 3)
    result["timings"] = {k: round(v, 3) for k, v in timings.items()}
    result["worker"] = _worker_info()
    return result


def _do_order(order: Order, out_dir: Path, timings: dict[str, float], print_options: dict | None = None
              ) -> dict:
    from orthogen.device.design import design_foot, measure_options_from_rx
    from orthogen.device.template import template_geometry
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan
    from orthogen.output.export import json_text, stl_bytes
    from orthogen.output.preview import pair_png, preview_png
    from orthogen.printing.lab import order_prints

    problems = list(order.problems) or [p for p in [order_id_problem(order.order_id)] if p]
    if problems:
        raise OrthogenError("; ".join(problems))
    rxs = order_prescriptions(order)[0]
    fingerprint = order_fingerprint(order, rxs, print_options)  # hashed first: a later edit redoes it
    designs = {}
    for side, scan in order.scans.items():
        t = time.perf_counter()
        foot = measure_scan(scan, measure_options_from_rx(rxs[side], MeasureOptions(side=side)))
        timings["measure_s"] = timings.get("measure_s", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        designs[side] = design_foot(foot, rxs[side], template_geometry(rxs[side].template))
        timings["design_s"] = timings.get("design_s", 0.0) + time.perf_counter() - t
    t = time.perf_counter()
    oid = order.order_id
    prints = order_prints(designs, oid, order.formats, print_options)  # zoned 3MF; sliced if asked
    timings["print_s"] = time.perf_counter() - t
    outputs: dict[str, bytes | Callable[[Path], None]] = {}
    previews = {side: preview_png(d) for side, d in designs.items()}
    pair = pair_png(designs["left"], designs["right"]) if len(designs) == 2 else None
    sides = []
    for side, d in designs.items():
        stem = f"{oid}_{side}"
        if "stl" in order.formats:
            outputs[f"{stem}.stl"] = stl_bytes(d.vertices, d.faces)
        if side in prints:
            outputs[f"{stem}.3mf"] = prints[side].write
        report = d.report()
        report["print"] = prints[side].report if side in prints else None
        report["preview"] = f"{stem}.png"
        report["order"] = {"order_id": oid, "patient_ref": order.patient_ref, "quantity": order.quantity}
        outputs[f"{stem}.json"] = json_text(report).encode()
        outputs[f"{stem}.png"] = previews[side]
        sides.append(_side_summary(side, report, [n for n in outputs if n.startswith(stem + ".")]))
    html = _render_html(order, designs, previews, pair, [*outputs, f"{oid}_report.html"],
                        {side: p.report for side, p in prints.items()})
    outputs[f"{oid}_report.html"] = html.encode("utf-8")
    timings["render_s"] = time.perf_counter() - t
    t = time.perf_counter()
    result = {
        "order_id": oid, "patient_ref": order.patient_ref, "row": order.row, "quantity": order.quantity,
        "status": "done", "reason": "", "sides": sides,
    }
    result["files"] = _write_order(out_dir, order, outputs, fingerprint, result)
    timings["write_s"] = time.perf_counter() - t
    return result


def _render_html(order: Order, designs: dict, previews: dict, pair: bytes | None, files: list[str],
                 prints: dict | None = None) -> str:
    from orthogen.output.clinician_report import render_report

    facts = {
        "order_id": order.order_id, "patient_ref": order.patient_ref, "quantity": order.quantity,
        "notes": order.notes, "prescription": Path(order.prescription).name if order.prescription else None,
        "overrides": [*order.overrides, *(f"{s}.{o}" for s, ov in order.side_overrides.items() for o in ov)],
    }
    return render_report(facts, designs, previews, pair, files=files, why=order_why(order), prints=prints)


def _side_summary(side: str, report: dict, files: list[str]) -> dict:
    from orthogen.printing.lab import print_summary

    foot, checks, rx = report["foot"], report["checks"], report["prescription"]
    keys = ("foot_length_mm", "ball_width_mm", "heel_width_mm", "arch_height_mm", "arch_index", "foot_type")
    return {
        "side": side, "scan": report["scan"], "measurements": {k: foot.get(k) for k in keys},
        "device": {
            "heel_lift_mm": rx["heel_lift_mm"], "rearfoot_post_deg": rx["rearfoot_post_deg"],
            "construction": rx["construction"],
            "heel_seat_deg": next(
                (i["measured"] for i in report["intent"] if i["rx_key"] == "rearfoot_post_deg"), None
            ),
            "volume_cm3": report["device"]["volume_cm3"], "min_thickness_mm": checks["min_thickness_mm"],
            **print_summary(report),
        },
        "warnings": report["warnings"], "files": files,
    }


def _fsync(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_order(out_dir: Path, order: Order, outputs: dict, fingerprint: str, result: dict) -> dict:
    """Write all files into a temporary folder, the manifest last, then rename the folder into place."""
    tmp = out_dir / f".{order.order_id}.tmp-{os.getpid()}"
    final = out_dir / order.order_id
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        hashes = {}
        for name, data in outputs.items():
            if callable(data):
                data(tmp / name)
            else:
                (tmp / name).write_bytes(data)
            _fsync(tmp / name)
            hashes[name] = sha256_file(tmp / name)
        manifest = {
            "format": MANIFEST_FORMAT, "orthogen_version": __version__, "order_id": order.order_id,
            "fingerprint": fingerprint, "order": order.to_dict(), "files": hashes,
            "result": {**result, "files": hashes},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _fsync(tmp / MANIFEST)
        _fsync(tmp, directory=True)
        old = out_dir / f".{order.order_id}.old-{os.getpid()}"
        if final.exists() or final.is_symlink():
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync(out_dir, directory=True)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return hashes


def completed_manifest(order: Order, out_dir: Path, print_options: dict | None = None) -> dict | None:
    """The order's manifest when its outputs exist, match their hashes and were made from the same inputs."""
    folder = out_dir / order.order_id
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT:
            return None
        rxs = order_prescriptions(order)[0]
        if manifest.get("fingerprint") != order_fingerprint(order, rxs, print_options):
            return None
        for name, digest in manifest["files"].items():
            if Path(name).name != name or sha256_file(folder / name) != digest:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OrthogenError):
        return None
    return manifest


def clean_stale(out_dir: Path) -> int:
    """Remove temporary folders and ``*.part`` files left by a killed run; returns how many."""
    removed = 0
    for entry in list(os.scandir(out_dir)):
        if entry.is_dir(follow_symlinks=False) and _STALE.match(entry.name):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
            continue
        parts = [entry] if entry.name.endswith(".part") else []
        if entry.is_dir(follow_symlinks=False):
            parts = [e for e in os.scandir(entry.path) if e.name.endswith(".part")]
        for e in parts:
            if e.is_file(follow_symlinks=False):
                os.unlink(e.path)
                removed += 1
    return removed


@contextmanager
def _batch_lock(out_dir: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(out_dir / LOCK_NAME, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OrthogenError("another orthogen batch is writing to this folder", out_dir) from None
        yield


@contextmanager
def one_thread_env() -> Iterator[None]:
    """Cap numeric-library threads at one (for the worker processes started inside)."""
    old = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _parent_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _init_worker(parent_pid: int) -> None:
    """Worker initializer: one numeric thread, and exit as soon as the batch process is gone."""
    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    ppid = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != ppid or not _parent_alive(parent_pid):
                os._exit(3)

    threading.Thread(target=watch, name="orthogen-parent-watch", daemon=True).start()


def run_local(specs: list[dict], workers: int, done: Callable[[dict], None]) -> None:
    """Run the specs in a process pool; a crashed worker's orders are retried alone, then failed."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    queue, suspects, crashes = deque(specs), deque(), {}
    inflight: dict = {}
    pool = None
    try:
        while queue or suspects or inflight:
            if pool is None:
                pool = ProcessPoolExecutor(
                    workers, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),)
                )
            while suspects and not inflight:  # a suspect of a crash runs alone
                spec = suspects.popleft()
                inflight[pool.submit(run_order, spec)] = spec
            while not suspects and queue and len(inflight) < workers:
                spec = queue.popleft()
                inflight[pool.submit(run_order, spec)] = spec
            wait(inflight, return_when=FIRST_COMPLETED)
            broken = []
            for fut, spec in list(inflight.items()):
                if not fut.done():
                    continue
                del inflight[fut]
                try:
                    done(fut.result())
                except BrokenProcessPool:
                    broken.append(spec)
                except Exception as err:  # e.g. a result that cannot be pickled
                    done(failed_result(spec["order"], f"internal error: {type(err).__name__}: {err}"))
            if broken:
                broken += inflight.values()
                inflight.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = None
                for spec in broken:
                    key = id(spec)
                    crashes[key] = crashes.get(key, 0) + 1
                    if crashes[key] >= 2:
                        done(failed_result(spec["order"], CRASH_REASON))
                    else:
                        suspects.append(spec)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def run_dask(specs: list[dict], scheduler: str, done: Callable[[dict], None]) -> None:
    """Send the specs to an existing dask.distributed scheduler."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise OrthogenError("--executor dask needs dask.distributed (pip install 'orthogen[dask]')") from None
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except Exception as err:
        raise OrthogenError(f"cannot reach the dask scheduler at {scheduler}: {_one_line(err)}") from None
    with client:
        stamp = f"{os.getpid()}-{time.time_ns()}"
        futures = {
            client.submit(run_order, spec, pure=False, key=f"orthogen-order-{i}-{stamp}"): spec
            for i, spec in enumerate(specs)
        }
        for fut in as_completed(futures, loop=client.loop):
            try:
                result = fut.result()
            except Exception as err:
                reason = f"dask worker failed: {type(err).__name__}: {err}"
                result = failed_result(futures[fut]["order"], reason)
            done(result)


def summary_rows(results: list[dict]) -> list[dict]:
    """One flat row per order and side (the columns of summary.csv)."""
    rows = []
    for r in results:
        t = r.get("timings", {})
        for s in r.get("sides", []):
            m, dev = s.get("measurements", {}), s.get("device", {})
            row = {
                "order_id": r["order_id"], "patient_ref": r.get("patient_ref", ""), "side": s.get("side", ""),
                "status": r["status"], "reason": r.get("reason", ""), "scan": s.get("scan", ""),
                "quantity": r.get("quantity", ""), **m, **dev,
                "warnings": " | ".join(s.get("warnings", [])), "files": " ".join(s.get("files", [])),
                "measure_s": t.get("measure_s"), "design_s": t.get("design_s"), "order_s": t.get("order_s"),
            }
            rows.append({k: ("" if row.get(k) is None else row.get(k)) for k in SUMMARY_COLUMNS})
    return rows


def write_summary(out_dir: Path, results: list[dict], meta: dict) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``summary.json`` atomically."""
    from orthogen.output.export import atomic_write, json_text

    rows = summary_rows(results)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    text = buf.getvalue()
    js = json_text({"batch": meta, "rows": rows, "orders": results})
    paths = []
    for name, content in (("summary.csv", text), ("summary.json", js)):

        def write(p: Path, content: str = content) -> None:
            p.write_text(content, encoding="utf-8")
            p.chmod(0o644)  # mkstemp makes 0600 files; the lab reads these

        paths.append(atomic_write(out_dir / name, write))
    return paths[0], paths[1]


def run_batch(
    orders_path: str | Path,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    force: bool = False,
    on_result: Callable[[dict], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    print_options: dict | None = None,
) -> dict:
    """Run every order of an order file into ``out_dir``; returns the summary (also written to disk).

    Raises OrthogenError only for problems with the batch as a whole (order file, folder, scheduler).
    ``on_start(n_orders)`` and ``on_result(result)`` report progress. ``print_options``
    (:meth:`orthogen.printing.production.PrintOptions.as_dict`) gives every order its zoned 3MF on that
    printer, sliced when asked, and with ``plates`` packs the batch onto plates (``DIR/plates``).
    """
    t0 = time.perf_counter()
    if executor not in ("local", "dask"):
        raise OrthogenError(f"unknown executor {executor!r} (allowed: local, dask)")
    if executor == "dask" and not scheduler:
        raise OrthogenError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    orders = parse_orders(orders_path)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OrthogenError(f"cannot create the output folder ({exc.strerror or exc})", out) from None
    results: dict[int, dict] = {}

    def finish(i: int, result: dict) -> None:
        results[i] = result
        if on_result is not None:
            on_result(result)

    with _batch_lock(out):
        stale = clean_stale(out)
        if on_start is not None:
            on_start(len(orders))
        specs = []
        for i, order in enumerate(orders):
            if order.problems:
                finish(i, failed_result(order.to_dict(), "; ".join(order.problems)))
                continue
            t = time.perf_counter()
            manifest = None if force else completed_manifest(order, out, print_options)
            if manifest is not None:
                finish(i, {**manifest["result"], "status": "skipped", "timings": {
                    "order_s": round(time.perf_counter() - t, 3)},
                    "reason": f"outputs complete and unchanged ({MANIFEST}); --force redoes it"})
                continue
            specs.append({"index": i, "order": order.to_dict(), "out_dir": str(out.resolve()),
                          "print": print_options})
        n_workers = max(1, min(workers or os.cpu_count() or 1, len(specs) or 1))
        if specs and executor == "local":
            with one_thread_env():
                run_local(specs, n_workers, _by_row(specs, finish))
        elif specs:
            run_dask(specs, str(scheduler), _by_row(specs, finish))
        ordered = [results[i] for i in sorted(results)]
        counts = {k: sum(r["status"] == k for r in ordered) for k in ("done", "skipped", "failed")}
        meta = {
            "orders_file": str(orders_path), "out_dir": str(out), "orthogen_version": __version__,
            "executor": executor, "workers": n_workers if executor == "local" else None,
            "force": force, "stale_removed": stale, "orders": len(ordered), **counts,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        if print_options and print_options.get("plates"):
            from orthogen.printing.lab import batch_plates

            meta["plates"] = batch_plates(out, ordered, print_options)
        write_summary(out, ordered, meta)
    return {"batch": meta, "orders": ordered, "rows": summary_rows(ordered)}


def _by_row(specs: list[dict], finish: Callable[[int, dict], None]) -> Callable[[dict], None]:
    """Route results (which carry order ids, not spec objects) back to their row."""
    pending = {(s["order"]["order_id"], s["order"]["row"]): s["index"] for s in specs}

    def done(result: dict) -> None:
        finish(pending.pop((result.get("order_id"), result.get("row"))), result)

    return done
