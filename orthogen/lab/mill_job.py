"""The milling job: designed devices in, per blank a G-code program checked by a simulated cut out.

For each blank: choose the blank and place the part(s) (a pair side by side when one blank holds
both), build the toolpaths, write the G-code for the machine, read it back with the G-code parser,
simulate the cut and compare it with the design. A job whose simulated cut leaves more than the
tolerance, gouges, cuts with a rapid, leaves the blank or the machine's travel is refused, as is one
whose tools cannot reach the depth. Nothing is written here: :func:`job_files` gives the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orthogen import __version__
from orthogen.errors import GeometryError, OrthogenError
from orthogen.lab.blanks import Placement, choose_blank
from orthogen.lab.cut_sim import CutResult, compare, simulate
from orthogen.lab.dropcutter import WORKERS
from orthogen.lab.gcode import write_gcode
from orthogen.lab.gcode_read import Program, machining_time, read_program
from orthogen.lab.mill_data import (
    DEFAULT_MATERIAL,
    Machine,
    MillOptions,
    Tool,
    get_blank,
    get_machine,
    job_tools,
    tables,
)
from orthogen.lab.mill_part import MillPart, part_for
from orthogen.lab.moves import Toolpath
from orthogen.lab.toolpath import build_toolpath


@dataclass(frozen=True)
class BlankJob:
    """One blank's program and its checks."""

    stem: str
    placement: Placement
    parts: tuple[MillPart, ...]
    toolpath: Toolpath
    gcode: str
    program: Program
    time: dict
    cut: CutResult
    report: dict
    timings: dict  # seconds (wall, CPU) per stage; not in the report, which depends only on the inputs


def _material(parts: list[MillPart], options: MillOptions, blank_name: str | None) -> str:
    kinds = {p.kind for p in parts}
    if len(kinds) > 1:
        raise OrthogenError("a pair must be milled the same way (both devices or both positives)")
    material = options.material
    if blank_name is not None:
        blank_material = get_blank(blank_name).material
        if material not in ("auto", blank_material):
            raise OrthogenError(f"material = {material!r} but blank {blank_name!r} is {blank_material}")
        return blank_material
    return DEFAULT_MATERIAL[kinds.pop()] if material == "auto" else material


def _groups(
    parts: list[MillPart], material: str, blank_name: str | None
) -> list[tuple[list[MillPart], Placement]]:
    """Parts per blank: all in one when a blank holds them, else one blank each."""
    rules = tables()[0]

    def fit(ps: list[MillPart]) -> Placement:
        boxes = [p.outline.bounds for p in ps]
        return choose_blank(boxes, max(p.height_mm for p in ps), material, rules, blank_name)

    try:
        return [(parts, fit(parts))]
    except OrthogenError:
        if len(parts) == 1:
            raise
    return [([p], fit([p])) for p in parts]


def _check_reach(toolpath: Toolpath) -> None:
    for op in toolpath.operations:
        if len(op.xyz) and -float(op.xyz[:, 2].min()) > op.tool.reach_mm + 1e-6:
            raise OrthogenError(
                f"{op.name}: tool {op.tool.name!r} reaches {op.tool.reach_mm:g} mm below the collet but the "
                f"cut goes {-float(op.xyz[:, 2].min()):.1f} mm below the blank's top; use a thinner blank "
                "or a longer tool"
            )


def _envelope(program: Program, size: tuple[float, float, float], safe_z: float, machine: Machine) -> dict:
    """Whether every move stays over the blank (tool centre), between its bottom and the safe height,
    and within the machine's travel."""
    end = program.end[np.all(np.isfinite(program.end), axis=1)]
    length, width, thick = size
    tol = 1e-3
    inside = (
        (end[:, 0] >= -tol)
        & (end[:, 0] <= length + tol)
        & (end[:, 1] >= -tol)
        & (end[:, 1] <= width + tol)
        & (end[:, 2] >= -thick - tol)
        & (end[:, 2] <= safe_z + tol)
    )
    lo, hi = end.min(axis=0), end.max(axis=0)
    travel = machine.travel_mm
    in_travel = bool(
        lo[0] >= -tol
        and hi[0] <= travel[0]
        and lo[1] >= -tol
        and hi[1] <= travel[1]
        and hi[2] - lo[2] <= travel[2]
    )
    return {
        "moves_outside_blank": int((~inside).sum()),
        "within_machine_travel": in_travel,
        "extent_mm": [[round(float(a), 3), round(float(b), 3)] for a, b in zip(lo, hi, strict=True)],
    }


