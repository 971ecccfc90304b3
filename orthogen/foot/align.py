"""Put a scan into the standard frame.

Standard frame: millimetres, z up, weight-bearing plane z = 0, x from the back of
the heel (x = 0) toward the toes along the foot's long axis, y to the left of the
walking direction. Only proper rotations and translations are used (never a
mirror), so a left foot stays a left foot.

Steps, each a pure function:

1. :func:`up_direction` – the floor normal. Open surfaces (plantar shells,
   impressions) are height fields: their vector area points along the vertical,
   and the open rim is on top. Closed feet: of the support planes under the
   centroid along the directions across the long axis, the floor is the one
   the sole lies flat on along most of the foot's length.
2. :func:`fit_floor` – the support plane under the footprint's centre (the convex hull
   facet the foot would rest on: heel and met heads), so z = 0 is the
   weight-bearing plane even when the scanner's table was tilted.
3. :func:`footprint_axes` – the long axis from the footprint and the heel end
   from its width profile (the forefoot is wider than the heel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from orthogen.foot.classify import OPEN_THRESHOLD, boundary_edges, openness, vector_area


def rotation_to_z(u: np.ndarray) -> np.ndarray:
    """The proper rotation (3, 3) taking unit vector ``u`` to +z (Rodrigues)."""
    u = np.asarray(u, float) / np.linalg.norm(u)
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(u, z)
    s, c = np.linalg.norm(v), float(np.dot(u, z))
    if s < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]]) / s
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def frame_from_axes(x_axis: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) whose rows are the standard frame's x, y = up × x, z = up: ``p_std = R @ p``."""
    z = np.asarray(up, float) / np.linalg.norm(up)
    x = np.asarray(x_axis, float) - np.dot(x_axis, z) * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.vstack([x, y, z])


