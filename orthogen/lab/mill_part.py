"""What is milled from a designed device: the device itself, or the positive a shell is formed over.

A ``full_contact`` device is cut directly: its flat bottom lies on the fixture and the top is cut from
above, so the mesh must have no surface facing down above the bottom (no undercut). A ``shell``
device is hollow underneath; labs vacuum-form polypropylene over a milled *positive* instead: a block
whose top is the shell's foot-facing surface (``surfaces.top``) over the outline. Milling a hollow
shell from above is refused.

Everything here is in the design's output frame: mm, bottom at z = 0, back edge at x = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from shapely import affinity, linestrings, polygonize
from shapely.geometry import Polygon

from orthogen.errors import GeometryError

#: Down-facing surfaces within this height of the bottom are underside relief (the engraved label):
#: the fixture side stays flat when milled from above, so they are left out with a warning.
UNDERSIDE_RELIEF_MM = 1.0
#: Down-facing area (seen from below, mm^2) above the bottom that makes an undercut.
UNDERCUT_MIN_AREA_MM2 = 1.0
#: Block under the lowest point of a positive's top surface (mm): what the vacuum-formed sheet wraps.
POSITIVE_BASE_MM = 5.0
#: A face whose unit normal has |z| below this (within about 1 degree of vertical) is a wall: the
#: manifold's float32 vertices tilt exactly vertical walls by up to ~0.2 degrees.
_VERTICAL = 0.02


@dataclass(frozen=True)
class MillPart:
    """One solid to cut, in the design's output frame (mm, bottom at z = 0).

    ``outline`` is the part's footprint (the top surface's boundary); ``kind`` is ``"device"`` or
    ``"positive"``; ``label`` names it in file names and reports.
    """

    kind: str
    side: str
    label: str
    scan: str
    vertices: np.ndarray
    faces: np.ndarray
    outline: Polygon
    warnings: tuple[str, ...] = ()

    @property
    def height_mm(self) -> float:
        return float(self.vertices[:, 2].max())

    @property
    def top_faces(self) -> np.ndarray:
        """Faces that face up (the surface a tool reaches from above)."""
        return self.faces[_normal_z(self.vertices, self.faces) > 0]


def _normal_z(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """z component of each face's unit normal, with near-vertical faces set to 0."""
    tri = np.asarray(vertices, float)[np.asarray(faces)]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1)
    nz = np.divide(n[:, 2], norm, out=np.zeros(len(n)), where=norm > 0)
    nz[np.abs(nz) < _VERTICAL] = 0.0
    return nz


def footprint(vertices: np.ndarray, faces: np.ndarray) -> Polygon:
    """The outline of a part with a flat bottom and vertical walls: the outer boundary of its bottom.

    The bottom is every face lying in the plane of the lowest vertex (coincident vertices merged,
    so booleans' duplicates do not break the ring). Holes (underside relief) are dropped.
    Raises GeometryError when the bottom closes no polygon.
    """
    v, f = merge_vertices(vertices, faces)
    z0 = float(v[:, 2].min())
    bottom = f[(v[f][:, :, 2] <= z0 + 1e-6).all(axis=1)]
    edges = np.sort(np.concatenate([bottom[:, [0, 1]], bottom[:, [1, 2]], bottom[:, [2, 0]]]), axis=1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    border = uniq[count == 1]
    polys = [p for p in polygonize(linestrings(v[border][:, :, :2])).geoms if p.area > 0]
    if not polys:
        raise GeometryError("the part has no flat bottom outline to stand on the fixture")
    return Polygon(max(polys, key=lambda p: p.area).exterior)


def merge_vertices(vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-4):
    """Vertices closer than ``tol`` mm merged into one; faces that collapse to an edge dropped."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    v = np.asarray(vertices, float)
    pairs = cKDTree(v).query_pairs(tol, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(v), len(v)))
    _, label = connected_components(graph, directed=False)
    _, first = np.unique(label, return_index=True)
    f = label[np.asarray(faces)]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    return v[first], f


def underside_faces(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Down-facing faces above the bottom: (undercuts, relief). Relief lies within the relief height.

    Undercuts count only when they hide at least ``UNDERCUT_MIN_AREA_MM2`` seen from below: the
    booleans leave a few sliver faces, slightly tilted, on vertical walls.
    """
    v = np.asarray(vertices, float)
    f = np.asarray(faces)
    nz = _normal_z(v, f)
    down = f[nz < 0]
    tri = v[down]
    hidden = 0.5 * np.abs(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2])  # projected area
    z_top = tri[:, :, 2].max(axis=1)
    z0 = float(v[:, 2].min())
    above = z_top > z0 + 1e-6
    relief = above & (z_top <= z0 + UNDERSIDE_RELIEF_MM)
    under = above & ~relief
    if hidden[under].sum() < UNDERCUT_MIN_AREA_MM2:
        under = np.zeros(len(down), bool)
    return down[under], down[relief]


