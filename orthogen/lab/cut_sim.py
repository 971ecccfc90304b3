"""Cut simulation: sweep the tools along the G-code read back over a height field of the blank.

The blank is a grid of columns (cell ``cell_mm``, blank frame: z = 0 on top, -T at the bottom); each
move lowers the columns under the tool's swept volume to the exact lower envelope of that volume
(a disk for a flat mill, a capsule for a ball mill, moved along a straight segment). Rapids that
would cut are counted as collisions. The result is compared with the design's top surface:

* deviation = simulated height minus design height, times the cosine of the design's slope (the
  distance along the surface normal, so a steep wall is not charged for the tool's vertical reach);
* *reached* cells are those a ball of the finishing radius can touch from above (the design equals
  its morphological closing with that ball); features narrower than the ball are reported apart;
* positive deviation is material left (scallops), negative is a gouge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from shapely import contains_xy
from shapely.ops import unary_union

from orthogen.foot.heightmap import Grid, envelopes
from orthogen.lab.gcode_read import Program

#: Deviation allowed over the scallop target where the finishing tool reaches (mm).
LEFTOVER_MARGIN_MM = 0.1
#: Deepest cut below the design allowed anywhere (mm).
GOUGE_LIMIT_MM = 0.05
#: A cell is reached when the ball's closing lies within this of the design (mm).
REACH_TOL_MM = 0.02
#: Rapids are checked for cutting with the tool this much thinner (mm): a cell centre exactly on
#: the tool's rim is in or out depending on rounding.
RIM_MM = 0.05
#: Most candidate cells evaluated in one vectorised batch.
_BATCH = 3_000_000


@dataclass(frozen=True)
class CutResult:
    """Simulated surface and its comparison with the design (blank frame, mm)."""

    grid: Grid
    surface: np.ndarray
    design: np.ndarray
    inside: np.ndarray
    reached: np.ndarray
    deviation: np.ndarray
    stats: dict


def blank_grid(size: tuple[float, float, float], cell: float) -> Grid:
    nx, ny = int(np.ceil(size[0] / cell)), int(np.ceil(size[1] / cell))
    return Grid((cell / 2, cell / 2), cell, (nx, ny))


def _candidates(a: np.ndarray, b: np.ndarray, r: float, grid: Grid):
    """(segment index, flat cell index, cell x, cell y) for every cell in each segment's tool box."""
    nx, ny = grid.shape
    lo_xy = (np.minimum(a[:, :2], b[:, :2]) - r - np.asarray(grid.origin)) / grid.spacing
    hi_xy = (np.maximum(a[:, :2], b[:, :2]) + r - np.asarray(grid.origin)) / grid.spacing
    lo = np.clip(np.ceil(lo_xy), 0, [nx, ny]).astype(np.int64)
    hi = np.clip(np.floor(hi_xy), -1, [nx - 1, ny - 1]).astype(np.int64)
    span = np.maximum(hi - lo + 1, 0)
    count = span[:, 0] * span[:, 1]
    total = int(count.sum())
    seg = np.repeat(np.arange(len(a)), count)
    k = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    ci = lo[seg, 0] + k // np.maximum(span[seg, 1], 1)
    cj = lo[seg, 1] + k % np.maximum(span[seg, 1], 1)
    h = np.float32(grid.spacing)
    px = ci.astype(np.float32) * h + np.float32(grid.origin[0])
    py = cj.astype(np.float32) * h + np.float32(grid.origin[1])
    return seg, ci * ny + cj, px, py


def _ball_envelope(a, b, r, px, py, end=None):
    """Lowest z of a ball-end tool (tip a → b, radius r) above points (px, py); inf where untouched.

    The swept ball is a capsule: the lower surface of its end spheres and of the cylinder between.
    ``end`` (bool per point) limits the end sphere to where no next move starts from it.
    """
    r2 = r * r
    ax, ay, az = a[:, 0], a[:, 1], a[:, 2] + r  # sphere centres
    bx, by, bz = b[:, 0], b[:, 1], b[:, 2] + r
    wx, wy = px - ax, py - ay
    d2a = wx * wx + wy * wy
    out = np.where(d2a <= r2, az - np.sqrt(np.maximum(r2 - d2a, 0.0)), np.inf)
    if end is None or end.any():
        ex, ey = px - bx, py - by
        d2b = ex * ex + ey * ey
        ok = d2b <= r2 if end is None else (d2b <= r2) & end
        out = np.minimum(out, np.where(ok, bz - np.sqrt(np.maximum(r2 - d2b, 0.0)), np.inf))
    dx, dy, dz = bx - ax, by - ay, bz - az
    length = np.sqrt(dx * dx + dy * dy + dz * dz)
    inv = 1.0 / np.maximum(length, 1e-12)
    ux, uy, uz = dx * inv, dy * inv, dz * inv
    a2 = 1.0 - uz * uz
    k = wx * ux + wy * uy
    disc = (k * uz) ** 2 - a2 * (d2a - k * k - r2)
    s = (k * uz - np.sqrt(np.maximum(disc, 0.0))) / np.maximum(a2, 1e-12)
    t = (k + s * uz) * inv
    ok = (a2 > 1e-9) & (disc >= 0) & (t >= 0.0) & (t <= 1.0)
    return np.minimum(out, np.where(ok, az + s, np.inf))