def _refuse_if_bad(stem: str, cut: CutResult, counts: dict, env: dict, program: Program) -> None:
    s = cut.stats
    problems = []
    if s["max_leftover_mm"] > s["leftover_tolerance_mm"] + 1e-9:
        problems.append(
            f"{s['max_leftover_mm']:.3f} mm left where the tool reaches "
            f"(tolerance {s['leftover_tolerance_mm']:.3f})"
        )
    if s["max_gouge_mm"] > s["gouge_limit_mm"] + 1e-9:
        problems.append(f"a gouge {s['max_gouge_mm']:.3f} mm deep (limit {s['gouge_limit_mm']:.2f})")
    if counts["rapid_cuts"]:
        problems.append(f"{counts['rapid_cuts']} rapid moves cut material")
    if counts["cuts_without_tool"] or counts["cuts_with_spindle_off"]:
        problems.append("cuts with no tool loaded or the spindle stopped")
    if env["moves_outside_blank"] or not env["within_machine_travel"]:
        problems.append("moves leave the blank or the machine's travel")
    if program.parsed_lines != program.code_lines:
        problems.append("lines the G-code parser does not read")
    if problems:
        raise GeometryError(f"{stem}: the simulated cut fails: " + "; ".join(problems))


def _blank_job(
    stem: str,
    parts: list[MillPart],
    placement: Placement,
    tools: dict[str, Tool],
    material: str,
    options: MillOptions,
    machine: Machine,
) -> BlankJob:
    clock = _Clock()
    tri = [placement.to_blank(i, p.vertices[p.top_faces]) for i, p in enumerate(parts)]
    outlines = [_shift(p.outline, placement.offsets[i]) for i, p in enumerate(parts)]
    tops = [float(t[:, :, 2].max()) for t in tri]
    triangles = np.concatenate(tri)
    toolpath = build_toolpath(
        triangles, outlines, tops, placement.size, tools, material, options, machine.safe_z_mm
    )
    clock.lap("toolpath")
    _check_reach(toolpath)
    notes = [f"{p.kind} {p.label} ({p.side})" for p in parts]
    gcode = write_gcode(toolpath, machine, placement.blank, stem, notes)
    clock.lap("gcode")
    program = read_program(gcode, f"{stem}.nc")
    time = machining_time(program, machine.rapid_xy_mm_min, machine.rapid_z_mm_min, machine.tool_change_s)
    by_number = {op.tool.number: (op.tool.type, op.tool.radius) for op in toolpath.operations}
    grid, surface, counts = simulate(program, by_number, placement.size, options.sim_cell_mm, WORKERS)
    cut = compare(grid, surface, triangles, outlines, tools["finish"].radius, options.scallop_mm)
    env = _envelope(program, placement.size, toolpath.safe_z, machine)
    clock.lap("simulation")
    _refuse_if_bad(stem, cut, counts, env, program)
    report = _report(
        stem, parts, placement, toolpath, program, time, cut, counts, env, machine, options, material
    )
    return BlankJob(stem, placement, tuple(parts), toolpath, gcode, program, time, cut, report, clock.laps)


class _Clock:
    """Wall and CPU seconds per stage."""

    def __init__(self) -> None:
        import time

        self._time = time
        self.laps: dict[str, tuple[float, float]] = {}
        self._t = (time.perf_counter(), time.process_time())

    def lap(self, name: str) -> None:
        now = (self._time.perf_counter(), self._time.process_time())
        self.laps[name] = (now[0] - self._t[0], now[1] - self._t[1])
        self._t = now


def _shift(poly, offset):
    from shapely import affinity

    return affinity.translate(poly, offset[0], offset[1])


def _r(x: float, n: int = 3) -> float:
    return round(float(x), n)


