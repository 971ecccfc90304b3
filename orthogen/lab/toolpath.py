"""Toolpaths for a blank: roughing in z-levels, ball-end finishing raster, profile cut with tabs.

Everything is in the blank's frame (mm; origin at the blank's corner, z = 0 on its top, the parts'
flat bottoms on z = -T). The tool heights come from opencamlib's drop-cutter over the parts' top
triangles (:mod:`orthogen.lab.dropcutter`), so no tool position cuts below the design:

* **roughing** (flat mill): raster lines ``step_over`` x diameter apart; each z-level cuts where
  material is left, the tool riding ``stock_mm`` above the design where that is higher than the level;
* **finishing** (ball mill): raster lines along x, ``2 sqrt(2 R h - h^2)`` apart for the scallop
  target ``h`` on the flat, with part lines added half-way wherever the cusp between two lines
  (computed from the dropped balls) stands more than ``h`` off the design; linked zig-zag;
* **profile** (flat mill): around each outline (climb, clockwise), stepping down to the blank's
  bottom; the last passes below the tab height lift over ``tabs`` holding tabs.

The result is a sequence of moves per operation; :mod:`orthogen.lab.gcode` writes it out.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import LinearRing, LineString, Polygon, box
from shapely.ops import unary_union

from orthogen.foot.heightmap import Grid, envelopes
from orthogen.lab.dropcutter import DropCutter, sample_polyline, simplify, staircase
from orthogen.lab.mill_data import Feeds, MillOptions, Tool

RAPID, FEED, PLUNGE = 0, 1, 2
#: Chord tolerances of the sampled tool paths (mm): bending down would gouge, bending up leaves stock.
TOL_CONVEX_MM, TOL_CONCAVE_MM = 0.008, 0.02
#: Kept-point tolerance when straight runs of samples are merged into one move (mm).
SIMPLIFY_MM = 0.003
#: Rounds of adding finishing lines where the cusp between two is too high, and the closest lines
#: (a fraction of the flat step-over: a 66-degree wall needs 0.4).
MAX_SPLITS, MIN_STEP_FRACTION = 4, 0.15
#: A part line is added where the cusp estimate exceeds the scallop target by more than this (mm):
#: the estimate (the ball's circle at one x) errs high wherever the path climbs or falls along x,
#: and the check of the cut allows the target + 0.1 mm.
CUSP_ALLOWANCE_MM = 0.05
#: Finishing lines whose ends are this close (in step-overs) are linked along the surface.
LINK_STEPS = 4.0
#: Roughing samples every this many mm, refined where the chord would eat half the stock.
ROUGH_SAMPLE_MM = 2.0
#: Chords steeper than this (dz per mm across) are stepped over: the path falls off or climbs an edge.
#: Finishing keeps real slopes (the designs stay under ~70 degrees); roughing steps more readily.
FINISH_STEP_SLOPE, ROUGH_STEP_SLOPE = 6.0, 2.0
#: Clearance above known-clear material before a plunge at feed (mm).
CLEAR_MM = 1.0


@dataclass(frozen=True)
class Operation:
    """One tool's moves: ``xyz[i]`` is reached from ``xyz[i-1]`` by ``motion[i]`` (RAPID/FEED/PLUNGE)."""

    name: str
    tool: Tool
    feeds: Feeds
    xyz: np.ndarray
    motion: np.ndarray
    notes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Toolpath:
    """The operations for one blank and the heights they assume (blank frame, mm)."""

    operations: tuple[Operation, ...]
    safe_z: float
    floor_z: float
    tab_top_z: float
    points_dropped: int


class _Moves:
    """Accumulates moves; every entry into material comes from the safe height."""

    def __init__(self, safe_z: float):
        self.safe = safe_z
        self.xyz: list[np.ndarray] = []
        self.motion: list[np.ndarray] = []
        self.pos: np.ndarray | None = None

    def add(self, pts: np.ndarray, kind: int) -> None:
        pts = np.atleast_2d(np.asarray(pts, float))
        if len(pts):
            self.xyz.append(pts)
            self.motion.append(np.full(len(pts), kind, np.int8))
            self.pos = pts[-1]

    def retract(self) -> None:
        if self.pos is not None and self.pos[2] < self.safe:
            self.add([self.pos[0], self.pos[1], self.safe], RAPID)

    def enter(self, start: np.ndarray, clear_z: float) -> None:
        """Retract, rapid above ``start``, rapid down to ``clear_z`` and plunge to ``start``."""
        self.retract()
        x, y, z = start
        if self.pos is None or abs(self.pos[0] - x) > 1e-9 or abs(self.pos[1] - y) > 1e-9:
            self.add([x, y, self.safe], RAPID)
        clear_z = min(clear_z, self.safe)
        if clear_z > z + 1e-9 and clear_z < self.safe - 1e-9:
            self.add([x, y, clear_z], RAPID)
        self.add([x, y, z], PLUNGE)

    def operation(self, name: str, tool: Tool, feeds: Feeds, notes: dict) -> Operation:
        self.retract()
        xyz = np.concatenate(self.xyz) if self.xyz else np.zeros((0, 3))
        motion = np.concatenate(self.motion) if self.motion else np.zeros(0, np.int8)
        return Operation(name, tool, feeds, xyz, motion, notes)