def _flat_envelope(a, b, r, px, py, end=None):
    """Lowest z of a flat end mill's bottom disk (tip a → b, radius r) above (px, py); inf if none."""
    d = b[:, :2] - a[:, :2]
    wx, wy = px - a[:, 0], py - a[:, 1]
    dd = d[:, 0] ** 2 + d[:, 1] ** 2
    wd = wx * d[:, 0] + wy * d[:, 1]
    ww = wx * wx + wy * wy
    moving = dd > 1e-12
    disc = wd * wd - dd * (ww - r * r)
    root = np.sqrt(np.maximum(disc, 0.0))
    safe_dd = np.where(moving, dd, 1.0)
    t0 = np.where(moving, (wd - root) / safe_dd, 0.0)
    t1 = np.where(moving, (wd + root) / safe_dd, 1.0)
    ok = np.where(moving, (disc >= 0) & (t1 >= 0) & (t0 <= 1), ww <= r * r)
    t0, t1 = np.clip(t0, 0, 1), np.clip(t1, 0, 1)
    dz = b[:, 2] - a[:, 2]
    z = np.minimum(a[:, 2] + t0 * dz, a[:, 2] + t1 * dz)
    return np.where(ok, z, np.inf)


def swept_cells(a: np.ndarray, b: np.ndarray, kind: str, r: float, grid: Grid):
    """Yield (flat cell index, lowest tool z) batches for tool moves a[i] → b[i] (tip, blank frame).

    Where a move starts where the previous one ended, the ball's sphere there is counted once.
    """
    env = _ball_envelope if kind == "ball" else _flat_envelope
    end = np.ones(len(a), bool)
    end[:-1] = np.any(a[1:] != b[:-1], axis=1)
    area = (np.abs(b[:, 0] - a[:, 0]) + 2 * r) * (np.abs(b[:, 1] - a[:, 1]) + 2 * r) / grid.spacing**2
    group = (np.cumsum(area) // _BATCH).astype(np.int64)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)  # float32: half the memory traffic
    for idx in np.split(np.arange(len(a)), np.flatnonzero(np.diff(group)) + 1):
        seg, flat, px, py = _candidates(a[idx], b[idx], r, grid)
        sel = idx[seg]
        z = env(a32[sel], b32[sel], np.float32(r), px, py, end[sel])
        hit = np.isfinite(z)
        yield flat[hit], z[hit]


def _blocks(program: Program, tools: dict[int, tuple[str, float]]):
    """Runs of consecutive moves with the same tool and kind that can touch the blank; and the
    number of feed moves with no known tool."""
    known = np.all(np.isfinite(program.start), axis=1) & np.all(np.isfinite(program.end), axis=1)
    # a move that stays above the blank's top cannot touch it (cutting with the flank of a tool
    # is covered: the flat and ball envelopes are the tools' lowest points)
    below_top = np.minimum(program.start[:, 2], program.end[:, 2]) < 0.0
    key = np.where(program.rapid, -1, 1) * (program.tool + 1)
    blocks, untooled = [], 0
    for idx in np.split(np.arange(len(key)), np.flatnonzero(np.diff(key)) + 1):
        idx = idx[known[idx] & below_top[idx]]
        if not len(idx):
            continue
        t, rapid = int(program.tool[idx[0]]), bool(program.rapid[idx[0]])
        if t not in tools:
            untooled += 0 if rapid else len(idx)
            continue
        blocks.append((idx, *tools[t], rapid))
    return blocks, untooled


def _cut(program: Program, blocks, grid: Grid, stock: np.ndarray) -> list:
    """Apply ``blocks`` to ``stock`` in order; for every rapid block that cuts, (cells, tool z there,
    stock there before it)."""
    flagged = []
    for idx, kind, r, rapid in blocks:
        a, b = program.start[idx], program.end[idx]
        if rapid:  # checked with the tool a hair thinner: cells on its rim are touched, not cut
            hits = [(f, z, stock[f]) for f, z in swept_cells(a, b, kind, r - RIM_MM, grid)]
            hits = [(f[m], z[m], s[m]) for f, z, s in hits if (m := s - z > 1e-3).any()]
            if hits:
                flagged.append(tuple(np.concatenate(x) for x in zip(*hits, strict=True)))
        for flat, z in swept_cells(a, b, kind, r, grid):
            np.minimum.at(stock, flat, z.astype(stock.dtype))  # one dtype: ufunc.at is 30x faster
    return flagged


_SIM_STATE: tuple = ()


def _cut_in_helper(lo: int, hi: int):
    program, blocks, grid = _SIM_STATE
    stock = np.zeros(grid.shape[0] * grid.shape[1])
    return stock, _cut(program, blocks[lo:hi], grid, stock)


def simulate(
    program: Program,
    tools: dict[int, tuple[str, float]],
    size: tuple[float, float, float],
    cell: float,
    workers: int = 1,
) -> tuple[Grid, np.ndarray, dict]:
    """Cut the blank ``size`` with ``program``; ``tools`` maps a T number to (kind, radius).

    Returns the grid, the final heights (blank frame) and counts: rapid moves that cut material
    (and how deep), feed moves with no tool or a stopped spindle. With ``workers`` = 2 a forked
    helper cuts the second half of the program into a blank of its own: the result is the lower of
    the two, and a rapid of the second half cuts only where both blanks were still above it.
    """
    global _SIM_STATE
    grid = blank_grid(size, cell)
    blocks, untooled = _blocks(program, tools)
    stock = np.zeros(grid.shape[0] * grid.shape[1])
    cost = np.cumsum([len(idx) * (2 * r / cell) ** 2 for idx, _, r, _ in blocks])
    split = int(np.searchsorted(cost, cost[-1] / 2)) + 1 if len(blocks) > 1 else len(blocks)
    if workers > 1 and split < len(blocks):
        import multiprocessing

        _SIM_STATE = (program, blocks, grid)
        with multiprocessing.get_context("fork").Pool(1) as pool:
            job = pool.apply_async(_cut_in_helper, (split, len(blocks)))
            flagged = _cut(program, blocks[:split], grid, stock)
            later, flagged_later = job.get()
        _SIM_STATE = ()
        for f, z, before in flagged_later:  # the first half's cuts came before these rapids
            before = np.minimum(before, stock[f])
            if (m := before - z > 1e-3).any():
                flagged.append((f[m], z[m], before[m]))
        np.minimum(stock, later, out=stock)
    else:
        flagged = _cut(program, blocks, grid, stock)
    counts = {
        "rapid_cuts": len(flagged),
        "rapid_cut_depth_mm": max((float((s - z).max()) for _, z, s in flagged), default=0.0),
        "cuts_without_tool": untooled,
        "cuts_with_spindle_off": int(
            np.sum(
                ~program.rapid
                & ~program.spindle
                & np.all(np.isfinite(program.start) & np.isfinite(program.end), axis=1)
            )
        ),
    }
    return grid, stock.reshape(grid.shape), counts


def design_top(triangles: np.ndarray, grid: Grid) -> np.ndarray:
    """Highest design surface above every cell (NaN where no part), blank frame."""
    faces = np.arange(3 * len(triangles)).reshape(-1, 3)
    return envelopes(np.asarray(triangles, float).reshape(-1, 3), faces, grid)[1]


def ball_reach(
    top: np.ndarray, grid: Grid, inside: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """A ball of ``radius`` dropped from above onto the design at every cell: (the ball's tip
    height there, +inf off the parts' bounding box; how far its sweep stays over the design, the
    closing minus the design, 0 off the box), mm.

    Beyond the outline the design is continued with its nearest edge height, so a groove that runs
    into the edge is not counted as reached from the side (the raster's balls pass over the edge,
    they do not sweep along beside it).
    """
    tip, gap = np.full(top.shape, np.inf), np.zeros(top.shape)
    if not inside.any():
        return tip, gap
    n = int(np.ceil(radius / grid.spacing))
    ii, jj = np.nonzero(inside)
    box = (slice(max(ii.min() - n, 0), ii.max() + n + 1), slice(max(jj.min() - n, 0), jj.max() + n + 1))
    near = ndimage.distance_transform_edt(~inside, return_distances=False, return_indices=True)
    f = np.nan_to_num(top, nan=float(np.nanmin(top)))[tuple(near)][box]
    cap = -ball_cap(grid.spacing, radius)
    disk = np.isfinite(cap)
    cap = np.where(disk, cap, 0.0)
    tip[box] = ndimage.grey_dilation(f, footprint=disk, structure=cap, mode="nearest")  # ball dropped
    closing = ndimage.grey_erosion(tip[box], footprint=disk, structure=cap, mode="nearest")  # its sweep
    gap[box] = closing - f
    return tip, gap


def ball_cap(cell: float, radius: float) -> np.ndarray:
    """Height of a ball's lower surface over its tip at the cell offsets (2n + 1, 2n + 1) within
    its radius (mm; +inf beyond)."""
    n = int(np.ceil(radius / cell))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1] * cell
    d2 = xx * xx + yy * yy
    return np.where(d2 <= radius * radius, radius - np.sqrt(np.maximum(radius * radius - d2, 0.0)), np.inf)


@dataclass(frozen=True)
class DesignField:
    """The parts' top surface on a grid as the cut is judged against it (blank frame, mm):
    ``top`` (NaN where no part), ``filled`` (continued with the nearest part's height), ``inside``
    (compared cells: in an outline, one cell off the wall), ``reached`` (cells a ball of the
    finishing radius touches from above), ``cos`` (of the design's slope) and ``tip`` (that ball's
    tip dropped at each cell, see :func:`ball_reach`)."""

    top: np.ndarray
    filled: np.ndarray
    inside: np.ndarray
    reached: np.ndarray
    cos: np.ndarray
    tip: np.ndarray


def design_field(grid: Grid, triangles: np.ndarray, outlines: list, ball_radius: float) -> DesignField:
    """The design as :func:`compare` judges a cut on ``grid`` (see :class:`DesignField`)."""
    top = design_top(triangles, grid)
    X, Y = grid.mesh()
    inside = contains_xy(unary_union(outlines), X, Y) & np.isfinite(top)
    inside = ndimage.binary_erosion(inside)  # one cell off the wall: the profile cut owns it
    filled = top[
        tuple(ndimage.distance_transform_edt(~np.isfinite(top), return_distances=False, return_indices=True))
    ]
    gx, gy = np.gradient(filled, grid.spacing)
    cos = 1.0 / np.sqrt(1.0 + gx * gx + gy * gy)
    tip, gap = ball_reach(top, grid, inside, ball_radius)
    return DesignField(top, filled, inside, inside & (gap <= REACH_TOL_MM), cos, tip)


def compare(
    grid: Grid, surface: np.ndarray, triangles: np.ndarray, outlines: list, ball_radius: float, scallop: float
) -> CutResult:
    """Deviation of the simulated ``surface`` from the parts' top surfaces (see module docstring)."""
    field = design_field(grid, triangles, outlines, ball_radius)
    inside, reached = field.inside, field.reached
    deviation = np.where(inside, (surface - field.filled) * field.cos, np.nan)
    tol = scallop + LEFTOVER_MARGIN_MM
    dev_in, dev_r = deviation[inside], deviation[reached]
    unreached = inside & ~reached
    area = grid.spacing**2
    stats = {
        "cell_mm": grid.spacing,
        "compared_area_mm2": float(inside.sum() * area),
        "reached_fraction": float(reached.sum() / max(inside.sum(), 1)),
        "max_leftover_mm": float(dev_r.max()) if dev_r.size else 0.0,
        "p95_leftover_mm": float(np.percentile(dev_r, 95)) if dev_r.size else 0.0,
        "mean_deviation_mm": float(dev_r.mean()) if dev_r.size else 0.0,
        "max_gouge_mm": float(max(0.0, -dev_in.min())) if dev_in.size else 0.0,
        "unreached_area_mm2": float(unreached.sum() * area),
        "max_leftover_unreached_mm": float(deviation[unreached].max()) if unreached.any() else 0.0,
        "leftover_tolerance_mm": tol,
        "gouge_limit_mm": GOUGE_LIMIT_MM,
    }
    stats["within_tolerance"] = bool(
        stats["max_leftover_mm"] <= tol + 1e-9
        and stats["max_gouge_mm"] <= GOUGE_LIMIT_MM + 1e-9
        and inside.any()
    )
    return CutResult(grid, surface, np.where(inside, field.top, np.nan), inside, reached, deviation, stats)
