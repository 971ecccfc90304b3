"""Height maps: regular xy grids of z values, made from triangle meshes.

Pure array functions. A grid is described by its ``origin`` (x, y of cell
(0, 0)'s centre, mm), its ``spacing`` (mm) and its ``shape`` (nx, ny): cell
(i, j) has its centre at ``origin + (i, j) * spacing``. Arrays are indexed
``[i, j]`` = ``[x, y]``. Missing cells are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

#: Candidate (triangle, cell) pairs :func:`surface_hits` tests at a time: bounds its memory (~13 MB).
HITS_BLOCK = 50_000


@dataclass(frozen=True)
class Grid:
    """A regular xy grid: ``origin`` (mm, centre of cell (0, 0)), ``spacing`` (mm), ``shape`` (nx, ny)."""

    origin: tuple[float, float]
    spacing: float
    shape: tuple[int, int]

    @classmethod
    def covering(cls, xy_min: np.ndarray, xy_max: np.ndarray, spacing: float, margin: float = 0.0) -> Grid:
        """The grid with cells of ``spacing`` mm covering the box ``xy_min``-``xy_max`` plus ``margin``."""
        lo = np.floor((np.asarray(xy_min, float) - margin) / spacing) * spacing
        hi = np.asarray(xy_max, float) + margin
        n = np.floor((hi - lo) / spacing).astype(int) + 2
        return cls((float(lo[0]), float(lo[1])), float(spacing), (int(n[0]), int(n[1])))

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates along x (nx,) and y (ny,), mm."""
        x = self.origin[0] + self.spacing * np.arange(self.shape[0])
        y = self.origin[1] + self.spacing * np.arange(self.shape[1])
        return x, y

    def mesh(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinate arrays X, Y of shape ``shape`` (indexing 'ij'), mm; read-only (one
        pair per grid is kept for its many callers: a device design asks for it ~50 times)."""
        return _mesh(self)

    def to_index(self, xy: np.ndarray) -> np.ndarray:
        """Fractional cell indices (…, 2) of points ``xy`` (…, 2) in mm."""
        return (np.asarray(xy, float) - np.asarray(self.origin)) / self.spacing

    @property
    def cell_area(self) -> float:
        return self.spacing * self.spacing


@lru_cache(maxsize=8)
def _mesh(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.meshgrid(*grid.axes(), indexing="ij")
    X.flags.writeable = Y.flags.writeable = False
    return X, Y


def lower_envelope(vertices: np.ndarray, faces: np.ndarray, grid: Grid) -> np.ndarray:
    """Lowest surface z above every cell centre (what a ray cast up from below hits first).

    A vectorised z-buffer: every triangle is tested against the cell centres in its
    xy bounding box and its barycentric z kept where lower. Vertical triangles
    are skipped (they have no area in projection).

    Parameters
    ----------
    vertices : (n, 3) float, mm, in the frame of ``grid``.
    faces : (m, 3) int.
    grid : the xy grid to sample.

    Returns
    -------
    (nx, ny) float array of z (mm); NaN where no triangle covers the cell centre.

    Examples
    --------
    >>> v = np.array([[0, 0, 1.0], [10, 0, 1.0], [0, 10, 1.0]])
    >>> h = lower_envelope(v, np.array([[0, 1, 2]]), Grid((0.5, 0.5), 1.0, (10, 10)))
    >>> float(h[0, 0]), bool(np.isnan(h[9, 9]))
    (1.0, True)
    """
    return _envelope(vertices, faces, grid, lower=True)


def lower_envelopes_by_facing(
    vertices: np.ndarray, faces: np.ndarray, grid: Grid
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest z per cell of the triangles facing down and of those facing up, as two (nx, ny) maps (mm,
    NaN where none covers the cell). A triangle faces up when its corners run anticlockwise seen from
    above (its normal has z > 0); vertical triangles are in neither.

    Seen from below, a sole is one facing throughout; a cell whose lowest surface has the other facing
    is seen through a hole, on the inside of the foot.

    Examples
    --------
    >>> v = np.array([[0, 0, 1.0], [10, 0, 1.0], [0, 10, 1.0], [0, 0, 5.0], [10, 0, 5.0], [0, 10, 5.0]])
    >>> grid = Grid((0.5, 0.5), 1.0, (10, 10))
    >>> down, up = lower_envelopes_by_facing(v, np.array([[0, 2, 1], [3, 4, 5]]), grid)
    >>> float(down[0, 0]), float(up[0, 0])
    (1.0, 5.0)
    """
    v = np.asarray(vertices, float)
    f = np.asarray(faces)
    a, b, c = v[f[:, 0], :2], v[f[:, 1], :2], v[f[:, 2], :2]
    nz = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    return _envelope(v, f[nz < 0], grid, lower=True), _envelope(v, f[nz > 0], grid, lower=True)


def envelopes(vertices: np.ndarray, faces: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper envelopes in one pass (the per-cell work is shared). See :func:`lower_envelope`."""
    return _envelope(vertices, faces, grid, lower=None)


def surface_hits(
    vertices: np.ndarray, faces: np.ndarray, grid: Grid, edge_tolerance: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """Every crossing of a vertical line through a cell centre with a triangle.

    Returns the flat cell index (``i * ny + j``) and the surface z (mm) of each crossing, one entry
    per triangle that covers the cell centre; a centre on a shared edge counts for both triangles
    unless ``edge_tolerance`` is negative (then it counts for neither). Vertical triangles are skipped.
    """
    nx, ny = grid.shape
    v = np.asarray(vertices, float)
    f = np.asarray(faces)
    # fractional cell indices of the vertices, then of every triangle's corners
    o, sp = np.asarray(grid.origin), grid.spacing
    ix, iy = ((v[:, :2] - o) / sp).T.copy()
    (ax, ay), (bx, by), (cx, cy) = ((ix[f[:, k]], iy[f[:, k]]) for k in range(3))
    ebx, eby, ecx, ecy = bx - ax, by - ay, cx - ax, cy - ay
    det = ebx * ecy - ecx * eby
    lo_x = np.clip(np.ceil(np.minimum(np.minimum(ax, bx), cx) - 1e-9), 0, nx - 1).astype(np.int64)
    lo_y = np.clip(np.ceil(np.minimum(np.minimum(ay, by), cy) - 1e-9), 0, ny - 1).astype(np.int64)
    hi_x = np.clip(np.floor(np.maximum(np.maximum(ax, bx), cx) + 1e-9), -1, nx - 1).astype(np.int64)
    hi_y = np.clip(np.floor(np.maximum(np.maximum(ay, by), cy) + 1e-9), -1, ny - 1).astype(np.int64)
    span_x, span_y = np.maximum(hi_x - lo_x + 1, 0), np.maximum(hi_y - lo_y + 1, 0)
    count = span_x * span_y
    count[np.abs(det) <= 1e-12] = 0  # vertical triangles: no area seen from above
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    # expand every triangle into its candidate cells without a Python loop, a bounded block of
    # candidates at a time (a 74k-triangle device is ~300k candidates, 75 MB of temporaries at once)
    tri = np.flatnonzero(count)
    ends = np.cumsum(count[tri])
    cuts = np.searchsorted(ends, np.arange(HITS_BLOCK, total, HITS_BLOCK), side="right")
    z0, z1, z2 = (v[f[:, k], 2] for k in range(3))  # each triangle's corner heights, gathered once
    flat, zs = [], []
    for t in np.split(tri, cuts):
        cnt = count[t]
        k = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        t = np.repeat(t, cnt)
        di, dj = np.divmod(k, span_y[t])
        ci, cj = lo_x[t] + di, lo_y[t] + dj
        # barycentric weights of the cell centres, in the same order of operations as ever
        px, py = ci.astype(float), cj.astype(float)
        dx, dy, dt = px - ax[t], py - ay[t], det[t]
        w1 = (dx * ecy[t] - ecx[t] * dy) / dt
        w2 = (ebx[t] * dy - dx * eby[t]) / dt
        w0 = 1.0 - w1 - w2
        eps = -edge_tolerance
        hit = np.flatnonzero((w0 >= eps) & (w1 >= eps) & (w2 >= eps))
        t, w0, w1, w2 = t[hit], w0[hit], w1[hit], w2[hit]
        zs.append(w0 * z0[t] + w1 * z1[t] + w2 * z2[t])
        flat.append(ci[hit] * ny + cj[hit])
    return np.concatenate(flat), np.concatenate(zs)


def _envelope(vertices: np.ndarray, faces: np.ndarray, grid: Grid, lower: bool | None):
    nx, ny = grid.shape
    flat, z = surface_hits(vertices, faces, grid)
    lo = hi = None
    if lower is None or lower:
        lo = np.full(nx * ny, np.inf)
        np.minimum.at(lo, flat, z)
        lo[~np.isfinite(lo)] = np.nan
        lo = lo.reshape(nx, ny)
    if lower is None or not lower:
        hi = np.full(nx * ny, -np.inf)
        np.maximum.at(hi, flat, z)
        hi[~np.isfinite(hi)] = np.nan
        hi = hi.reshape(nx, ny)
    if lower is None:
        return lo, hi
    return lo if lower else hi


def close_square(mask: np.ndarray, cells: int) -> np.ndarray:
    """Binary closing by a square of side ``2 * cells + 1`` with everything outside the grid empty:
    ``ndimage.binary_closing(mask, np.ones((3, 3)), iterations=cells)``, cell for cell, as two
    separable max/min filters (twice as fast).

    Examples
    --------
    >>> m = np.zeros((7, 7), bool); m[1:6, 1:6] = True; m[3, 3] = False
    >>> bool(close_square(m, 1)[3, 3]), bool(close_square(m, 1)[0, 0])
    (True, False)
    """
    size = 2 * cells + 1
    grown = ndimage.maximum_filter(mask, size=size, mode="constant", cval=False)
    return ndimage.minimum_filter(grown, size=size, mode="constant", cval=False)


def open_square(mask: np.ndarray, cells: int) -> np.ndarray:
    """Binary opening by a square of side ``2 * cells + 1`` with everything outside the grid empty:
    ``ndimage.binary_opening(mask, np.ones((3, 3)), iterations=cells)``, cell for cell (see
    :func:`close_square`)."""
    size = 2 * cells + 1
    shrunk = ndimage.minimum_filter(mask, size=size, mode="constant", cval=False)
    return ndimage.maximum_filter(shrunk, size=size, mode="constant", cval=False)


def fill_gaps(heights: np.ndarray, max_gap_cells: int) -> np.ndarray:
    """Fill NaN holes no wider than about ``2 * max_gap_cells`` cells that lie inside the covered area.

    Holes are filled by normalised-convolution smoothing from their rim (repeated
    until filled), which is smooth and never overshoots the surrounding heights.
    NaN regions touching the grid border or wider than the limit stay NaN.
    """
    h = np.array(heights, float)
    valid = np.isfinite(h)
    if valid.all() or not valid.any():
        return h
    closed = close_square(valid, max_gap_cells)
    todo = closed & ~valid
    if not todo.any():
        return h
    filled = np.where(valid, h, 0.0)
    weight = valid.astype(float)
    known = valid.copy()
    for _ in range(4 * max_gap_cells + 4):
        if not (todo & ~known).any():
            break
        num = ndimage.uniform_filter(np.where(known, filled, 0.0), 3, mode="constant")
        den = ndimage.uniform_filter(weight, 3, mode="constant")
        grow = todo & ~known & (den > 1e-9)
        filled[grow] = num[grow] / den[grow]
        known |= grow
        weight = known.astype(float)
    h[todo & known] = filled[todo & known]
    return h


def smooth(heights: np.ndarray, mask: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Gaussian smoothing of ``heights`` inside ``mask`` only (normalised, so edges do not sag)."""
    h = np.where(mask, heights, 0.0)
    w = ndimage.gaussian_filter(mask.astype(float), sigma_cells, mode="constant")
    s = ndimage.gaussian_filter(h, sigma_cells, mode="constant")
    out = np.full_like(h, np.nan)
    ok = mask & (w > 1e-6)
    out[ok] = s[ok] / w[ok]
    return out


def sample(heights: np.ndarray, grid: Grid, xy: np.ndarray) -> np.ndarray:
    """Bilinear sample of a height map at points ``xy`` (…, 2) mm; NaN outside or next to missing cells."""
    idx = grid.to_index(xy)
    return ndimage.map_coordinates(
        heights, [idx[..., 0], idx[..., 1]], order=1, mode="constant", cval=np.nan, prefilter=False
    )


#: Arch heights are read on the *medial quarter line*: this fraction of the local width in from
#: the medial edge, so the foot's (or device's) sloping medial side nearer the edge does not count.
QUARTER_LINE_FRACTION = 0.25


def medial_line_profile(
    heights: np.ndarray,
    grid: Grid,
    mask: np.ndarray,
    medial_sign: float,
    x_range: tuple[float, float],
    fraction: float = QUARTER_LINE_FRACTION,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``heights`` along the medial quarter line of ``mask`` for x in ``x_range``: (x, y, z), mm.

    For every grid column the line lies ``fraction`` of the mask's local width in from its medial
    edge (+y when ``medial_sign`` is +1); z is sampled bilinearly (NaN next to missing cells).
    """
    x, y = grid.axes()
    cols = (x >= x_range[0]) & (x <= x_range[1]) & mask.any(axis=1)
    m = mask[cols]
    jmin = np.argmax(m, axis=1)
    jmax = m.shape[1] - 1 - np.argmax(m[:, ::-1], axis=1)
    y_med = np.where(medial_sign > 0, y[jmax], y[jmin])
    y_lat = np.where(medial_sign > 0, y[jmin], y[jmax])
    yl = y_med - medial_sign * fraction * np.abs(y_med - y_lat)
    xs = x[cols]
    return xs, yl, sample(heights, grid, np.column_stack([xs, yl]))