def _report(
    stem, parts, placement, toolpath, program, time, cut, counts, env, machine, options, material
) -> dict:
    blank = placement.blank
    ops = []
    for op in toolpath.operations:
        sel = program.tool == op.tool.number
        lengths = program.lengths
        ops.append(
            {
                "operation": op.name,
                "tool": op.tool.name,
                "tool_number": op.tool.number,
                "type": op.tool.type,
                "diameter_mm": op.tool.diameter_mm,
                "rpm": min(op.feeds.rpm, machine.max_rpm),
                "feed_mm_min": min(op.feeds.feed_mm_min, machine.max_feed_mm_min),
                "plunge_mm_min": min(op.feeds.plunge_mm_min, machine.max_feed_mm_min),
                "step_down_mm": op.feeds.step_down_mm,
                "cut_length_mm": _r(lengths[sel & ~program.rapid].sum(), 1),
                "rapid_length_mm": _r(lengths[sel & program.rapid].sum(), 1),
                **op.notes,
            }
        )
    return {
        "orthogen_version": __version__,
        "job": stem,
        "machine": {"name": machine.name, "dialect": machine.dialect, "travel_mm": list(machine.travel_mm)},
        "blank": {
            "name": blank.name,
            "material": material,
            "size_mm": list(blank.size_mm),
            "frame": "origin at the blank's corner on its top face (work offset G54); x along its length, "
            "y across, z = 0 on the top face, the parts' flat bottoms on the bottom face",
        },
        "parts": [
            {
                "kind": p.kind,
                "side": p.side,
                "label": p.label,
                "scan": p.scan,
                "offset_mm": [_r(v) for v in placement.offsets[i]],
                "outline_bounds_mm": [_r(v, 2) for v in _shift(p.outline, placement.offsets[i]).bounds],
                "height_mm": _r(p.height_mm),
            }
            for i, p in enumerate(parts)
        ],
        "options": options.model_dump(),
        "operations": ops,
        "path_length_mm": {"cut": _r(time["cut_length_mm"], 1), "rapid": _r(time["rapid_length_mm"], 1)},
        "machining_time_min": _r(time["total_min"], 2),
        "time_breakdown_min": {
            k: _r(v, 2) for k, v in time.items() if k.endswith("_min") and k != "total_min"
        },
        "time_note": "feeds at F, rapids at the slowest axis' rate, dwells and tool changes; no acceleration",
        "gcode": {
            "lines": program.code_lines,
            "parsed_lines": program.parsed_lines,
            "moves": len(program.line),
            "tool_changes": program.tool_changes,
        },
        "simulation": {k: (_r(v, 4) if isinstance(v, float) else v) for k, v in cut.stats.items()},
        "checks": {**counts, **env, "points_dropped": toolpath.points_dropped},
        "warnings": sorted({w for p in parts for w in p.warnings}),
    }


def mill_designs(
    designs: list,
    labels: list[str],
    options: MillOptions | None = None,
    machine: str = "grbl",
    blank: str | None = None,
) -> list[BlankJob]:
    """Mill one design or a pair: one :class:`BlankJob` per blank used.

    ``labels`` name the parts (file stems). Raises OrthogenError (exit 2) for bad input: unknown
    machine, tool or blank, no blank that fits, a shell asked to be milled directly, an undercut,
    a tool too short, or a simulated cut out of tolerance.
    """
    options = options or MillOptions()
    mach = get_machine(machine)
    tools = job_tools(options)
    parts = [part_for(d, label, options.part) for d, label in zip(designs, labels, strict=True)]
    material = _material(parts, options, blank)
    for t in tools.values():
        t.feeds(material)
    jobs = []
    for group, placement in _groups(parts, material, blank):
        stem = "_".join(p.label for p in group)
        jobs.append(_blank_job(stem, group, placement, tools, material, options, mach))
    return jobs


def job_files(job: BlankJob) -> dict[str, bytes]:
    """The files of one blank: ``.nc``, ``.mill.json``, ``.mill.stl`` (the parts in the blank's frame)
    and ``.mill.png``."""
    from orthogen.lab.mill_picture import cut_png
    from orthogen.output.export import json_text, stl_bytes

    verts, faces, base = [], [], 0
    for i, p in enumerate(job.parts):
        verts.append(job.placement.to_blank(i, p.vertices))
        faces.append(np.asarray(p.faces) + base)
        base += len(p.vertices)
    s = job.cut.stats
    t = job.time["total_min"]
    subtitle = (
        f"{job.placement.blank.name}, {t:.0f} min; leftover ≤ {s['max_leftover_mm']:.3f} mm "
        f"(tolerance {s['leftover_tolerance_mm']:.2f}), gouge {s['max_gouge_mm']:.3f} mm"
    )
    png = cut_png(job.cut, f"simulated cut: {job.stem}", subtitle)
    report = dict(job.report)
    names = {
        "nc": f"{job.stem}.nc",
        "json": f"{job.stem}.mill.json",
        "stl": f"{job.stem}.mill.stl",
        "png": f"{job.stem}.mill.png",
    }
    report["files"] = names
    return {
        names["nc"]: job.gcode.encode("ascii", "replace"),
        names["json"]: json_text(report).encode(),
        names["stl"]: stl_bytes(np.concatenate(verts), np.concatenate(faces)),
        names["png"]: png,
    }


#: What the batch mills with (``formats: nc`` in an order file).
BATCH_OPTIONS = MillOptions()
BATCH_MACHINE = "grbl"


def mill_outputs(designs: list, labels: list[str]) -> dict[str, bytes]:
    """All files of a milling job by name, with the batch's options (for the batch runner)."""
    files: dict[str, bytes] = {}
    for job in mill_designs(designs, labels, BATCH_OPTIONS, BATCH_MACHINE):
        files.update(job_files(job))
    return files
