"""Independent measurements of a device mesh for tests: trimesh ray casts, no orthogen code.

Heights are read where a vertical ray from above (top) or below (underside) first meets the
triangles, so the numbers come from the STL as a lab would load it, not from the fields that
built it.
"""

from __future__ import annotations

import numpy as np
import trimesh


def load(path) -> trimesh.Trimesh:
    return trimesh.load(str(path), force="mesh")


def heights(mesh: trimesh.Trimesh, xy: np.ndarray, from_above: bool = True) -> np.ndarray:
    """z of the top (or underside) surface over points ``xy`` (k, 2); NaN where no hit."""
    xy = np.asarray(xy, float).reshape(-1, 2)
    z0 = mesh.bounds[1, 2] + 10.0 if from_above else mesh.bounds[0, 2] - 10.0
    origins = np.column_stack([xy, np.full(len(xy), z0)])
    dirs = np.tile([0.0, 0.0, -1.0 if from_above else 1.0], (len(xy), 1))
    locs, idx, _ = mesh.ray.intersects_location(origins, dirs, multiple_hits=True)
    out = np.full(len(xy), np.nan)
    if len(idx):
        z = locs[:, 2]
        order = np.argsort(-z if from_above else z, kind="stable")
        first = {}
        for i, zz in zip(idx[order], z[order], strict=True):
            first.setdefault(int(i), zz)
        out[list(first)] = list(first.values())
    return out


def thickness(mesh: trimesh.Trimesh, xy: np.ndarray) -> np.ndarray:
    return heights(mesh, xy, True) - heights(mesh, xy, False)


def disc(centre, radius: float, step: float = 1.0) -> np.ndarray:
    """Grid points within ``radius`` of ``centre`` (mm)."""
    g = np.arange(-radius, radius + 1e-9, step)
    X, Y = np.meshgrid(g, g)
    keep = X**2 + Y**2 <= radius**2
    return np.column_stack([X[keep] + centre[0], Y[keep] + centre[1]])


def frontal_angle_deg(mesh: trimesh.Trimesh, xy: np.ndarray, medial_sign: float) -> float:
    """Frontal-plane angle (+ = medial side higher) of a plane fitted to the top over ``xy``."""
    z = heights(mesh, xy, True)
    ok = np.isfinite(z)
    a = np.column_stack([np.ones(ok.sum()), xy[ok, 0], xy[ok, 1]])
    coef, *_ = np.linalg.lstsq(a, z[ok], rcond=None)
    return float(np.degrees(np.arctan(medial_sign * coef[2])))
