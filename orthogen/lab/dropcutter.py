"""Drop-cutter with opencamlib: the lowest height a tool can have above a triangulated surface.

opencamlib's ``BatchDropCutter`` (exact for flat and ball cutters) searches its triangles with a
kd-tree that prunes poorly on a large surface, so points are dropped tile by tile: each tile of
``TILE_MM`` gets a surface holding only the triangles its tools can touch (read from a binary STL by
ocl's own reader, far faster than adding triangles from Python). Each run is single-threaded (an
OpenMP team costs milliseconds per run on a busy machine); on a multi-core machine a forked helper
process drops half of the tiles. Heights are the tool tip's z (mm), never below ``floor``.
``sample_polyline`` samples a line adaptively until the chord between samples stays within a
tolerance of the tool's true path; ``staircase`` and ``simplify`` shape the result into moves.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from pathlib import Path

import numpy as np

#: Processes dropping points: this one and, on a machine with more cores, a forked helper
#: (where processes can fork).
WORKERS = min(2, os.cpu_count() or 1) if "fork" in multiprocessing.get_all_start_methods() else 1
#: Side of the square tiles the points are dropped in (mm).
TILE_MM = 12.0
#: Samples are split where the path rises or falls more than this between them (mm), whatever
#: the bend measured at their ends says.
STEEP_RISE_MM = 1.0


def _stl_bytes(tri: np.ndarray) -> bytes:
    rec = np.zeros(len(tri), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    rec["v"] = tri
    return b"\0" * 80 + np.uint32(len(tri)).tobytes() + rec.tobytes()


class DropCutter:
    """Drop a flat or ball tool (radius ``radius``, grown by ``offset`` all round) on ``triangles``.

    ``triangles`` (m, 3, 3) mm; only those facing up matter. With ``offset`` > 0 the returned
    height keeps the real tool at least ``offset`` from the surface (roughing stock).
    Tiles are built once and reused between calls.
    """

    def __init__(
        self,
        triangles: np.ndarray,
        kind: str,
        radius: float,
        floor: float,
        offset: float = 0.0,
        workers: int = 1,
    ):
        import opencamlib as ocl

        self._ocl = ocl
        self.tri = np.asarray(triangles, float)
        self.kind, self.radius, self.floor, self.offset = kind, float(radius), float(floor), float(offset)
        # A flat tool is grown by the offset radially and lifted by it: every surface point then stays
        # at least ``offset`` from the real tool (cheaper than ocl's exact offset, a bull-nose cutter).
        # A ball grown all round keeps its centre, so its real tip is ``offset`` higher too.
        grown = radius + offset
        # keep the cutter referenced: the C++ side holds a raw pointer to it
        self.cutter = (ocl.BallCutter if kind == "ball" else ocl.CylCutter)(2 * grown, 100.0)
        self._reach = radius + offset + 1e-3
        self._lo = self.tri[:, :, :2].min(axis=1)
        self._hi = self.tri[:, :, :2].max(axis=1)
        self._tiles: dict[tuple[int, int], object] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="orthogen-ocl-")
        self.points_dropped = 0
        self._pool = None
        if workers > 1:  # a forked helper with its own tiles takes every other batch of tiles
            ctx = multiprocessing.get_context("fork")
            self._pool = ctx.Pool(1, _init_helper, (self.tri, kind, radius, floor, offset))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None
        self._tiles.clear()
        self._tmp.cleanup()

    def __enter__(self) -> DropCutter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _surface(self, key: tuple[int, int]):
        if key not in self._tiles:
            x0, y0 = key[0] * TILE_MM - self._reach, key[1] * TILE_MM - self._reach
            x1, y1 = x0 + TILE_MM + 2 * self._reach, y0 + TILE_MM + 2 * self._reach
            lo, hi = self._lo, self._hi
            sel = (hi[:, 0] >= x0) & (lo[:, 0] <= x1) & (hi[:, 1] >= y0) & (lo[:, 1] <= y1)
            if not sel.any():
                self._tiles[key] = None
            else:
                path = Path(self._tmp.name) / "tile.stl"
                path.write_bytes(_stl_bytes(self.tri[sel]))
                surf = self._ocl.STLSurf()
                self._ocl.STLReader(str(path), surf)
                self._tiles[key] = surf
        return self._tiles[key]

    def drop(self, xy: np.ndarray) -> np.ndarray:
        """Tool-tip heights (n,) at points ``xy`` (n, 2), mm; ``floor`` where nothing is below."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        z = np.full(len(xy), self.floor)
        if not len(xy):
            return z
        keys = np.floor(xy / TILE_MM).astype(np.int64)
        order = np.lexsort((keys[:, 1], keys[:, 0]))
        ks = keys[order]
        groups = np.split(order, np.flatnonzero(np.any(np.diff(ks, axis=0) != 0, axis=1)) + 1)
        mine, theirs = groups, []
        if self._pool is not None and len(groups) > 1:
            # biggest first into the lighter share: the helper and this process finish together
            load = [0, 0]
            shares: list[list[np.ndarray]] = [[], []]
            for g in sorted(groups, key=len, reverse=True):
                k = int(load[1] < load[0])
                shares[k].append(g)
                load[k] += len(g)
            mine, theirs = shares
        job = None
        if theirs:
            job = self._pool.apply_async(_helper_drop, ([xy[g] for g in theirs],))
        self._drop_groups(xy, keys, mine, z)
        if job is not None:
            for g, zg in zip(theirs, job.get(), strict=True):
                z[g] = zg
        self.points_dropped += len(xy)
        return np.maximum(z, self.floor)

    def _drop_groups(self, xy: np.ndarray, keys: np.ndarray, groups: list[np.ndarray], z: np.ndarray) -> None:
        """Drop each group of points (all in one tile) into ``z``."""
        ocl = self._ocl
        lift = self.offset  # the grown tool touches; the real one sits ``offset`` higher
        floor_ocl = self.floor - lift
        for idx in groups:
            surf = self._surface((int(keys[idx[0], 0]), int(keys[idx[0], 1])))
            if surf is None:
                continue
            bdc = ocl.BatchDropCutter()
            bdc.setThreads(1)  # an OpenMP team costs milliseconds per run on a busy machine
            bdc.setBucketSize(4)
            bdc.setSTL(surf)
            bdc.setCutter(self.cutter)
            for x, y in xy[idx].tolist():
                bdc.appendPoint(ocl.CLPoint(x, y, floor_ocl))
            bdc.run()
            z[idx] = np.fromiter((p.z for p in bdc.getCLPoints()), float, len(idx)) + lift


