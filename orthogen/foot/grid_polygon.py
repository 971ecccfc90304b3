"""Which cells of a grid lie inside a polygon: ``shapely.contains_xy`` over every cell centre, by scanlines.

GEOS tests each of a device grid's ~40 000 cell centres against the polygon on its own (2-3 ms a call,
several calls a design). Here each grid column (a line of constant x) is crossed with the polygon's
edges once, and the cells between crossings are filled by parity, as a rasteriser does. A centre this
cannot decide beyond doubt (within :data:`NEAR_BOUNDARY_MM` of a crossing, or on a column through a
vertex) is left to GEOS itself, so the mask is ``contains_xy``'s, cell for cell: a centre on the
boundary is outside.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from orthogen.foot.heightmap import Grid

#: Cell centres nearer than this (mm) to a polygon's edge along their column, or on a column this near
#: a vertex, are decided by GEOS (the scanline's own rounding is ~1e-13 mm).
NEAR_BOUNDARY_MM = 1e-7


def cells_inside(polygon: BaseGeometry, grid: Grid) -> np.ndarray:
    """``shapely.contains_xy(polygon, *grid.mesh())``, the same (nx, ny) bool mask, faster.

    ``polygon``: a valid Polygon or MultiPolygon in the grid's frame (mm); anything else is handed to
    GEOS whole.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = Grid((0.0, 0.0), 1.0, (5, 4))
    >>> cells_inside(box(0.5, 0.5, 3.0, 2.5), g).astype(int)  # x = 3 is on the edge: outside
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0],
           [0, 0, 0, 0]])
    """
    nx, ny = grid.shape
    if polygon.is_empty:
        return np.zeros(grid.shape, bool)
    if polygon.geom_type not in ("Polygon", "MultiPolygon") or not polygon.is_valid:
        return shapely.contains_xy(polygon, *grid.mesh())
    x, y = grid.axes()
    coords, ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(polygon)), return_index=True)
    edge = ring[1:] == ring[:-1]  # consecutive points of one ring (each ring repeats its first point)
    (x0, y0), (x1, y1) = coords[:-1][edge].T, coords[1:][edge].T
    # the columns each edge crosses: x0 <= x < x1 or x1 <= x < x0 (a vertex on a column counts once)
    first = np.searchsorted(x, np.minimum(x0, x1), side="left")
    stop = np.searchsorted(x, np.maximum(x0, x1), side="left")
    count = stop - first
    e = np.repeat(np.arange(count.size), count)
    col = np.arange(e.size) - np.repeat(np.cumsum(count) - count, count) + first[e]
    yc = y0[e] + (x[col] - x0[e]) * (y1[e] - y0[e]) / (x1[e] - x0[e])
    above = np.searchsorted(y, yc, side="right")  # the first cell of the column above the crossing
    # inside: an odd number of crossings below the cell, along its column
    flips = np.bincount(col * (ny + 1) + above, minlength=nx * (ny + 1)).reshape(nx, ny + 1)
    inside = (np.cumsum(flips[:, :ny], axis=1) % 2).astype(bool)
    # what the scanline cannot decide beyond doubt goes to GEOS
    doubt = np.zeros((nx, ny + 2), bool)
    below = np.maximum(above - 1, 0)
    doubt[col, below] = np.abs(yc - y[below]) <= NEAR_BOUNDARY_MM
    doubt[col, above] |= np.abs(y[np.minimum(above, ny - 1)] - yc) <= NEAR_BOUNDARY_MM
    doubt = doubt[:, :ny]
    vx = np.sort(coords[:, 0])  # and every column through (or next to) a vertex
    j = np.clip(np.searchsorted(vx, x), 1, vx.size - 1)
    doubt[np.minimum(np.abs(x - vx[j - 1]), np.abs(vx[j] - x)) <= NEAR_BOUNDARY_MM] = True
    if doubt.any():
        X, Y = grid.mesh()
        inside[doubt] = shapely.contains_xy(polygon, X[doubt], Y[doubt])
    return inside