def scallop_step(radius: float, scallop: float) -> float:
    """Step-over (mm) between ball-end passes on a flat surface for a scallop height ``scallop``."""
    return 2.0 * np.sqrt(2.0 * radius * scallop - scallop * scallop)


def _intervals(region: Polygon, y: float) -> list[tuple[float, float]]:
    """x intervals of the horizontal line at ``y`` inside ``region``, sorted."""
    x0, _, x1, _ = region.bounds
    cut = region.intersection(LineString([(x0 - 1.0, y), (x1 + 1.0, y)]))
    parts = getattr(cut, "geoms", [cut])
    out = []
    for g in parts:
        if g.geom_type == "LineString" and g.length > 1e-6:
            xs = [c[0] for c in g.coords]
            out.append((min(xs), max(xs)))
    return sorted(out)


def _line_ys(lo: float, hi: float, step: float) -> np.ndarray:
    n = max(int(np.ceil((hi - lo) / step)), 1)
    return np.linspace(lo, hi, n + 1)


def roughing(dc: DropCutter, region: Polygon, tool: Tool, feeds: Feeds, floor_z: float, safe_z: float,
             stock: float) -> Operation:
    """Z-level roughing over ``region`` (tool centres) with ``dc`` (flat tool grown by the stock)."""
    _, ylo, _, yhi = region.bounds
    ys = _line_ys(ylo, yhi, feeds.step_over * tool.diameter_mm)
    segs = [(y, a, b) for y in ys for a, b in _intervals(region, y)]
    paths = sample_polyline(
        dc, [np.array([a, y]) for y, a, _ in segs], [np.array([b, y]) for y, _, b in segs],
        ROUGH_SAMPLE_MM, stock / 2, np.inf, ROUGH_SAMPLE_MM / 4,
    )
    paths = [staircase(p, ROUGH_STEP_SLOPE) for p in paths]
    n_levels = max(int(np.ceil(-floor_z / feeds.step_down_mm - 1e-9)), 1)
    levels = np.maximum(-feeds.step_down_mm * np.arange(1, n_levels + 1), floor_z)
    moves = _Moves(safe_z)
    for k, level in enumerate(levels):
        above = 0.0 if k == 0 else float(levels[k - 1])
        for j, path in enumerate(paths):
            p = path if j % 2 == 0 else path[::-1]
            todo = p[:, 2] < above - 1e-6
            if not todo.any():
                continue
            # runs of samples with material at this level, one sample beyond each end
            grow = todo | np.r_[todo[1:], False] | np.r_[False, todo[:-1]]
            edges = np.flatnonzero(np.diff(np.r_[0, grow.astype(np.int8), 0]))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                run = p[a:b].copy()
                run[:, 2] = np.maximum(run[:, 2], level)
                run = simplify(run, SIMPLIFY_MM)
                moves.enter(run[0], max(above, run[0, 2]) + CLEAR_MM)
                moves.add(run[1:], FEED)
    return moves.operation("roughing", tool, feeds, {"levels_mm": [round(float(z), 3) for z in levels],
                                                      "lines": len(ys)})


def _raster_lines(dc: DropCutter, region: Polygon, windows, sample: float) -> dict[float, list[np.ndarray]]:
    """Dropped ball paths (k, 3), in +x order, on lines ``(y, x0, x1)`` clipped to the region."""
    segs = []
    for y, x0, x1 in windows:
        for a, b in _intervals(region, y):
            a, b = max(a, x0), min(b, x1)
            if b - a > 1e-6:
                segs.append((float(y), a, b))
    starts = [np.array([a, y]) for y, a, _ in segs]
    ends = [np.array([b, y]) for y, _, b in segs]
    paths = sample_polyline(dc, starts, ends, sample, TOL_CONVEX_MM, TOL_CONCAVE_MM, sample / 8)
    out: dict[float, list[np.ndarray]] = {}
    for (y, _, _), path in zip(segs, paths, strict=True):
        out.setdefault(y, []).append(staircase(path, FINISH_STEP_SLOPE))
    return out


