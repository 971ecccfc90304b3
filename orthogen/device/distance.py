"""Distances from many points to an outline, equal to the bit to shapely's (GEOS's) ``distance``.

``shapely.distance(line, shapely.points(x, y))`` builds one GEOS point per grid cell and tests
every segment against each: about 0.1 s per call on a device grid. Here the points are grouped in
square tiles; a segment can be the nearest to a point of a tile only if its bounding box lies
within the tile's bound on the nearest distance (the farthest tile corner from some vertex), so
each point is measured against a few segments, with GEOS's own formula (``Distance::pointToSegment``)
and in its order of operations, so the minimum is the same float.
"""

from __future__ import annotations

import itertools

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

#: Tile sides (mm) of the point groups, coarse to fine (each a whole multiple of the next).
TILES_MM = (32.0, 8.0, 2.0)
#: Rounding allowance (mm) of the bounds that leave segments out.
SLACK_MM = 1e-6
#: (point group, segment) pairs measured at a time: bounds the memory (~10 MB) of a grid's distances
#: to a long outline (a rearfoot post's: ~2 million pairs at the finest tiles, 120 MB at once).
PAIRS_BLOCK = 100_000


def segments(geom: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (k, 2) of every segment of a line, ring or polygon's rings."""
    lines = shapely.get_parts(shapely.boundary(geom)) if geom.geom_type.endswith("Polygon") else [geom]
    starts, ends = [], []
    for line in lines:
        for part in shapely.get_parts(line):
            c = shapely.get_coordinates(part)
            starts.append(c[:-1])
            ends.append(c[1:])
    if not starts:
        return np.zeros((0, 2)), np.zeros((0, 2))
    return np.concatenate(starts), np.concatenate(ends)


def point_segment_distance(px, py, ax, ay, bx, by) -> np.ndarray:
    """GEOS's ``Distance::pointToSegment``, elementwise, in its order of floating-point operations."""
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        s = ((ay - py) * dx - (ax - px) * dy) / len2
    da = np.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
    db = np.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
    d = np.where(r <= 0.0, da, np.where(r >= 1.0, db, np.abs(s) * np.sqrt(len2)))
    return np.where(len2 == 0.0, da, d)  # a zero-length segment: the distance to its point


def distance_to(geom: BaseGeometry, x: np.ndarray, y: np.ndarray, limit: float = np.inf) -> np.ndarray:
    """``shapely.distance(geom, shapely.points(x, y))`` for a line, ring or polygon (0 inside a
    polygon or on its boundary), the same floats, without making a geometry per point.

    Points farther than ``limit`` (mm) get a lower bound of their distance (still above ``limit``)
    instead: for callers to whom anything beyond it is "far".
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    shape = x.shape
    x, y = x.ravel(), y.ravel()
    out = np.full(x.size, np.inf)
    a, b = segments(geom)
    if x.size == 0 or len(a) == 0:
        return out.reshape(shape)
    polygon = geom.geom_type.endswith("Polygon")
    todo = ~shapely.intersects_xy(geom, x, y) if polygon else np.ones(x.size, bool)
    out[~todo] = 0.0
    idx = np.flatnonzero(todo)
    if idx.size:
        out[idx] = _nearest(x[idx], y[idx], a, b, limit)
    return out.reshape(shape)


def _approx(px, py, ax, ay, dx, dy, inv_len2) -> np.ndarray:
    """Point-segment distance (not GEOS's rounding: within 1e-12 mm of it), with fewer operations."""
    ex, ey = px - ax, py - ay
    t = ex * dx
    t += ey * dy
    t *= inv_len2
    np.clip(t, 0.0, 1.0, out=t)
    ex -= t * dx
    ey -= t * dy
    ex *= ex
    ey *= ey
    ex += ey
    return np.sqrt(ex, out=ex)


def _groups(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """For every size of TILES_MM (coarse to fine), the index of the square tile each point lies in;
    the tiles nest (each coarse tile is made of whole fine ones)."""
    fine = TILES_MM[-1]
    kx = np.floor((x - x.min()) / fine).astype(np.int64)
    ky = np.floor((y - y.min()) / fine).astype(np.int64)
    out = []
    for size in TILES_MM:
        m = round(size / fine)
        gx, gy = kx // m, ky // m
        key = gx * (int(gy.max()) + 1) + gy
        present = np.zeros(int(key.max()) + 1, bool)
        present[key] = True
        out.append((np.cumsum(present) - 1)[key])  # np.unique's inverse: the rank of each key
    return out


def _nearest(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, limit: float) -> np.ndarray:
    """Minimum over the segments (a, b) of GEOS's point-segment distance of every point.

    Points are grouped in tiles, tiles in larger tiles. Every point q of a group lies within the
    group's reach r of its centre c, so |d(q, s) - d(c, s)| <= r for every segment s: only segments
    with d(c, s) <= min_s d(c, s) + 2 r can be nearest to a point of the group. Each level keeps those
    among its parent's, down to the points themselves (r = 0), which get GEOS's own rounding. A
    group nowhere nearer than ``limit`` stops there: its points get min_s d(c, s) - r.
    """
    ax, ay = a[:, 0].copy(), a[:, 1].copy()  # contiguous: gathered for every (group, segment) pair
    dx, dy = b[:, 0] - ax, b[:, 1] - ay
    len2 = dx * dx + dy * dy
    inv = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0.0)
    # levels from coarse to fine: group of every point, centre and reach of every group
    levels = []
    for of in _groups(x, y):
        k = int(of.max()) + 1
        n = np.bincount(of, None, k)
        cx, cy = np.bincount(of, x, k) / n, np.bincount(of, y, k) / n
        reach = np.zeros(k)
        np.maximum.at(reach, of, np.hypot(x - cx[of], y - cy[of]))
        levels.append((of, cx, cy, reach))
    levels.append((np.arange(x.size), x, y, np.zeros(x.size)))
    # candidates of the one root group: every segment; then each level filters its parent's
    parent_of = np.zeros(len(levels[0][1]), np.int64)
    cand_start, cand_count, cand = np.zeros(1, np.int64), np.array([len(a)]), np.arange(len(a))
    out = np.full(x.size, np.inf)
    for lvl, (of, cx, cy, reach) in enumerate(levels):
        if lvl > 0:  # the parent group of each group of this level
            parent_of = np.zeros(len(cx), np.int64)
            parent_of[of] = levels[lvl - 1][0]
        count = cand_count[parent_of]
        first = np.cumsum(count) - count
        near = np.full(len(cx), np.inf)
        far = np.zeros(len(cx), bool)
        items, cands = [], []
        for g0, g1 in _blocks(count):  # (group, segment) pairs a bounded block at a time
            cnt, at = count[g0:g1], first[g0:g1] - first[g0]
            item = np.repeat(np.arange(g0, g1), cnt)
            seg = cand[np.repeat(cand_start[parent_of[g0:g1]] - at, cnt) + np.arange(item.size)]
            d = _approx(cx[item], cy[item], ax[seg], ay[seg], dx[seg], dy[seg], inv[seg])
            some = cnt > 0
            if some.any():
                near[g0:g1][some] = np.minimum.reduceat(d, at[some])
            far[g0:g1] = some & (near[g0:g1] - reach[g0:g1] - SLACK_MM > limit)
            keep = d <= np.repeat(near[g0:g1] + 2.0 * reach[g0:g1], cnt) + SLACK_MM
            keep &= ~np.repeat(far[g0:g1], cnt)
            items.append(item[keep])
            cands.append(seg[keep])
        if far.any():  # beyond the limit: a lower bound, and no further work
            out[far[of]] = (near - reach - SLACK_MM)[of][far[of]]
        item, cand = np.concatenate(items), np.concatenate(cands)
        cand_count = np.bincount(item, None, len(cx))
        cand_start = np.cumsum(cand_count) - cand_count
    # GEOS's own rounding for the pairs left (the nearest, and ties within the slack)
    for i0 in range(0, item.size, PAIRS_BLOCK):
        it, sg = item[i0 : i0 + PAIRS_BLOCK], cand[i0 : i0 + PAIRS_BLOCK]
        np.minimum.at(out, it, point_segment_distance(x[it], y[it], ax[sg], ay[sg], b[sg, 0], b[sg, 1]))
    return out


def _blocks(count: np.ndarray) -> list[tuple[int, int]]:
    """Ranges [g0, g1) of consecutive groups holding about PAIRS_BLOCK pairs (``count`` per group)
    each; a group with more is a range of its own."""
    ends = np.cumsum(count)
    total = int(ends[-1]) if ends.size else 0
    cuts = np.searchsorted(ends, np.arange(PAIRS_BLOCK, total, PAIRS_BLOCK), side="left") + 1
    cuts = np.unique(np.clip(cuts, 1, len(count)))
    bounds = [0, *[int(c) for c in cuts if c < len(count)], len(count)]
    return list(itertools.pairwise(bounds))
