"""Ball-end finishing: a raster for the scallop target, with part lines wherever it leaves too much.

Blank frame (mm). Lines run along x, ``s0 = 2 sqrt(2 R h - h^2)`` apart for the scallop target
``h`` on the flat. The ball is then swept along them over the very cells the simulated cut is
judged on (:func:`orthogen.lab.cut_sim.design_field`): wherever it leaves more than
``h + CUSP_ALLOWANCE_MM`` off the design, along the normal, where the ball reaches (a face that
climbs across the lines, steeply at the cups' walls and rims; a concave bend, where the ball's
contact runs ahead of its centre), a part line is added half-way between the two lines either side
of the ball position that would touch there. Close ends are linked along the surface.
"""

from __future__ import annotations

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

#: Rounds of adding finishing lines where the raster leaves too much, and the closest lines (a
#: fraction of the flat step-over: across a face climbing at angle a the lines must be about
#: cos(a) s0 apart, 0.2 s0 on the rims' near-vertical outer faces).
MAX_SPLITS, MIN_STEP_FRACTION = 5, 0.1
#: A part line is added where the ball leaves more than the scallop target + this (mm); the check of
#: the cut allows the target + 0.1 mm (the links between lines, G-code rounding and the other
#: operations only cut more).
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


class _Raster:
    """Finishing lines along x over ``region``: ``base`` the raster's own lines by their y,
    ``parts`` the lines added between them, ``every`` all lines by their y; paths (k, 3), blank
    frame, each in +x order."""

    def __init__(self, dc: DropCutter, region: Polygon, sample: float):
        self.dc, self.region, self.sample = dc, region, sample
        self.every: dict[float, list[np.ndarray]] = {}
        self.parts: list[np.ndarray] = []
        self.base: dict[float, list[np.ndarray]] = {}

    def raster(self, step: float) -> list[np.ndarray]:
        """The raster's lines ``step`` apart over the region; their paths."""
        ys = line_ys(self.region.bounds[1], self.region.bounds[3], step)
        self.base = _raster_lines(self.dc, self.region, [(y, -np.inf, np.inf) for y in ys], self.sample)
        for y, paths in self.base.items():
            paths.sort(key=lambda p: p[0, 0])
            self.every[y] = list(paths)
        return [p for ps in self.base.values() for p in ps]

    def add(self, windows: list[tuple[float, float, float]]) -> list[np.ndarray]:
        """Lines over ``windows`` ``(y, x0, x1)``; their paths."""
        new = []
        for y, paths in _raster_lines(self.dc, self.region, windows, self.sample).items():
            self.every.setdefault(y, []).extend(paths)
            self.every[y].sort(key=lambda p: p[0, 0])
            new += paths
        self.parts += new
        return new

    def windows(self, xy: np.ndarray, min_gap: float, pad: float) -> list[tuple[float, float, float]]:
        """Windows ``(y, x0, x1)`` of lines to add for the tool positions ``xy`` (n, 2) a ball should
        take: half-way between the two lines that pass either side of each at its x (at it when it is
        beyond the outermost line), over its x grown by ``pad``; none between lines closer than
        ``min_gap``."""
        if not len(xy):
            return []
        x, y = xy[:, 0], xy[:, 1]
        lo, hi = np.full(len(x), -np.inf), np.full(len(x), np.inf)
        for ly, paths in self.every.items():
            on = np.zeros(len(x), bool)
            for p in paths:
                on |= (x >= p[0, 0]) & (x <= p[-1, 0])
            lo = np.where(on & (ly <= y), np.maximum(lo, ly), lo)
            hi = np.where(on & (ly > y), np.minimum(hi, ly), hi)
        # beyond the outermost line at its x: a line through the position (y on a coarse grid)
        y = np.round(y / min_gap) * min_gap
        lo, hi = np.where(np.isinf(lo), 2 * y - hi, lo), np.where(np.isinf(hi), 2 * y - lo, hi)
        ok = np.isfinite(lo) & np.isfinite(hi) & (hi - lo >= min_gap)
        out = []
        pairs = np.column_stack([lo[ok], hi[ok]])
        xs = x[ok]
        for pair in np.unique(pairs, axis=0):
            px = np.sort(xs[(pairs == pair).all(axis=1)])
            cut = np.flatnonzero(np.diff(px) > 2 * pad) + 1
            out += [((pair[0] + pair[1]) / 2, g[0] - pad, g[-1] + pad) for g in np.split(px, cut)]
        return out