def _windows(mask: np.ndarray, xs: np.ndarray, pad: float) -> list[tuple[float, float]]:
    """x intervals where ``mask`` holds, each grown by ``pad`` and merged."""
    if not mask.any():
        return []
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    out: list[list[float]] = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        lo, hi = xs[a] - pad, xs[b - 1] + pad
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def _cusp_windows(lines: dict[float, list[np.ndarray]], top: np.ndarray, grid: Grid, radius: float,
                  limit: float, min_gap: float, dx: float = 0.5) -> list[tuple[float, float, float]]:
    """Where the cusp between two neighbouring lines stands more than ``limit`` off the design
    (along its normal): ``(y, x0, x1)`` windows for a line half-way between them.

    In the cross-section at every x both balls are circles; their lower intersection is the cusp
    (the ball swept along x only lowers it, so this errs on the high side).
    """
    from orthogen.foot.heightmap import sample as sample_field

    ys = sorted(lines)
    gx, gy = np.gradient(top, grid.spacing)
    out = []
    for y1, y2 in itertools.pairwise(ys):
        if y2 - y1 < min_gap:
            continue
        both = lines[y1] + lines[y2]
        xs = np.arange(min(p[0, 0] for p in both), max(p[-1, 0] for p in both) + dx, dx)
        z = []
        for y in (y1, y2):
            zy = np.full(len(xs), np.nan)
            for p in lines[y]:
                on = (xs >= p[0, 0]) & (xs <= p[-1, 0])
                zy[on] = np.interp(xs[on], p[:, 0], p[:, 2])
            z.append(zy + radius)  # ball centres
        dy, dz = y2 - y1, z[1] - z[0]
        d = np.hypot(dy, dz)
        half = np.sqrt(np.maximum(radius * radius - d * d / 4, 0.0))
        yc = (y1 + y2) / 2 + half * dz / np.maximum(d, 1e-12)  # lower intersection of the two circles
        zc = (z[0] + z[1]) / 2 - half * dy / np.maximum(d, 1e-12)
        pts = np.column_stack([xs, yc])
        ref = sample_field(top, grid, pts)
        cos = 1.0 / np.sqrt(1.0 + sample_field(gx, grid, pts) ** 2 + sample_field(gy, grid, pts) ** 2)
        h = np.where(d < 2 * radius, (zc - ref) * cos, np.inf)
        bad = np.isfinite(z[0]) & np.isfinite(z[1]) & ~np.isnan(h) & (h > limit)  # NaN: off the grid
        out += [((y1 + y2) / 2, a, b) for a, b in _windows(bad, xs, radius)]
    return out


def _raster(
    dc: DropCutter, region: Polygon, top: np.ndarray, grid: Grid, radius: float, s0: float, limit: float,
    sample: float, splits: int,
) -> tuple[dict[float, list[np.ndarray]], list[np.ndarray]]:
    """Lines along x over ``region`` ``s0`` apart (paths by line y, in +x order) and the part lines
    added in ``splits`` rounds where cusps stand more than ``limit`` off the design."""
    ys = _line_ys(region.bounds[1], region.bounds[3], s0)
    lines = _raster_lines(dc, region, [(y, -np.inf, np.inf) for y in ys], sample)
    every = {y: list(p) for y, p in lines.items()}
    parts: list[np.ndarray] = []
    for _ in range(splits):
        add = _cusp_windows(every, top, grid, radius, limit, MIN_STEP_FRACTION * 2 * s0)
        if not add:
            break
        for y, paths in _raster_lines(dc, region, add, sample).items():
            every.setdefault(y, []).extend(paths)
            every[y].sort(key=lambda p: p[0, 0])
            parts += paths
    for y in lines:
        lines[y].sort(key=lambda p: p[0, 0])
    return lines, parts


def _nearest_first(paths: list[np.ndarray], pos: np.ndarray | None) -> list[np.ndarray]:
    """Paths in greedy nearest-end order from ``pos``, each reversed when its far end is nearer."""
    left = list(paths)
    out = []
    while left:
        if pos is None:
            k, rev = 0, False
        else:
            d0 = [float(np.hypot(*(p[0, :2] - pos[:2]))) for p in left]
            d1 = [float(np.hypot(*(p[-1, :2] - pos[:2]))) for p in left]
            k0, k1 = int(np.argmin(d0)), int(np.argmin(d1))
            k, rev = (k1, True) if d1[k1] < d0[k0] else (k0, False)
        p = left.pop(k)
        p = p[::-1] if rev else p
        out.append(p)
        pos = p[-1]
    return out