_HELPER: DropCutter | None = None


def _init_helper(tri, kind, radius, floor, offset) -> None:
    global _HELPER
    _HELPER = DropCutter(tri, kind, radius, floor, offset)


def _helper_drop(parts: list[np.ndarray]) -> list[np.ndarray]:
    """In the helper process: heights for each group of points (one tile each)."""
    out = []
    for xy in parts:
        keys = np.floor(xy / TILE_MM).astype(np.int64)
        z = np.full(len(xy), _HELPER.floor)
        _HELPER._drop_groups(xy, keys, [np.arange(len(xy))], z)
        out.append(np.maximum(z, _HELPER.floor))
    return out


def sample_polyline(
    dc: DropCutter,
    starts: list[np.ndarray],
    ends: list[np.ndarray],
    step: float,
    tol_convex: float,
    tol_concave: float,
    min_step: float,
) -> list[np.ndarray]:
    """Tool paths (k, 3) along straight xy segments, sampled finely where the path bends.

    Each segment ``starts[i]`` → ``ends[i]`` (xy) is sampled every ``step`` mm and dropped; then,
    while the chord between two samples strays from the path's curvature estimate by more than
    ``tol_convex`` (the path bends down: the chord would gouge) or ``tol_concave`` (it bends up: the
    chord leaves material), the midpoint is added, down to ``min_step``. All segments are refined
    together so every round is one batch of drops.
    """
    ts = []
    for a, b in zip(starts, ends, strict=True):
        length = float(np.hypot(*(np.asarray(b) - np.asarray(a))))
        n = max(int(np.ceil(length / step)), 2)  # a midpoint at least, so the bend can be measured
        ts.append(np.linspace(0.0, 1.0, n + 1))
    lengths = [float(np.hypot(*(np.asarray(b) - np.asarray(a)))) for a, b in zip(starts, ends, strict=True)]

    def xy_of(i, t):
        a, b = np.asarray(starts[i], float), np.asarray(ends[i], float)
        return a + t[:, None] * (b - a)

    zs = _drop_many(dc, [xy_of(i, t) for i, t in enumerate(ts)])
    while True:
        new_t = []
        for i, (t, z) in enumerate(zip(ts, zs, strict=True)):
            s = t * lengths[i]
            new_t.append(_midpoints_needed(s, z, tol_convex, tol_concave, min_step) / max(lengths[i], 1e-12))
        if not any(len(m) for m in new_t):
            break
        mids = _drop_many(dc, [xy_of(i, m) for i, m in enumerate(new_t)])
        for i, m in enumerate(new_t):
            if len(m):
                t = np.concatenate([ts[i], m])
                z = np.concatenate([zs[i], mids[i]])
                o = np.argsort(t, kind="stable")
                ts[i], zs[i] = t[o], z[o]
    out = []
    for i, (t, z) in enumerate(zip(ts, zs, strict=True)):
        path = np.column_stack([xy_of(i, t), z])
        down = _chord_errors(t * lengths[i], z)[0]
        out.append(_stairs(path, down < -tol_convex) if len(down) else path)
    return out