class _Leftover:
    """What the finishing lines leave: the ball swept along them (as they are cut, simplified) over
    the cells the simulated cut is judged on (a window of the blank's grid of ``cell`` mm), against
    the design as the check sees it (:func:`orthogen.lab.cut_sim.design_field`): along the normal,
    where the ball reaches. ``low`` is the lowest ball surface per cell so far (flat)."""

    def __init__(self, triangles: np.ndarray, outlines: list, region: Polygon, radius: float, cell: float):
        from orthogen.lab.cut_sim import ball_cap, design_field

        # the cells of the blank's grid (centres at cell / 2 + k cell) over the region
        lo = np.floor((np.array(region.bounds[:2]) - cell / 2) / cell) * cell + cell / 2
        n = np.ceil((np.array(region.bounds[2:]) - lo) / cell).astype(int) + 1
        self.grid = Grid((float(lo[0]), float(lo[1])), cell, (int(n[0]), int(n[1])))
        self.field = design_field(self.grid, triangles, outlines, radius)
        self.cap = ball_cap(cell, radius)
        self.radius = radius
        self.low = np.full(self.grid.shape[0] * self.grid.shape[1], np.inf)

    def sweep(self, paths: list[np.ndarray]) -> None:
        """Lower the cells under the ball swept along ``paths``."""
        from orthogen.lab.cut_sim import swept_cells

        paths = [simplify(p, SIMPLIFY_MM) for p in paths if len(p) > 1]  # as they are cut
        if not paths:
            return
        a = np.concatenate([p[:-1] for p in paths])
        b = np.concatenate([p[1:] for p in paths])
        for flat, z in swept_cells(a, b, "ball", self.radius, self.grid):
            np.minimum.at(self.low, flat, z.astype(self.low.dtype))  # one dtype: 30x faster

    def bad(self, limit: float) -> np.ndarray:
        """For every cell left more than ``limit`` off the design, where the ball that reaches
        lowest there stands (xy of its tip, mm; from the balls dropped on the cells): (n, 2)."""
        f = self.field
        left = (self.low.reshape(self.grid.shape) - f.filled) * f.cos
        i, j = np.nonzero(f.reached & (left > limit))
        n = self.cap.shape[0] // 2
        di, dj = np.nonzero(np.isfinite(self.cap))
        cap = self.cap[di, dj]
        di, dj = di - n, dj - n
        nx, ny = self.grid.shape
        best = np.empty((len(i), 2), np.int64)
        for k in range(0, len(i), _CHUNK):  # the ball whose surface is lowest over the cell
            ii = np.clip(i[k : k + _CHUNK, None] + di, 0, nx - 1)
            jj = np.clip(j[k : k + _CHUNK, None] + dj, 0, ny - 1)
            m = np.argmin(f.tip[ii, jj] + cap, axis=1)
            best[k : k + _CHUNK] = np.column_stack([ii[np.arange(len(m)), m], jj[np.arange(len(m)), m]])
        return np.asarray(self.grid.origin) + best * self.grid.spacing


#: Cells searched at once for the ball that reaches them.
_CHUNK = 2000


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
    link = [
        float(np.hypot(*(segs[i + 1][0, :2] - segs[i][-1, :2]))) <= LINK_STEPS * s0
        for i in range(len(segs) - 1)
    ]
    pairs = [i for i in range(len(link)) if link[i]]
    links = sample_polyline(
        dc,
        [segs[i][-1, :2] for i in pairs],
        [segs[i + 1][0, :2] for i in pairs],
        sample,
        TOL_CONVEX_MM,
        TOL_CONCAVE_MM,
        sample / 8,
    )
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


def finishing(
    triangles: np.ndarray,
    outlines: list[Polygon],
    floor_z: float,
    region: Polygon,
    tool: Tool,
    feeds: Feeds,
    scallop: float,
    sample: float,
    cell: float,
    safe_z: float,
) -> tuple[Operation, int]:
    """Ball-end raster over ``region`` (tool centres) for the scallop target; and points dropped.

    Lines along x, ``s0`` apart. The ball is swept along them over the cells (``cell`` mm) the
    simulated cut is judged on; wherever it leaves more than ``scallop`` + ``CUSP_ALLOWANCE_MM`` off
    the design (along the normal, where the ball reaches), a line is added half-way between the two
    lines either side of the ball that would touch there, down to ``MIN_STEP_FRACTION`` ``s0``
    apart, in up to ``MAX_SPLITS`` rounds. These part lines are cut after the raster, nearest first.
    """
    s0 = scallop_step(tool.radius, scallop)
    moves = Moves(safe_z)
    left = _Leftover(triangles, outlines, region, tool.radius, cell)
    with DropCutter(triangles, "ball", tool.radius, floor_z, workers=WORKERS) as dc:
        raster = _Raster(dc, region, sample)
        left.sweep(raster.raster(s0))
        for _ in range(MAX_SPLITS):
            new = raster.add(
                raster.windows(left.bad(scallop + CUSP_ALLOWANCE_MM), MIN_STEP_FRACTION * 2 * s0, tool.radius)
            )
            if not new:
                break
            left.sweep(new)
        base = _zigzag(raster.base)
        # the part lines after the raster, nearest first: neighbours link along the surface
        parts = _nearest_first(raster.parts, base[-1][-1] if base else None)
        _cut_in_order(moves, dc, base + parts, s0, sample)
        dropped = dc.points_dropped
    ys = sorted(raster.every)
    steps = np.diff(ys) if len(ys) > 1 else np.array([s0])
    return moves.operation(
        "finishing",
        tool,
        feeds,
        {
            "lines": len(raster.base),
            "part_lines": len(raster.parts),
            "scallop_mm": scallop,
            "step_over_mm": [round(float(steps.min()), 3), round(float(s0), 3)],
        },
    ), dropped