def device_part(design, label: str) -> MillPart:
    """The device itself, to be cut from above with its flat bottom on the fixture.

    Raises GeometryError for a shell (hollow underneath) or any other undercut.
    """
    scan = design.foot.path
    if design.prescription.construction == "shell":
        raise GeometryError(
            "construction = shell: a shell is hollow underneath and cannot be milled from above; "
            "mill its positive (--set part=positive, the default for shells) and vacuum-form over it",
            scan,
        )
    v, f = np.asarray(design.vertices, float), np.asarray(design.faces)
    undercut, relief = underside_faces(v, f)
    if len(undercut):
        c = v[undercut].mean(axis=1)
        worst = c[np.argmax(c[:, 2])]
        raise GeometryError(
            f"the device has an undercut ({len(undercut)} faces facing down above the bottom, "
            f"highest at x = {worst[0]:.0f}, y = {worst[1]:.0f}, z = {worst[2]:.1f} mm): "
            "a 3-axis mill cannot reach it from above",
            scan,
        )
    warnings = []
    if len(relief):
        warnings.append(
            "the underside engraving (label) is not milled: the bottom is the fixture side; "
            "engrave or write the label by hand"
        )
    return MillPart("device", design.foot.side, label, str(scan), v, f, footprint(v, f), tuple(warnings))


def positive_part(design, label: str) -> MillPart:
    """The positive: a block whose top is ``surfaces.top`` over the device's outline.

    The block's bottom is ``POSITIVE_BASE_MM`` below the lowest point of that surface and is moved to
    z = 0; x is the output frame's (foot x + ``x_shift_mm``).
    """
    import manifold3d

    s = design.surfaces
    # the design's own outline: a shell stands on its rearfoot post and forefoot only, so the
    # lowest faces of its mesh outline the post, not the device
    outline = affinity.translate(s.outline, design.x_shift_mm)
    inside = np.asarray(s.inside, bool)
    top = np.asarray(s.top, float)
    valid = inside & np.isfinite(top)
    if not valid.any():
        raise GeometryError("the device has no top surface to make a positive from", design.foot.path)
    idx = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    top = top[tuple(idx)]  # nearest inside value beyond the outline: the prism trims it
    z = top - float(top[valid].min()) + POSITIVE_BASE_MM
    verts, faces = _grid_block(s.grid, z, design.x_shift_mm)
    block = manifold3d.Manifold(
        manifold3d.Mesh(vert_properties=verts.astype(np.float32), tri_verts=faces.astype(np.uint32))
    )
    ring = np.asarray(outline.exterior.coords)[:-1]
    prism = manifold3d.Manifold.extrude(
        manifold3d.CrossSection([ring], manifold3d.FillRule.EvenOdd), float(z.max()) + 2.0
    ).translate((0.0, 0.0, -1.0))
    solid = block ^ prism
    if solid.status() != manifold3d.Error.NoError or solid.is_empty():
        raise GeometryError("the positive could not be built as one closed solid", design.foot.path)
    mesh = solid.to_mesh()
    v = np.asarray(mesh.vert_properties, float)[:, :3]
    f = np.asarray(mesh.tri_verts, np.int64)
    return MillPart("positive", design.foot.side, label, str(design.foot.path), v, f, footprint(v, f))


def _grid_block(grid, top: np.ndarray, x_shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed solid between z = 0 and ``top`` over the whole grid (outward faces), x shifted."""
    nx, ny = grid.shape
    X, Y = grid.mesh()
    X = X + x_shift
    n = nx * ny
    verts = np.vstack(
        [
            np.column_stack([X.ravel(), Y.ravel(), top.ravel()]),
            np.column_stack([X.ravel(), Y.ravel(), np.zeros(n)]),
        ]
    )
    idx = np.arange(n).reshape(nx, ny)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    top_f = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    ring = np.concatenate([idx[:, 0], idx[-1, 1:], idx[::-1, -1][1:], idx[0, ::-1][1:-1]])
    r0, r1 = ring, np.roll(ring, -1)
    walls = np.concatenate([np.column_stack([r1, r0, r0 + n]), np.column_stack([r1, r0 + n, r1 + n])])
    return verts, np.concatenate([top_f, top_f[:, ::-1] + n, walls]).astype(np.int64)


def part_for(design, label: str, part: str = "auto") -> MillPart:
    """The part to mill: ``auto`` cuts a full-contact device directly and a shell's positive."""
    if part == "auto":
        part = "positive" if design.prescription.construction == "shell" else "device"
    return positive_part(design, label) if part == "positive" else device_part(design, label)