def _cut_in_order(moves: _Moves, dc: DropCutter, segs: list[np.ndarray], s0: float, sample: float) -> None:
    """Cut ``segs`` in order; consecutive ends that are close are linked along the surface (dropped
    too), others are left through the safe height."""
    link = [float(np.hypot(*(segs[i + 1][0, :2] - segs[i][-1, :2]))) <= LINK_STEPS * s0
            for i in range(len(segs) - 1)]
    pairs = [i for i in range(len(link)) if link[i]]
    links = sample_polyline(dc, [segs[i][-1, :2] for i in pairs], [segs[i + 1][0, :2] for i in pairs],
                            sample, TOL_CONVEX_MM, TOL_CONCAVE_MM, sample / 8)
    link_path = {i: staircase(p, FINISH_STEP_SLOPE) for i, p in zip(pairs, links, strict=True)}
    for i, path in enumerate(segs):
        path = simplify(path, SIMPLIFY_MM)
        if i == 0 or not link[i - 1]:
            moves.enter(path[0], moves.safe)
        moves.add(path[1:], FEED)
        if i in link_path:
            moves.add(simplify(link_path[i], SIMPLIFY_MM)[1:], FEED)


def _zigzag(lines: dict[float, list[np.ndarray]]) -> list[np.ndarray]:
    segs = []
    for j, y in enumerate(sorted(lines)):
        segs += [p if j % 2 == 0 else p[::-1] for p in (lines[y] if j % 2 == 0 else lines[y][::-1])]
    return segs


def finishing(triangles: np.ndarray, floor_z: float, region: Polygon, top: np.ndarray, grid: Grid, tool: Tool,
              feeds: Feeds, scallop: float, sample: float, safe_z: float) -> tuple[Operation, int]:
    """Ball-end raster over ``region`` (tool centres) for the scallop target; and points dropped.

    Lines along x, ``s0`` apart; then wherever the cusp between two lines stands more than
    ``scallop`` + ``CUSP_ALLOWANCE_MM`` off the design (the surface climbs across the lines, or bends
    concave so the ball's contact runs ahead of its centre), a line is added half-way over that
    stretch, down to ``MIN_STEP_FRACTION`` ``s0`` apart; these part lines are cut after the raster,
    nearest first. (A cross raster along y over those areas was tried: on insoles it covers half
    the part and drops more points.)
    """
    s0 = scallop_step(tool.radius, scallop)
    moves = _Moves(safe_z)
    with DropCutter(triangles, "ball", tool.radius, floor_z) as dc:
        lines, parts = _raster(dc, region, top, grid, tool.radius, s0, scallop + CUSP_ALLOWANCE_MM, sample,
                               MAX_SPLITS)
        base = _zigzag(lines)
        # the part lines after the whole raster, nearest first: neighbours link along the surface
        _cut_in_order(moves, dc, base + _nearest_first(parts, base[-1][-1] if base else None), s0, sample)
        dropped = dc.points_dropped
    ys = sorted({float(p[0, 1]) for p in parts} | set(lines))
    steps = np.diff(ys) if len(ys) > 1 else np.array([s0])
    return moves.operation("finishing", tool, feeds, {
        "lines": len(lines), "part_lines": len(parts), "scallop_mm": scallop,
        "step_over_mm": [round(float(steps.min()), 3), round(float(s0), 3)],
    }), dropped