def _drop_many(dc: DropCutter, parts: list[np.ndarray]) -> list[np.ndarray]:
    sizes = [len(p) for p in parts]
    if not sum(sizes):
        return [np.zeros(0) for _ in parts]
    z = dc.drop(np.concatenate([p for p in parts if len(p)]))
    return np.split(z, np.cumsum(sizes)[:-1])


def _chord_errors(s: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Estimated gaps between each chord and the path (mm) from the bends at its two ends:
    (down, up) - how far the path may rise above the chord (<= 0) and sag below it (>= 0)."""
    n = max(len(s) - 1, 0)
    if len(s) < 3:
        return np.zeros(n), np.zeros(n)
    h = np.diff(s)
    slope = np.diff(z) / np.maximum(h, 1e-12)
    curv = np.zeros(len(s))
    curv[1:-1] = 2 * np.diff(slope) / np.maximum(h[:-1] + h[1:], 1e-12)  # second derivative at samples
    scale = h**2 / 8.0
    lo, hi = np.minimum(curv[:-1], curv[1:]), np.maximum(curv[:-1], curv[1:])
    return np.minimum(lo, 0.0) * scale, np.maximum(hi, 0.0) * scale


def _midpoints_needed(
    s: np.ndarray, z: np.ndarray, tol_convex: float, tol_concave: float, min_step: float
) -> np.ndarray:
    """Arc positions of midpoints to add between samples (s, z) whose chord error is too large."""
    if len(s) < 3:
        return np.zeros(0)
    h = np.diff(s)
    down, up = _chord_errors(s, z)
    steep = np.abs(np.diff(z)) > STEEP_RISE_MM  # bends hide between samples on steep stretches
    split = ((down < -tol_convex) | (up > tol_concave) | steep) & (h > 2 * min_step)
    return (s[:-1] + h / 2)[split]


def staircase(path: np.ndarray, max_slope: float) -> np.ndarray:
    """Replace chords steeper than ``max_slope`` (dz / dxy) by a level move at the higher end and a
    vertical one at the lower end.

    Where the tool path falls off an edge or climbs onto one between two samples, the straight
    chord would pass below the true path (a gouge); the stair goes over it instead. It is never
    below the chord, so it is never less safe.
    """
    if len(path) < 2:
        return path
    d = np.diff(path, axis=0)
    run = np.hypot(d[:, 0], d[:, 1])
    return _stairs(path, np.abs(d[:, 2]) > max_slope * np.maximum(run, 1e-12))


def _stairs(path: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Stairs over the chords ``mask`` marks (a level leg at the higher end, a vertical one at the lower)."""
    steep = np.flatnonzero(mask)
    if not len(steep):
        return path
    a, b = path[steep], path[steep + 1]
    corner = np.where(
        (a[:, 2] >= b[:, 2])[:, None],
        np.column_stack([b[:, :2], a[:, 2]]),
        np.column_stack([a[:, :2], b[:, 2]]),
    )
    return np.insert(path, steep + 1, corner, axis=0)


def simplify(path: np.ndarray, tol: float) -> np.ndarray:
    """Ramer-Douglas-Peucker on a 3-D polyline: kept points within ``tol`` mm of every dropped one."""
    n = len(path)
    if n <= 2:
        return path
    keep = np.zeros(n, bool)
    keep[[0, -1]] = True
    while True:
        idx = np.flatnonzero(keep)
        seg = np.searchsorted(idx, np.arange(n), side="right") - 1  # segment each point lies in
        seg = np.clip(seg, 0, len(idx) - 2)
        a, b = path[idx[seg]], path[idx[seg + 1]]
        ab = b - a
        ab_len = np.linalg.norm(ab, axis=1)
        d = np.where(
            ab_len > 1e-12,
            np.linalg.norm(np.cross(path - a, ab), axis=1) / np.maximum(ab_len, 1e-12),
            np.linalg.norm(path - a, axis=1),
        )
        d[keep] = 0.0
        worst = np.full(len(idx) - 1, -1.0)
        np.maximum.at(worst, seg, d)
        far = worst > tol
        if not far.any():
            return path[keep]
        # the farthest point of every segment that is out of tolerance
        pick = np.zeros(n, bool)
        cand = far[seg] & (d == worst[seg]) & (d > tol)
        first = np.unique(seg[cand], return_index=True)[1]
        pick[np.flatnonzero(cand)[first]] = True
        keep |= pick
