"""Checks measured back from an output mesh itself, before anything is written.

Topology (watertight, consistently wound, manifold in manifold3d, one body,
positive volume) and the clinical numbers a lab verifies on a device: length,
width, thickness (minimum, at the heel centre), arch peak, heel-cup rim height
and the frontal-plane angles of the heel seat and forefoot. Thickness and heights
are read off the mesh by the same z-buffer used for scans (upper minus lower
envelope on a 0.5 mm grid), so they are exact for the piecewise-linear surface.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from orthogen.errors import GeometryError
from orthogen.foot.heightmap import Grid, envelopes, sample

CHECK_GRID_MM = 0.5


@dataclass(frozen=True)
class Checks:
    watertight: bool
    winding_consistent: bool
    manifold: bool
    bodies: int
    volume_mm3: float
    length_mm: float
    width_mm: float
    forefoot_width_mm: float
    max_height_mm: float
    min_z_mm: float
    min_thickness_mm: float
    heel_thickness_mm: float
    arch_peak_height_mm: float
    heel_cup_rim_height_mm: float
    rearfoot_frontal_angle_deg: float
    forefoot_frontal_angle_deg: float

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Probe:
    """Where to read the clinical numbers, standard frame (mm)."""

    heel_centre: tuple[float, float]
    heel_half_width: float
    ball_centre: tuple[float, float]
    ball_half_width: float
    forefoot_x: tuple[float, float]
    medial_sign: float
    arch_x: tuple[float, float]
    arch_line_fraction: float
    heel_seat_half_length: float
    ball_x: tuple[float, float]


def edge_topology(faces: np.ndarray) -> tuple[bool, bool]:
    """(watertight, winding_consistent) of a triangle mesh from its edges alone.

    Watertight: every undirected edge is shared by exactly two faces. Consistent
    winding: every directed edge occurs once, so its two faces traverse it in
    opposite directions.
    """
    f = np.asarray(faces, np.int64)
    n = int(f.max()) + 1 if f.size else 1
    d = f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    _, und_counts = np.unique(np.sort(d, axis=1) @ np.array([n, 1]), return_counts=True)
    _, dir_counts = np.unique(d @ np.array([n, 1]), return_counts=True)
    return bool(np.all(und_counts == 2)), bool(np.all(dir_counts == 1))


def topology(vertices: np.ndarray, faces: np.ndarray) -> dict:
    """Watertight, winding, manifold3d status, body count and volume of a mesh."""
    import manifold3d

    # check the mesh as an STL stores it: float32 corners, vertices merged by position; two
    # vertices at one position would be a pinch that opens up once the file is read back
    v32 = np.asarray(vertices, np.float32)
    _, first, inverse = np.unique(v32, axis=0, return_index=True, return_inverse=True)
    pinched = len(first) != len(v32)
    watertight, winding = edge_topology(inverse.reshape(-1)[faces])
    watertight = watertight and not pinched
    man = manifold3d.Manifold(
        manifold3d.Mesh(vert_properties=vertices.astype(np.float32), tri_verts=faces.astype(np.uint32))
    )
    ok = man.status() == manifold3d.Error.NoError
    return {
        "watertight": watertight,
        "winding_consistent": winding,
        "manifold": bool(ok),
        "bodies": len(man.decompose()) if ok else -1,
        "volume_mm3": float(man.volume()) if ok else float("nan"),
    }


def heel_seat_region(grid: Grid, probe: Probe) -> np.ndarray:
    """Cells of the heel seat whose frontal plane is the rearfoot angle: an ellipse around the heel centre."""
    X, Y = grid.mesh()
    hx, hy = probe.heel_centre
    return ((X - hx) / probe.heel_seat_half_length) ** 2 + (
        (Y - hy) / (0.5 * probe.heel_half_width)
    ) ** 2 <= 1


def forefoot_region(grid: Grid, probe: Probe) -> np.ndarray:
    """Cells under the met heads whose frontal plane is the forefoot angle."""
    X, Y = grid.mesh()
    return (
        (X >= probe.forefoot_x[0])
        & (X <= probe.forefoot_x[1])
        & (np.abs(Y - probe.ball_centre[1]) <= 0.55 * probe.ball_half_width)
    )


def frontal_angle(zmap, grid, region, medial_sign) -> float:
    """Frontal-plane angle (deg, + = medial side higher) of a plane fitted to ``zmap`` over ``region``."""
    X, Y = grid.mesh()
    sel = region & np.isfinite(zmap)
    if sel.sum() < 10:
        return float("nan")
    a = np.column_stack([np.ones(sel.sum()), X[sel], Y[sel]])
    coef, *_ = np.linalg.lstsq(a, zmap[sel], rcond=None)
    return float(np.degrees(np.arctan(medial_sign * coef[2])))


def measure_device(vertices: np.ndarray, faces: np.ndarray, probe: Probe, grid: Grid | None = None) -> Checks:
    """All checks of one device mesh (standard frame, mm).

    ``grid``: where to read the surfaces; the design grid reads them exactly at the
    mesh's own grid vertices (default: a 0.5 mm grid over the mesh).
    """
    topo = topology(vertices, faces)
    g = grid or Grid.covering(
        vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0), CHECK_GRID_MM, margin=1.0
    )
    bot, top = envelopes(vertices, faces, g)
    covered = np.isfinite(top) & np.isfinite(bot)
    # skip the outermost 0.5 mm, where the vertical side walls are sampled edge-on
    inner = ndimage.binary_erosion(covered, iterations=1)
    thick = np.where(inner, top - bot, np.nan)
    X, Y = g.mesh()
    ms = probe.medial_sign
    hx, hy = probe.heel_centre
    heel_t = float(sample(np.nan_to_num(thick, nan=0.0), g, np.array([[hx, hy]]))[0])
    # arch peak along the medial quarter line of the device's own width
    x, y = g.axes()
    cols = np.flatnonzero((x >= probe.arch_x[0]) & (x <= probe.arch_x[1]))
    arch = float("nan")
    if cols.size:
        cov = covered[cols]
        anyc = cov.any(axis=1)
        jmin = np.argmax(cov, axis=1)
        jmax = cov.shape[1] - 1 - np.argmax(cov[:, ::-1], axis=1)
        y_med = np.where(ms > 0, y[jmax], y[jmin])
        y_lat = np.where(ms > 0, y[jmin], y[jmax])
        yl = y_med - ms * probe.arch_line_fraction * np.abs(y_med - y_lat)
        hz = sample(np.nan_to_num(top, nan=0.0), g, np.column_stack([x[cols], yl]))
        hz = np.where(anyc, hz, -np.inf)
        arch = float(np.max(hz))
    # heel cup rim: the top of the posterior wall, across the middle of the heel
    xmin = float(vertices[:, 0].min())
    post = covered & (X <= xmin + 6.0) & (np.abs(Y - hy) <= 0.35 * probe.heel_half_width)
    rim = float(np.nanmax(np.where(post, top, np.nan))) if post.any() else float("nan")
    # frontal planes: the heel seat (inside the cup) and the forefoot under the met heads
    seat = inner & heel_seat_region(g, probe)
    fore = inner & forefoot_region(g, probe)
    return Checks(
        watertight=topo["watertight"],
        winding_consistent=topo["winding_consistent"],
        manifold=topo["manifold"],
        bodies=topo["bodies"],
        volume_mm3=topo["volume_mm3"],
        length_mm=float(np.ptp(vertices[:, 0])),
        width_mm=float(np.ptp(vertices[:, 1])),
        forefoot_width_mm=_widest(covered, g, probe.ball_x),
        max_height_mm=float(vertices[:, 2].max()),
        min_z_mm=float(vertices[:, 2].min()),
        min_thickness_mm=float(np.nanmin(thick)) if np.isfinite(thick).any() else float("nan"),
        heel_thickness_mm=heel_t,
        arch_peak_height_mm=arch,
        heel_cup_rim_height_mm=rim,
        rearfoot_frontal_angle_deg=frontal_angle(top, g, seat, ms),
        forefoot_frontal_angle_deg=frontal_angle(top, g, fore, ms),
    )


def _widest(covered: np.ndarray, grid: Grid, x_range: tuple[float, float]) -> float:
    """Widest y-extent (mm) of the covered cells for x in ``x_range``."""
    x, y = grid.axes()
    cols = np.flatnonzero((x >= x_range[0]) & (x <= x_range[1]) & covered.any(axis=1))
    if cols.size == 0:
        return float("nan")
    c = covered[cols]
    jmin = np.argmax(c, axis=1)
    jmax = c.shape[1] - 1 - np.argmax(c[:, ::-1], axis=1)
    return float(np.max(y[jmax] - y[jmin]) + grid.spacing)


def require_valid(checks: Checks, min_thickness_mm: float) -> None:
    """Refuse a device that fails any topology or thickness check (GeometryError names the check)."""
    failed = []
    if not checks.watertight:
        failed.append("not watertight")
    if not checks.winding_consistent:
        failed.append("inconsistent face winding")
    if not checks.manifold:
        failed.append("not manifold (manifold3d)")
    if checks.bodies != 1:
        failed.append(f"{checks.bodies} separate bodies instead of one")
    if not checks.volume_mm3 > 0:
        failed.append(f"volume {checks.volume_mm3:.0f} mm3 is not positive")
    if abs(checks.min_z_mm) > 1e-3:
        failed.append(f"lowest point at z = {checks.min_z_mm:.3f} mm, not 0")
    if not checks.min_thickness_mm >= min_thickness_mm - 0.05:
        failed.append(f"minimum thickness {checks.min_thickness_mm:.2f} mm below {min_thickness_mm:g} mm")
    if failed:
        raise GeometryError("output check failed: " + "; ".join(failed) + "; nothing was written")
