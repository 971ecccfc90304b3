"""One order of a batch: design its devices, render its files, write its folder.

:func:`run_order` is the job an executor runs: a pure top-level function of a plain dict returning a
plain dict, which never raises (an :class:`~orthogen.errors.OrthogenError` becomes ``failed`` with
its one-line message worded for an order file, anything else ``failed`` with "internal error: ...").
Inside, :func:`design_order` makes and verifies the devices of every side and
:func:`write_order_outputs` renders and writes them (through :mod:`orthogen.lab.folder`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from orthogen import __version__
from orthogen.errors import OrthogenError, output_error
from orthogen.lab.folder import sha256_file, write_order_folder
from orthogen.lab.orders import Order, order_id_problem, order_prescriptions, order_why
from orthogen.lab.summary import status_result


def order_fingerprint(order: Order, rxs: dict, print_options: dict | None = None) -> str:
    """Hash of everything an order's outputs depend on: scan and prescription bytes, overrides, order facts,
    the prescriptions as applied, their template files and the print options."""
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


def _worker_info() -> dict:
    info = {"pid": os.getpid()}
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        info["peak_rss_mb"] = round(usage.ru_maxrss / 1024.0, 1)
        info["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)  # the worker's CPU time so far
    except ImportError:  # pragma: no cover - not on Windows
        pass
    return info


def run_order(spec: dict) -> dict:
    """Design, verify and write one order; never raises.

    Parameters
    ----------
    spec : ``{"order": Order.to_dict(), "out_dir": str, "print": print options or None}``.

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
        order = Order.from_dict(order_dict)
        prints = spec.get("print")
        designs = design_order(order, timings, prints)
        result = write_order_outputs(order, designs, Path(spec["out_dir"]), timings, prints)
    except OrthogenError as err:
        result = status_result(order_dict, "failed", err.message("batch"))
    except MemoryError:
        reason = "out of memory while designing this order (use fewer workers)"
        result = status_result(order_dict, "failed", reason)
    except Exception as err:
        result = status_result(order_dict, "failed", f"internal error: {type(err).__name__}: {err}")
    timings["order_s"] = round(time.perf_counter() - t0, 3)
    result["timings"] = {k: round(v, 3) for k, v in timings.items()}
    result["worker"] = _worker_info()
    return result


@dataclass(frozen=True)
class OrderDesigns:
    """The verified devices of one order, by side, and the fingerprint of the inputs they came from."""

    designs: dict
    fingerprint: str


def design_order(
    order: Order, timings: dict[str, float] | None = None, print_options: dict | None = None
) -> OrderDesigns:
    """Measure every scan of ``order`` and design, build and verify its device; nothing is written.

    The scan's column names its side: a confident detection of the other foot is refused unless the
    prescription says ``mirror: true``. A pair under a one-sided template needs unequal heel lifts.
    Raises OrthogenError (one line) for anything that stops the order.
    """
    from orthogen.device.design import design_foot, measure_options_from_rx
    from orthogen.device.template import template_geometry
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan
    from orthogen.rx.pair import check_pair

    timings = {} if timings is None else timings
    problems = list(order.problems) or [p for p in [order_id_problem(order.order_id)] if p]
    if problems:
        raise OrthogenError("; ".join(problems))
    rxs = order_prescriptions(order)[0]
    check_pair(rxs, order.prescription)
    fingerprint = order_fingerprint(order, rxs, print_options)  # hashed first: a later edit redoes it
    designs = {}
    for side, scan in order.scans.items():
        t = time.perf_counter()
        opts = measure_options_from_rx(rxs[side], MeasureOptions(side=side))
        column = f"the {side}_scan column"
        opts = replace(opts, mirror=rxs[side].mirror, side_source=column, require_side=True)
        foot = measure_scan(scan, opts)
        timings["measure_s"] = timings.get("measure_s", 0.0) + time.perf_counter() - t
        t = time.perf_counter()
        designs[side] = design_foot(foot, rxs[side], template_geometry(rxs[side].template))
        timings["design_s"] = timings.get("design_s", 0.0) + time.perf_counter() - t
    return OrderDesigns(designs, fingerprint)


Outputs = dict[str, bytes | Callable[[Path], None]]


def order_outputs(
    order: Order, designs: dict, print_options: dict | None = None
) -> tuple[Outputs, list[dict]]:
    """The files of an order (name -> bytes or writer(path)) and the summary of each side."""
    from orthogen.output.export import json_text, stl_bytes
    from orthogen.output.preview import pair_png, preview_png
    from orthogen.printing.lab import order_prints

    oid = order.order_id
    prints = order_prints(designs, oid, order.formats, print_options)  # zoned 3MF; sliced if asked
    outputs: Outputs = {}
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
    if "nc" in order.formats:  # CNC output per blank, checked by a simulated cut (lab/mill_job.py)
        from orthogen.lab.mill_job import mill_outputs

        outputs.update(mill_outputs(list(designs.values()), [f"{oid}_{s}" for s in designs]))
    print_reports = {s: p.report for s, p in prints.items()}
    html = _render_html(order, designs, previews, pair, [*outputs, f"{oid}_report.html"], print_reports)
    outputs[f"{oid}_report.html"] = html.encode("utf-8")
    return outputs, sides


def write_order_outputs(
    order: Order,
    made: OrderDesigns,
    out_dir: Path,
    timings: dict[str, float] | None = None,
    print_options: dict | None = None,
) -> dict:
    """Render the order's files and write its folder ``DIR/<order_id>`` in one step; returns the result.

    A write failure (full disk, read-only folder) fails the order with one line naming the folder.
    """
    timings = {} if timings is None else timings
    t = time.perf_counter()
    outputs, sides = order_outputs(order, made.designs, print_options)
    timings["render_s"] = time.perf_counter() - t
    t = time.perf_counter()
    result = {
        "order_id": order.order_id, "patient_ref": order.patient_ref, "row": order.row,
        "quantity": order.quantity, "status": "done", "reason": "", "sides": sides,
    }  # fmt: skip
    manifest = {"fingerprint": made.fingerprint, "order": order.to_dict(), "result": result}
    try:
        result["files"] = write_order_folder(out_dir, order.order_id, outputs, manifest)
    except OSError as exc:
        raise output_error(exc, out_dir / order.order_id) from None
    timings["write_s"] = time.perf_counter() - t
    return result


def _render_html(
    order: Order,
    designs: dict,
    previews: dict,
    pair: bytes | None,
    files: list[str],
    prints: dict | None = None,
) -> str:
    from orthogen.output.clinician_report import render_report

    facts = {
        "order_id": order.order_id, "patient_ref": order.patient_ref, "quantity": order.quantity,
        "notes": order.notes, "prescription": Path(order.prescription).name if order.prescription else None,
        "overrides": [*order.overrides, *(f"{s}.{o}" for s, ov in order.side_overrides.items() for o in ov)],
    }  # fmt: skip
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
    }  # fmt: skip