def _ring_with_tabs(ring: np.ndarray, tabs: int, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Ring points (closed, first = last) with tab boundaries inserted, and an in-tab flag per point."""
    seg = np.linalg.norm(np.diff(ring, axis=0), axis=1)
    s = np.r_[0.0, np.cumsum(seg)]
    perim = s[-1]
    centres = (np.arange(tabs) + 0.5) * perim / max(tabs, 1)
    bounds = np.concatenate([centres - half, centres + half]) if tabs else np.zeros(0)
    s_all = np.unique(np.concatenate([s, bounds]))
    pts = np.column_stack([np.interp(s_all, s, ring[:, 0]), np.interp(s_all, s, ring[:, 1])])
    in_tab = np.zeros(len(s_all), bool)
    for c in centres:
        in_tab |= np.abs(s_all - c) <= half + 1e-9
    return pts, in_tab


def profile(outlines: list[Polygon], tops: list[float], tool: Tool, feeds: Feeds, bottom_z: float,
            tab_top_z: float, options: MillOptions, safe_z: float) -> Operation:
    """Cut each outline free (climb, clockwise) down to ``bottom_z``, over tabs up to ``tab_top_z``."""
    moves = _Moves(safe_z)
    half = options.tab_width_mm / 2 + tool.radius
    tab_count = []
    for outline, top in zip(outlines, tops, strict=True):
        ring = np.asarray(outline.buffer(tool.radius, quad_segs=16).exterior.coords)
        if LinearRing(ring).is_ccw:
            ring = ring[::-1]  # clockwise around the part: climb milling with a clockwise spindle
        start = int(np.argmin(ring[:-1, 0]))
        ring = np.vstack([ring[start:-1], ring[:start], ring[start:start + 1]])
        perim = float(np.sum(np.linalg.norm(np.diff(ring, axis=0), axis=1)))
        tabs = min(options.tabs, int(perim / (4 * half)))  # tabs take at most half the perimeter
        pts, in_tab = _ring_with_tabs(ring, tabs, half)
        tab_count.append(tabs)
        z_start = min(top + options.stock_mm, 0.0)
        n = max(int(np.ceil((z_start - bottom_z) / feeds.step_down_mm - 1e-9)), 1)
        levels = np.maximum(z_start - feeds.step_down_mm * np.arange(1, n + 1), bottom_z)
        moves.enter(np.r_[pts[0], levels[0]], z_start + CLEAR_MM)
        for k, z in enumerate(levels):
            if k:
                moves.add(np.r_[pts[0], z], PLUNGE)
            if z >= tab_top_z or not tabs:
                moves.add(np.column_stack([pts[1:], np.full(len(pts) - 1, z)]), FEED)
                continue
            zt = np.where(in_tab, tab_top_z, z)
            for i in range(1, len(pts)):
                if zt[i] > zt[i - 1]:  # reach the tab's start low, then step up onto it
                    moves.add(np.r_[pts[i], zt[i - 1]], FEED)
                    moves.add(np.r_[pts[i], zt[i]], PLUNGE)
                elif zt[i] < zt[i - 1]:  # step down where the tab ends, then go on low
                    moves.add(np.r_[pts[i - 1], zt[i]], PLUNGE)
                    moves.add(np.r_[pts[i], zt[i]], FEED)
                else:
                    moves.add(np.r_[pts[i], zt[i]], FEED)
    return moves.operation("profile", tool, feeds, {"tabs": tab_count, "tab_top_mm": round(tab_top_z, 3)})


def build_toolpath(
    triangles: np.ndarray,
    outlines: list[Polygon],
    tops: list[float],
    size: tuple[float, float, float],
    tools: dict[str, Tool],
    material: str,
    options: MillOptions,
    safe_z: float,
) -> Toolpath:
    """All operations for one blank.

    Parameters
    ----------
    triangles : (m, 3, 3) up-facing triangles of every part, blank frame (mm).
    outlines : each part's outline polygon, blank frame.
    tops : each part's highest point (blank z, mm).
    size : blank (length, width, thickness), mm.
    tools : ``rough``, ``finish`` and ``profile`` tools.
    """
    length, width, thick = size
    bottom = -thick
    centres = box(0.0, 0.0, length, width)  # tool centres stay over the blank
    rb, rr = tools["finish"].radius, tools["rough"].radius
    shape = unary_union(outlines)
    fin_region = shape.buffer(rb).intersection(centres)
    rough_region = shape.buffer(2 * rb + 1.0).intersection(centres)
    grid = Grid.covering(np.array(fin_region.bounds[:2]), np.array(fin_region.bounds[2:]), 1.0)
    faces = np.arange(3 * len(triangles)).reshape(-1, 3)
    top = envelopes(triangles.reshape(-1, 3), faces, grid)[1]
    # the drop-cutter's floor (and the tabs' top) stays under the thinnest part of every top surface
    floor_z = bottom + min(options.tab_height_mm, 0.8 * (float(np.nanmin(top)) - bottom))
    feeds = {op: t.feeds(material) for op, t in tools.items()}
    with DropCutter(triangles, "flat", rr, floor_z, offset=options.stock_mm) as dc:
        rough = roughing(dc, rough_region, tools["rough"], feeds["rough"], floor_z, safe_z, options.stock_mm)
        dropped = dc.points_dropped
    fin, fin_dropped = finishing(triangles, floor_z, fin_region, top, grid, tools["finish"], feeds["finish"],
                                 options.scallop_mm, options.sample_mm, safe_z)
    dropped += fin_dropped
    prof = profile(outlines, tops, tools["profile"], feeds["profile"], bottom, floor_z, options, safe_z)
    return Toolpath((rough, fin, prof), safe_z, floor_z, floor_z, dropped)
