"""A plantar map prepared for the landmark searches of :mod:`orthogen.foot.anatomy`.

The map is put in the *medial frame* (a left foot flipped so that medial is +v), heights smoothed
against scan noise, the footprint's borders read per column (sub-cell from the scan's own points).
Pure array functions, mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from orthogen.foot.anatomy import (
    EDGE_ENVELOPE_MM,
    SMOOTH_MM,
)
from orthogen.foot.heightmap import smooth
from orthogen.foot.plantar import PlantarSurface


@dataclass(frozen=True)
class FootMap:
    """Arrays the searches share, in the *medial frame*: v = medial_sign * y (medial is +v)."""

    x: np.ndarray  # (nx,) column centres, mm
    v: np.ndarray  # (nv,) medial-frame row coordinates, ascending, mm
    h: np.ndarray  # (nx, nv) smoothed height, NaN outside the footprint
    mask: np.ndarray  # (nx, nv) footprint
    depth: np.ndarray  # (nx, nv) distance inside the footprint, mm
    vmed: np.ndarray  # (nx,) medial border per column (NaN where empty)
    vlat: np.ndarray  # (nx,) lateral border per column
    x0: float  # heel back
    x1: float  # front
    s: float  # cell size, mm
    ms: float  # medial sign: -1 left, +1 right
    weight_bearing: bool

    @property
    def length(self) -> float:
        return self.x1 - self.x0

    def border_at(self, x: float, medial: bool) -> float:
        """Medial or lateral border (v) at x, interpolated over the columns."""
        b = self.vmed if medial else self.vlat
        ok = np.isfinite(b)
        return float(np.interp(x, self.x[ok], b[ok]))

    def height_at(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bilinear height at medial-frame points (NaN outside)."""
        i = (np.asarray(x, float) - self.x[0]) / self.s
        j = (np.asarray(v, float) - self.v[0]) / self.s
        return ndimage.map_coordinates(self.h, [i, j], order=1, mode="constant", cval=np.nan)


def prepare(plantar: PlantarSurface, side: str) -> FootMap:
    g = plantar.grid
    s = g.spacing
    ms = -1.0 if side == "left" else 1.0
    x, y = g.axes()
    h = smooth(plantar.height, plantar.footprint, SMOOTH_MM / s)
    mask = plantar.footprint
    if ms < 0:  # put medial at +v: flip the rows
        y, h, mask = -y[::-1], h[:, ::-1], mask[:, ::-1]
    any_ = mask.any(axis=1)
    jmax = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    jmin = np.argmax(mask, axis=1)
    vmed = np.where(any_, y[jmax] + s / 2, np.nan)
    vlat = np.where(any_, y[jmin] - s / 2, np.nan)
    # sub-cell: the scan's own points at the border, enveloped over a few columns (sparse meshes)
    e = plantar.edge_y if ms > 0 else -plantar.edge_y[:, ::-1]
    k = max(3, round(EDGE_ENVELOPE_MM / s) | 1)
    pmed = ndimage.maximum_filter1d(np.nan_to_num(e[:, 1], nan=-np.inf), k, mode="nearest")
    plat = ndimage.minimum_filter1d(np.nan_to_num(e[:, 0], nan=np.inf), k, mode="nearest")
    vmed = np.where(np.abs(pmed - vmed) <= s, pmed, vmed)
    vlat = np.where(np.abs(plat - vlat) <= s, plat, vlat)
    k = max(3, round(5.0 / s) | 1)  # borders median-filtered over ~5 mm along x (cell jaggies)
    vmed = np.where(any_, ndimage.median_filter(np.nan_to_num(vmed, nan=0.0), k, mode="nearest"), np.nan)
    vlat = np.where(any_, ndimage.median_filter(np.nan_to_num(vlat, nan=0.0), k, mode="nearest"), np.nan)
    depth = ndimage.distance_transform_edt(mask) * s
    return FootMap(
        x,
        y,
        np.where(mask, h, np.nan),
        mask,
        depth,
        vmed,
        vlat,
        float(plantar.extent_x[0]),
        float(plantar.extent_x[1]),
        s,
        ms,
        plantar.weight_bearing,
    )


def middle_of_run(values: np.ndarray, tol: float, at: int | None = None) -> int:
    """Index of the middle of the contiguous run within ``tol`` of the value at ``at`` (default: the
    maximum) that holds ``at``."""
    vals = np.where(np.isfinite(values), values, -np.inf)
    k = int(np.argmax(vals)) if at is None else int(at)
    near = vals >= vals[k] - tol
    lab, _ = ndimage.label(near)
    idx = np.flatnonzero(lab == lab[k])
    return int(idx[len(idx) // 2])


def depth_at(f: FootMap, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Distance inside the footprint (mm) at medial-frame points (nearest cell; 0 outside)."""
    i = np.clip(np.round((x - f.x[0]) / f.s).astype(int), 0, f.x.size - 1)
    j = np.clip(np.round((v - f.v[0]) / f.s).astype(int), 0, f.v.size - 1)
    return f.depth[i, j]
