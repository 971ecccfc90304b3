"""Damaged captures made from the synthetic feet (standard frame, mm): the bad-input corpus of issue 13.

A heel cut off at the back (open, or capped flat as scanner software closes holes), two copies of one
foot (apart, turned, stacked, or welded into one surface), coordinates rounded by float32 storage far
from the origin. Each function takes and returns a ``trimesh.Trimesh`` (or STL bytes).
"""

from __future__ import annotations

import numpy as np
import trimesh


def foot(length_mm: float = 260.0, kind: str = "full_foot", side: str = "left") -> trimesh.Trimesh:
    """A clean synthetic foot in the standard frame (heel back at x = 0)."""
    from orthogen.synth.model import FootSpec, synth_scan

    return synth_scan(FootSpec(length_mm=length_mm, side=side), kind=kind)[0]


def open_rim(faces: np.ndarray) -> np.ndarray:
    """Directed boundary edges (k, 2): half-edges whose twin is missing, in their face's direction."""
    he = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    n = int(faces.max()) + 1
    return he[~np.isin(he[:, 0] * n + he[:, 1], he[:, 1] * n + he[:, 0])]


def cut_heel(mesh: trimesh.Trimesh, fraction: float, cap: bool = False) -> trimesh.Trimesh:
    """Remove every face behind ``fraction`` of the foot's length (x from the heel); ``cap`` closes the
    cut with a fan, as scanner software fills holes (full feet only: a shell's cut joins its crop rim)."""
    v = np.asarray(mesh.vertices, float)
    length = float(np.ptp(v[:, 0]))
    f = mesh.faces[v[mesh.faces][:, :, 0].min(axis=1) >= v[:, 0].min() + fraction * length]
    if cap:
        rim = open_rim(f)
        v = np.vstack([v, v[np.unique(rim)].mean(axis=0)])
        f = np.vstack([f, np.column_stack([rim[:, 1], rim[:, 0], np.full(len(rim), len(v) - 1)])])
    return trimesh.Trimesh(v, f, process=False)


def doubled(
    mesh: trimesh.Trimesh,
    shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    turn_deg: float = 0.0,
    connected: bool = False,
) -> trimesh.Trimesh:
    """The foot plus a copy turned ``turn_deg`` about z (about the foot's middle) and moved ``shift_mm``;
    ``connected`` welds the copy to the foot with one triangle (a bad merge: one surface)."""
    copy = mesh.copy()
    centre = [float(np.mean(mesh.bounds[:, 0])), 0.0, 0.0]
    copy.apply_transform(trimesh.transformations.rotation_matrix(np.radians(turn_deg), [0, 0, 1], centre))
    copy.apply_translation(shift_mm)
    both = trimesh.util.concatenate([mesh, copy])
    faces = both.faces
    if connected:
        n = len(mesh.vertices)
        faces = np.vstack([faces, [[0, n + 1, n + 2]]])
    return trimesh.Trimesh(both.vertices, faces, process=False)


def far_float32_stl(mesh: trimesh.Trimesh, offset_mm: float = 1e8) -> bytes:
    """Binary STL of the foot moved ``offset_mm`` along every axis: float32 rounds it to coarse steps
    (8 mm at 1e8 mm)."""
    from orthogen.output.export import stl_bytes

    return stl_bytes(np.asarray(mesh.vertices) + offset_mm, mesh.faces)


def triangle_stl(length_mm: float = 260.0, width_mm: float = 100.0) -> bytes:
    """One flat triangle of foot size."""
    from orthogen.output.export import stl_bytes

    v = np.array([[0.0, 0.0, 0.0], [length_mm, 0.0, 0.0], [0.0, width_mm, 0.0]])
    return stl_bytes(v, np.array([[0, 1, 2]]))


def on_plate(mesh: trimesh.Trimesh, size_mm: tuple[float, float] = (420.0, 220.0)) -> trimesh.Trimesh:
    """The foot standing on a captured 6 mm scanner plate (a separate box under it)."""
    plate = trimesh.creation.box((size_mm[0], size_mm[1], 6.0))
    plate.apply_translation([float(np.mean(mesh.bounds[:, 0])), 0.0, float(mesh.bounds[0, 2]) - 3.5])
    return trimesh.util.concatenate([mesh, plate])
