"""Ball-end finishing: a raster for the scallop target, with part lines where cusps stand too high.

Blank frame (mm). Lines run along x, ``s0 = 2 sqrt(2 R h - h^2)`` apart for the scallop target
``h`` on the flat. The cusp between two neighbouring lines is computed from the dropped balls in the
cross-section at every x; where it stands more than ``h + CUSP_ALLOWANCE_MM`` off the design (the
surface climbs across the lines, or bends concave so the ball's contact runs ahead of its centre) a
part line is added half-way over that stretch. Close ends are linked along the surface.
"""

from __future__ import annotations

import itertools

import numpy as np
from shapely.geometry import LineString, Polygon

from orthogen.foot.heightmap import Grid
from orthogen.lab.dropcutter import WORKERS, DropCutter, sample_polyline, simplify, staircase
from orthogen.lab.mill_data import Feeds, Tool
from orthogen.lab.moves import (
    FEED,
    FINISH_STEP_SLOPE,
    SIMPLIFY_MM,
    TOL_CONCAVE_MM,
    TOL_CONVEX_MM,
    Moves,
    Operation,
)

#: Rounds of adding finishing lines where the cusp between two is too high, and the closest lines
#: (a fraction of the flat step-over: a 66-degree wall needs 0.4).
MAX_SPLITS, MIN_STEP_FRACTION = 4, 0.15
#: A part line is added where the cusp estimate exceeds the scallop target by more than this (mm):
#: the estimate (the ball's circle at one x) errs high wherever the path climbs or falls along x,
#: and the check of the cut allows the target + 0.1 mm.
CUSP_ALLOWANCE_MM = 0.05
#: Finishing lines whose ends are this close (in step-overs) are linked along the surface.
LINK_STEPS = 4.0


def scallop_step(radius: float, scallop: float) -> float:
    """Step-over (mm) between ball-end passes on a flat surface for a scallop height ``scallop``."""
    return 2.0 * np.sqrt(2.0 * radius * scallop - scallop * scallop)


def intervals(region: Polygon, y: float) -> list[tuple[float, float]]:
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


def line_ys(lo: float, hi: float, step: float) -> np.ndarray:
    n = max(int(np.ceil((hi - lo) / step)), 1)
    return np.linspace(lo, hi, n + 1)


def _raster_lines(dc: DropCutter, region: Polygon, windows, sample: float) -> dict[float, list[np.ndarray]]:
    """Dropped ball paths (k, 3), in +x order, on lines ``(y, x0, x1)`` clipped to the region."""
    segs = []
    for y, x0, x1 in windows:
        for a, b in intervals(region, y):
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
    ys = line_ys(region.bounds[1], region.bounds[3], s0)
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


def _cut_in_order(moves: Moves, dc: DropCutter, segs: list[np.ndarray], s0: float, sample: float) -> None:
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
    moves = Moves(safe_z)
    with DropCutter(triangles, "ball", tool.radius, floor_z, workers=WORKERS) as dc:
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
