"""One closed, manifold solid from the device's height fields: grid solid ∩ outline prism.

The 2.5-D recipe: a closed box-like solid between the bottom and top height
grids (watertight by construction), intersected with the outline extruded
vertically, in manifold3d (one robust boolean). The label is engraved into the
underside by a second boolean. Nothing from the scan is repaired in 3D.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon

from orthogen.errors import GeometryError
from orthogen.foot.heightmap import Grid


@dataclass(frozen=True)
class Solid:
    """A closed triangle mesh (mm, standard frame) and what manifold3d reported making it: no error
    (else it is not made), its volume, genus and number of separate bodies."""

    vertices: np.ndarray  # (n, 3) float64
    faces: np.ndarray  # (m, 3) int64, outward (counter-clockwise seen from outside)
    volume_mm3: float
    genus: int
    bodies: int


def grid_solid_arrays(grid: Grid, top: np.ndarray, bottom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and outward faces of the closed solid between two height grids over the whole grid.

    Every cell gives two triangles on top (facing up) and two below (facing
    down); the four borders are closed by vertical walls. Requires top > bottom.
    """
    nx, ny = grid.shape
    X, Y = grid.mesh()
    vt = np.column_stack([X.ravel(), Y.ravel(), top.ravel()])
    vb = np.column_stack([X.ravel(), Y.ravel(), bottom.ravel()])
    verts = np.vstack([vt, vb])
    n = nx * ny
    idx = np.arange(n).reshape(nx, ny)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    # x to the right, y up: (a, b, c) is counter-clockwise seen from +z
    top_f = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    bot_f = top_f[:, ::-1] + n
    ring = np.concatenate([idx[:, 0], idx[-1, 1:], idx[::-1, -1][1:], idx[0, ::-1][1:-1]])  # CCW border
    r0, r1 = ring, np.roll(ring, -1)
    # wall quads: top edge r0->r1 (CCW seen from above); outward faces
    walls = np.concatenate([np.column_stack([r1, r0, r0 + n]), np.column_stack([r1, r0 + n, r1 + n])])
    faces = np.concatenate([top_f, bot_f, walls]).astype(np.int64)
    return verts, faces


def _manifold(verts: np.ndarray, faces: np.ndarray):
    import manifold3d

    mesh = manifold3d.Mesh(
        vert_properties=np.asarray(verts, np.float32), tri_verts=np.asarray(faces, np.uint32)
    )
    man = manifold3d.Manifold(mesh)
    if man.status() != manifold3d.Error.NoError:
        raise GeometryError(f"internal solid is not manifold ({man.status().name})")
    return man


def _cross_section(poly: Polygon):
    import manifold3d

    rings = [np.asarray(poly.exterior.coords)[:-1]] + [np.asarray(r.coords)[:-1] for r in poly.interiors]
    return manifold3d.CrossSection([r.astype(np.float64) for r in rings], manifold3d.FillRule.EvenOdd)


def build_solid(
    grid: Grid,
    top: np.ndarray,
    bottom: np.ndarray,
    outline: Polygon,
    label: str | None = None,
    label_depth_mm: float = 0.6,
    label_box: tuple[float, float, float, float] | None = None,
    label_z: float | None = None,
) -> Solid:
    """The device solid: grid solid between ``bottom`` and ``top`` cut to ``outline``; label engraved below.

    ``label_box`` (xmin, ymin, xmax, ymax, mm) is where the label text may go, on the flat underside
    at ``label_z`` (default: the lowest point).
    Raises GeometryError when any stage loses manifoldness or the result is not one body.
    """
    import manifold3d

    if not np.all(top > bottom):
        raise GeometryError("top surface dips to or below the bottom surface")
    verts, faces = grid_solid_arrays(grid, top, bottom)
    block = _manifold(verts, faces)
    zmin, zmax = float(bottom.min()) - 1.0, float(top.max()) + 1.0
    prism = manifold3d.Manifold.extrude(_cross_section(outline), zmax - zmin).translate((0.0, 0.0, zmin))
    solid = block ^ prism
    if label:
        text = label_manifold(
            label, label_box, label_depth_mm, float(bottom.min()) if label_z is None else label_z
        )
        if text is not None:
            solid = solid - text
    if solid.status() != manifold3d.Error.NoError:
        raise GeometryError(f"boolean result is not manifold ({solid.status().name})")
    if solid.is_empty():
        raise GeometryError("the device solid is empty (outline and height fields do not overlap)")
    mesh = solid.to_mesh()
    v = np.asarray(mesh.vert_properties, np.float64)[:, :3]
    f = np.asarray(mesh.tri_verts, np.int64)
    return Solid(v, f, float(solid.volume()), int(solid.genus()), len(solid.decompose()))


def label_manifold(text: str, box, depth_mm: float, z_bottom: float):
    """Text as a solid to cut into the underside, mirrored to read from below; None if it does not fit."""
    import manifold3d
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    if box is None:
        return None
    xmin, ymin, xmax, ymax = box
    tp = TextPath((0, 0), text, size=10.0, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    polys = [np.asarray(p) for p in tp.to_polygons(closed_only=True) if len(p) >= 3]
    if not polys:
        return None
    allp = np.vstack(polys)
    w, h = np.ptp(allp[:, 0]), np.ptp(allp[:, 1])
    # text runs along x (heel to toe), height across y; scale to fit the box with a margin
    scale = min((xmax - xmin) * 0.9 / w, (ymax - ymin) * 0.8 / h, 8.0 / h)
    if scale * h < 4.0:  # characters under 4 mm high do not print legibly
        return None
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    c0 = allp.min(axis=0) + np.array([w, h]) / 2
    rings = []
    for p in polys:
        q = (p - c0) * scale
        q[:, 1] = -q[:, 1]  # mirror: read from below
        rings.append(q + np.array([cx, cy]))
    # non-zero fill as fonts are drawn (overlapping glyphs unite, counters stay open); then a
    # 0.3 mm closing so glyphs touching at one point (K-A, Y-Y) are bridged instead of pinching
    cs = manifold3d.CrossSection(rings, manifold3d.FillRule.NonZero)
    cs = cs.offset(0.3, manifold3d.JoinType.Round).offset(-0.3, manifold3d.JoinType.Round)
    if cs.is_empty():
        return None
    return manifold3d.Manifold.extrude(cs, depth_mm + 1.0).translate((0.0, 0.0, z_bottom - 1.0))
