"""Lab batch: design every order of an order file, in parallel, resumably, in a folder that stays the user's.

The pieces: :mod:`orthogen.lab.orders` reads the order file, :mod:`orthogen.lab.order_job` designs and
writes one order (``run_order``), :mod:`orthogen.lab.executors` runs the orders (local process pool or
dask), :mod:`orthogen.lab.folder` is the output-folder transaction (marked temporaries, manifests,
lock) and :mod:`orthogen.lab.summary` writes ``summary.csv``/``summary.json``, kept true while the
batch runs. :func:`run_batch` ties them together.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from orthogen import __version__
from orthogen.errors import OrthogenError, output_error
from orthogen.lab.executors import get_executor, run_local, start_fork_server
from orthogen.lab.folder import (
    MANIFEST,
    batch_lock,
    clean_stale,
    completed_manifest,
    order_folder_problem,
)
from orthogen.lab.order_job import order_fingerprint
from orthogen.lab.orders import Order, order_prescriptions, parse_orders
from orthogen.lab.summary import check_summary_is_ours, counts, status_result, summary_rows, write_summary

PENDING_REASON = "not designed yet in this run (an earlier result no longer counts)"
INTERRUPTED_REASON = "the batch was interrupted (Ctrl-C) before this order finished"
#: The summary is rewritten at most this often while orders finish (s); always at the end.
SUMMARY_EVERY_S = 1.0


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch, after the summary of what finished was written; ``summary`` is it."""

    def __init__(self, summary: dict) -> None:
        super().__init__("batch interrupted")
        self.summary = summary


def order_is_complete(order: Order, out_dir: Path, print_options: dict | None = None) -> dict | None:
    """The manifest of ``order`` when its outputs in ``out_dir`` are complete and from the same inputs."""

    def fingerprint() -> str:
        return order_fingerprint(order, order_prescriptions(order)[0], print_options)

    return completed_manifest(out_dir, order.order_id, fingerprint)


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

    Raises OrthogenError only for problems with the batch as a whole (order file, folder, scheduler),
    and :class:`BatchInterrupted` on Ctrl-C once the summary so far is written and the lock removed.
    ``on_start(n_orders)`` and ``on_result(result)`` report progress. ``print_options``
    (:meth:`orthogen.printing.production.PrintOptions.as_dict`) gives every order its zoned 3MF on that
    printer, sliced when asked, and with ``plates`` packs the batch onto plates (``DIR/plates``).
    """
    t0 = time.perf_counter()
    run = get_executor(executor)
    if run is run_local:
        start_fork_server()  # its imports run while the orders are read and checked
    if executor == "dask" and not scheduler:
        raise OrthogenError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    orders = parse_orders(orders_path)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OrthogenError("the output folder is a file, not a folder", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, out) from None
    results: dict[int, dict] = {}
    n_workers = 1
    state = {"stale": 0, "last_write": 0.0}

    def meta() -> dict:
        ordered = [results[i] for i in sorted(results)]
        return {
            "orders_file": str(orders_path), "out_dir": str(out), "orthogen_version": __version__,
            "executor": executor, "workers": n_workers if executor == "local" else None,
            "force": force, "stale_removed": state["stale"], "orders": len(ordered), **counts(ordered),
            "seconds": round(time.perf_counter() - t0, 2),
            **({"plates": state["plates"]} if state.get("plates") else {}),
        }  # fmt: skip

    def save(final: bool = False) -> dict:
        now = time.monotonic()
        if not final and now - state["last_write"] < SUMMARY_EVERY_S:
            return {}
        state["last_write"] = now
        m = meta()
        try:
            write_summary(out, [results[i] for i in sorted(results)], m)
        except OSError as exc:
            raise output_error(exc, out / "summary.csv") from None
        return m

    def finish(i: int, result: dict) -> None:
        results[i] = result
        if on_result is not None:
            on_result(result)
        save()

    with batch_lock(out):
        check_summary_is_ours(out)
        state["stale"] = clean_stale(out)
        if on_start is not None:
            on_start(len(orders))
        specs = []
        for i, order in enumerate(orders):
            problem = "; ".join(order.problems) or order_folder_problem(out, order.order_id)
            if problem:
                results[i] = status_result(order.to_dict(), "failed", problem)
                continue
            t = time.perf_counter()
            manifest = None if force else order_is_complete(order, out, print_options)
            if manifest is not None:
                results[i] = {**manifest["result"], "status": "skipped", "timings": {
                    "order_s": round(time.perf_counter() - t, 3)},
                    "reason": f"outputs complete and unchanged ({MANIFEST}); --force redoes it"}  # fmt: skip
                continue
            results[i] = status_result(order.to_dict(), "pending", PENDING_REASON)
            specs.append(
                {"index": i, "order": order.to_dict(), "out_dir": str(out.resolve()), "print": print_options}
            )
        save(final=True)  # no old "done" survives for an order about to be made again
        for i in sorted(results):
            if results[i]["status"] != "pending" and on_result is not None:
                on_result(results[i])
        n_workers = max(1, min(workers or os.cpu_count() or 1, len(specs) or 1))
        specs.sort(key=_expected_work, reverse=True)  # the longest first: no long order left to the end
        try:
            if specs:
                run(specs, _by_row(specs, finish), workers=n_workers, scheduler=scheduler)
        except KeyboardInterrupt:
            for i, r in results.items():
                if r["status"] != "pending":
                    continue
                manifest = order_is_complete(orders[i], out, print_options)  # finished just before Ctrl-C
                if manifest is not None:
                    results[i] = {**manifest["result"], "status": "done", "timings": {}}
                else:
                    results[i] = {**r, "status": "interrupted", "reason": INTERRUPTED_REASON}
            summary = _summary(results, save(final=True))
            raise BatchInterrupted(summary) from None
        if print_options and print_options.get("plates"):
            from orthogen.printing.lab import batch_plates

            plated = batch_plates(out, [results[i] for i in sorted(results)], print_options)
            state["plates"] = plated
        m = save(final=True)
    return _summary(results, m)


def _expected_work(spec: dict) -> int:
    """How long an order will take, roughly: the bytes of its scans (a pair is two)."""
    total = 0
    for path in spec["order"].get("scans", {}).values():
        try:
            total += os.path.getsize(path)
        except OSError:
            pass  # the order fails on its own, quickly
    return total


def _summary(results: dict[int, dict], meta: dict) -> dict:
    ordered = [results[i] for i in sorted(results)]
    return {"batch": meta, "orders": ordered, "rows": summary_rows(ordered)}


def _by_row(specs: list[dict], finish: Callable[[int, dict], None]) -> Callable[[dict], None]:
    """Route results (which carry order ids, not spec objects) back to their row."""
    pending = {(s["order"]["order_id"], s["order"]["row"]): s["index"] for s in specs}

    def done(result: dict) -> None:
        finish(pending.pop((result.get("order_id"), result.get("row"))), result)

    return done