def surface_centroid(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted centroid of the surface (3,), independent of vertex density."""
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    return (tri.mean(axis=1) * area[:, None]).sum(axis=0) / max(area.sum(), 1e-30)


def _hull(points: np.ndarray) -> ConvexHull | None:
    try:
        return ConvexHull(points)
    except (QhullError, ValueError):
        return None


def support_plane(hull_eq: np.ndarray, centroid: np.ndarray, up: np.ndarray):
    """The hull facet hit by a ray from ``centroid`` going along ``-up``: its outward normal and offset.

    ``hull_eq`` are scipy's facet equations (n·p + d = 0, n outward). Returns
    (n, d) of the facet under the centroid among those facing down.
    """
    n, d = hull_eq[:, :3], hull_eq[:, 3]
    down = n @ up
    cand = down < -1e-6
    # distance along -up from centroid to each facet plane: n·(c - t up) + d = 0
    t = (n[cand] @ centroid + d[cand]) / down[cand]
    # the facet actually crossed is the one with the smallest positive exit distance
    t = np.where(t > -1e-9, t, np.inf)
    k = int(np.argmin(t))
    idx = np.flatnonzero(cand)[k]
    return n[idx], d[idx]


def _contact_score(
    pts: np.ndarray, up: np.ndarray, long_axis: np.ndarray, floor_c: float, length: float
) -> float:
    """How much of the foot rests on the plane: area proxy × span along the long axis, squared.
    ``length``: the points' extent along ``long_axis`` (the same for every plane tried)."""
    h = pts @ up - floor_c
    near = pts[h < 2.0]
    if len(near) < 3:
        return 0.0
    s = near @ long_axis
    hi, lo = np.percentile(s, [99, 1])
    span = (hi - lo) / max(length, 1e-9)
    return float(len(near) / len(pts) * span**2)


def up_direction(
    vertices_mm: np.ndarray,
    faces: np.ndarray,
    *,
    open_ratio: float | None = None,
    rim: np.ndarray | None = None,
    va: np.ndarray | None = None,
) -> tuple[np.ndarray, bool]:
    """Rough up direction (unit, pointing from the sole into the foot) and whether the scan is open.

    Parameters
    ----------
    vertices_mm : (n, 3) mm, any orientation.
    faces : (m, 3) int.
    open_ratio, rim, va : :func:`~orthogen.foot.classify.openness` and
        :func:`~orthogen.foot.classify.vector_area` of these vertices and the
        :func:`~orthogen.foot.classify.boundary_edges` of these faces, when already known.
    """
    v = np.asarray(vertices_mm, float)
    is_open = (openness(v, faces, va) if open_ratio is None else open_ratio) > OPEN_THRESHOLD
    if is_open:
        va = vector_area(v, faces) if va is None else va
        u = va / np.linalg.norm(va)
        rim = np.unique(boundary_edges(faces) if rim is None else rim)
        if len(rim) and (v[rim] @ u).mean() < (v @ u).mean():
            u = -u  # the open rim is on top: the cup opens upward
        return u, True
    return closed_foot_up(v, faces), False


# ---------------------------------------------------------------------------
# candidate search for closed feet, floor refinement and the long axis
# ---------------------------------------------------------------------------


def _perpendicular_basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    helper = np.array([1.0, 0, 0]) if abs(a[0]) < 0.9 else np.array([0, 1.0, 0])
    b1 = np.cross(a, helper)
    b1 /= np.linalg.norm(b1)
    return b1, np.cross(a, b1)


def closed_foot_up(vertices: np.ndarray, faces: np.ndarray, n_dirs: int = 24) -> np.ndarray:
    """Up direction of a closed foot: of the support facets under the centroid seen from
    ``n_dirs`` directions across the long axis, the one the most surface lies on along
    the most length (the sole on the floor; not a leg cut, not a side)."""
    v = np.asarray(vertices, float)
    centred = v - v.mean(axis=0)
    _, _, vt = np.linalg.svd(centred[:: max(1, len(v) // 20000)], full_matrices=False)
    long_axis = vt[0]
    hull = _hull(v)
    centroid = surface_centroid(v, faces)
    b1, b2 = _perpendicular_basis(long_axis)
    length = float(np.ptp(v @ long_axis))
    best, best_score = b1, -1.0
    for ang in np.linspace(0, 2 * np.pi, n_dirs, endpoint=False):
        u = np.cos(ang) * b1 + np.sin(ang) * b2
        if hull is not None:
            for _ in range(3):  # settle onto the facet the foot would rest on
                n, _ = support_plane(hull.equations, centroid, u)
                u_new = -n / np.linalg.norm(n)
                if np.all(np.abs(u_new - u) <= 1e-9 + 1e-5 * np.abs(u)):  # np.allclose, without its set-up
                    break
                u = u_new
        score = _contact_score(v, u, long_axis, float((v @ u).min()), length)
        if score > best_score:
            best, best_score = u, score
    return best / np.linalg.norm(best)


def fit_floor(points: np.ndarray, centre_xy: np.ndarray) -> np.ndarray:
    """Unit normal (z > 0) of the support plane under ``centre_xy`` of points (k, 3) given in a rough
    z-up frame: the lower convex-hull facet the points would rest on."""
    hull = _hull(points)
    if hull is None:
        return np.array([0.0, 0.0, 1.0])
    c = np.array([centre_xy[0], centre_xy[1], points[:, 2].max() + 1.0])
    # start inside the hull: the centroid of the points, moved to centre_xy
    c[2] = points[:, 2].mean()
    n, _ = support_plane(hull.equations, c, np.array([0.0, 0.0, 1.0]))
    up = -n / np.linalg.norm(n)
    if up[2] < np.cos(np.radians(30)):
        return np.array([0.0, 0.0, 1.0])
    return up


def principal_axis_2d(mask: np.ndarray, grid) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (2,) and unit principal direction (2,) of a cell mask, mm."""
    X, Y = grid.mesh()
    pts = np.column_stack([X[mask], Y[mask]])
    c = pts.mean(axis=0)
    w, vec = np.linalg.eigh(np.cov((pts - c).T))
    return c, vec[:, int(np.argmax(w))]


def width_profile(mask: np.ndarray) -> np.ndarray:
    """Number of mask cells across y for every x column (nx,)."""
    return mask.sum(axis=1)


def heel_is_at_low_x(mask: np.ndarray) -> bool:
    """True when the narrower end (the heel) of a footprint lies at low x.

    Compares the widest width in the rear and front 30 % of the length: the
    forefoot (ball) is wider than the heel in every foot.
    """
    w = width_profile(mask)
    cols = np.flatnonzero(w > 0)
    if cols.size < 4:
        return True
    a, b = cols[0], cols[-1]
    n = max(1, int(0.3 * (b - a)))
    return w[a : a + n].max() <= w[b - n + 1 : b + 1].max()


# ---------------------------------------------------------------------------
# the whole alignment
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Alignment:
    """Rigid placement of a scan (already in mm) into the standard frame.

    ``p_std = rotation @ p_mm + translation``. ``kind`` is the detected scan kind.
    """

    rotation: np.ndarray
    translation: np.ndarray
    kind: str
    open_surface: bool

    def apply(self, vertices_mm: np.ndarray) -> np.ndarray:
        return vertices_mm @ self.rotation.T + self.translation

    @property
    def matrix(self) -> np.ndarray:
        """4x4 homogeneous transform from scan mm to the standard frame."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation
        return m


def open_surface_kind(
    vertices: np.ndarray, faces: np.ndarray, up: np.ndarray, grid=None, heights=None, va=None
) -> str:
    """Plantar shell or impression, for an open surface whose up (into the foot) is known.

    A flat flange around the cavity (foam top) makes it an impression. Otherwise the
    winding decides: a plantar shell is the skin of the foot, its normals face out of
    the foot (down); an impression is the surface of the foam, its normals face out of
    the foam (up, toward where the foot was). The kind is reported; the footprint does
    not depend on it (flanges are trimmed wherever found), so a scan wound the other
    way is still measured right. ``--kind`` overrides. ``va``: the surface's
    :func:`~orthogen.foot.classify.vector_area`, when already worked out.
    """
    if grid is not None and heights is not None:
        from orthogen.foot.plantar import flange_cells

        if flange_cells(heights, grid).any():
            return "impression"
    va = vector_area(vertices, faces) if va is None else va
    return "impression" if float(va @ up) > 0 else "plantar_shell"


def _rough_footprint(v: np.ndarray, faces: np.ndarray, spacing: float, open_surface: bool, edge: float):
    """Quick footprint for the alignment passes: vertex minima per cell on dense scans, the exact
    z-buffer on coarse ones (a mesh with long edges leaves most cells without a vertex). ``edge``:
    the mesh's median edge length (mm; a rotation does not change it).

    Returns (grid, heights, footprint mask, the exact lower envelope or None if not made)."""
    from orthogen.errors import ScanError
    from orthogen.foot.heightmap import Grid, fill_gaps, lower_envelope
    from orthogen.foot.plantar import despike, footprint_mask, vertex_envelope

    grid = Grid.covering(v[:, :2].min(axis=0), v[:, :2].max(axis=0), spacing, margin=2 * spacing)
    exact = None if edge < 0.8 * spacing else lower_envelope(v, faces, grid)
    raw = vertex_envelope(v, grid) if exact is None else exact
    h = despike(fill_gaps(raw, 2))
    h = h - np.nanmin(h)
    mask = footprint_mask(h, grid, open_surface)
    if mask.sum() < 20:
        raise ScanError("no footprint found: the scan has no sole-like underside (is it a foot scan?)")
    return grid, h, mask, exact


def align_scan(
    vertices_mm: np.ndarray,
    faces: np.ndarray,
    kind: str = "auto",
    *,
    open_ratio: float | None = None,
    rim: np.ndarray | None = None,
    va: np.ndarray | None = None,
) -> Alignment:
    """Find the rigid transform taking a foot scan (mm, any pose) to the standard frame.

    Parameters
    ----------
    vertices_mm : (n, 3) mm.
    faces : (m, 3) int.
    kind : "auto" or one of "full_foot", "plantar_shell", "impression" (skips detection).
    open_ratio, rim, va : see :func:`up_direction` (passed on, so nothing is worked out twice).

    Returns
    -------
    Alignment. The heel end and long axis come from the footprint; the side
    (left/right) does not change the frame.
    """
    v = np.asarray(vertices_mm, float)
    if kind == "auto":
        up, is_open = up_direction(v, faces, open_ratio=open_ratio, rim=rim, va=va)
    else:
        is_open = kind != "full_foot"
        if is_open:
            up = up_direction(v, faces, open_ratio=open_ratio, rim=rim, va=va)[0]
        else:
            up = closed_foot_up(v, faces)
    # rough frame: z = up, x = any direction across it
    edge = float(np.median(np.linalg.norm(v[faces[:, 0]] - v[faces[:, 1]], axis=1)))
    b1, _ = _perpendicular_basis(up)
    r = frame_from_axes(b1, up)
    # 1. floor: the support plane of the (despiked) plantar surface under the footprint's centre
    vr = v @ r.T
    grid, h, mask, _ = _rough_footprint(vr, faces, 2.0, is_open, edge)
    X, Y = grid.mesh()
    sel = np.isfinite(h) & mask
    pts = np.column_stack([X[sel], Y[sel], h[sel]])
    c, _ = principal_axis_2d(mask, grid)
    r = rotation_to_z(fit_floor(pts, c)) @ r
    # 2. long axis and heel end from the footprint, in the levelled frame
    vr = v @ r.T
    grid, h, mask, envelope = _rough_footprint(vr, faces, 1.0, is_open, edge)
    if kind == "auto":
        kind = open_surface_kind(v, faces, up, grid, h, va) if is_open else "full_foot"
    c, d = principal_axis_2d(mask, grid)
    ang = np.arctan2(d[1], d[0])
    rz = np.array([[np.cos(ang), np.sin(ang), 0], [-np.sin(ang), np.cos(ang), 0], [0, 0, 1.0]])
    r = rz @ r
    vr = v @ r.T
    grid, h, mask, envelope = _rough_footprint(vr, faces, 1.0, is_open, edge)
    if not heel_is_at_low_x(mask):
        r = np.diag([-1.0, -1.0, 1.0]) @ r  # half turn about z: still a proper rotation
        vr = v @ r.T
        grid, h, mask, envelope = _rough_footprint(vr, faces, 1.0, is_open, edge)
    # 3. origin: heel back at x = 0, floor at z = 0, long axis through the footprint centre at y = 0
    X, Y = grid.mesh()
    y0 = float(np.mean(Y[mask]))
    zfloor = _floor_height(vr, faces, mask, grid, envelope)
    x0 = _heel_back(vr, mask, grid, zfloor)
    t = -np.array([x0, y0, zfloor])
    return Alignment(r, t, kind, is_open)


def _floor_height(
    vr: np.ndarray, faces: np.ndarray, mask: np.ndarray, grid, envelope: np.ndarray | None = None
) -> float:
    """z of the weight-bearing plane in a levelled frame: a low percentile of the footprint's
    lower envelope (``envelope`` when already made on ``grid``), smoothed over 1.5 mm so scanner
    noise and a stray vertex below the sole do not lower the floor."""
    from orthogen.foot.heightmap import lower_envelope, smooth
    from orthogen.foot.plantar import remove_see_through

    h = remove_see_through(lower_envelope(vr, faces, grid) if envelope is None else envelope, grid.spacing)
    ok = mask & np.isfinite(h)
    if not ok.any():
        return float(vr[:, 2].min())
    hs = smooth(h, ok, 1.5 / grid.spacing)
    return float(np.percentile(hs[ok], 0.5))


def _heel_back(vr: np.ndarray, mask: np.ndarray, grid, zfloor: float) -> float:
    """x of the back of the heel: the rearmost scan vertex over the footprint, low enough to be foot."""
    from orthogen.foot.plantar import FOOTPRINT_MAX_HEIGHT_MM, vertices_in_mask

    sel = vertices_in_mask(vr, mask, grid) & (vr[:, 2] - zfloor <= FOOTPRINT_MAX_HEIGHT_MM)
    X, _ = grid.mesh()
    cell_x = float(X[mask].min() - grid.spacing / 2)
    if sel.sum() >= 100 and abs(float(vr[sel, 0].min()) - cell_x) <= 2 * grid.spacing:
        return float(vr[sel, 0].min())
    return cell_x
