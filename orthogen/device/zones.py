"""Stiffness zones of a device, placed from the foot's own landmarks (foot frame in, output frame out).

A printed insole is stiffer or softer in places by printing its zones with different slicer
settings (modifier volumes in the 3MF). The zones, disjoint in plan and together covering the
whole outline, are placed from the landmarks found on the foot (:class:`~orthogen.device.regions.Regions`):

* ``heel_cushion``: the heel strike zone, an ellipse centred on the heel centre (semi-axes
  HEEL_CUSHION_ALONG of the heel centre's distance from the heel's back and HEEL_CUSHION_ACROSS of
  the heel half-width);
* ``rearfoot``: the rest of the device behind the heel seat's end (``Regions.heel_seat_end_x``);
* ``arch``: the midfoot, from the heel seat's end to FOREFOOT_BEHIND_MM behind the met-head line;
* ``forefoot``: from FOREFOOT_BEHIND_MM behind the met-head line (the metatarsal parabola through
  the five met heads, ``Regions.met_arc_x``) to the toes, so every met head sits in it;
* ``posts`` (shell only): the extrinsic rearfoot post, the material under the shell's underside
  where the device stands on the footbed under the heel. It overlaps the rearfoot and heel zones
  in plan but lies below the shell, so it is listed last (a slicer applies later modifiers on top).

Each zone is a closed triangle mesh in the output frame (x shifted by ``x_shift_mm``): a vertical
prism reaching Z_MARGIN_MM beyond the device, or, for the post, a height-field solid from below
the footbed up to the shell's underside. A slicer clips modifiers to the device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon, box

from orthogen.device.regions import Regions
from orthogen.foot.heightmap import Grid

#: The heel cushion's semi-axes: along the foot, this fraction of the heel centre's distance from the
#: heel's back; across, this fraction of the heel half-width (the calcaneal fat pad under the tuberosity).
HEEL_CUSHION_ALONG = 0.75
HEEL_CUSHION_ACROSS = 0.6
#: The forefoot zone starts this far behind the met-head line (mm): the plantar condyles of the met
#: heads (radius about 8-10 mm) and the pad just proximal of them lie in it.
FOREFOOT_BEHIND_MM = 15.0
#: Zone prisms reach this far below and above the device (mm).
Z_MARGIN_MM = 1.0
#: Post cells: the shell's underside at least this far above the device's bottom (mm).
POST_MIN_HEIGHT_MM = 0.05
#: Zone names, in slicer order (later modifiers win where they overlap).
ZONE_NAMES = ("rearfoot", "heel_cushion", "arch", "forefoot", "posts")


@dataclass(frozen=True)
class Zone:
    """One stiffness zone: its plan outline and closed mesh (output frame, mm) and its landmark.

    ``landmark`` is the point the zone is placed from (output frame, mm), ``rule`` says how.
    """

    name: str
    outline: Polygon | MultiPolygon
    vertices: np.ndarray
    faces: np.ndarray
    landmark: tuple[float, float]
    rule: str

    @property
    def area_mm2(self) -> float:
        return float(self.outline.area)


@dataclass(frozen=True)
class Zones:
    """The zones of one device, in slicer order."""

    zones: tuple[Zone, ...]

    def __getitem__(self, name: str) -> Zone:
        for z in self.zones:
            if z.name == name:
                return z
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        return any(z.name == name for z in self.zones)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(z.name for z in self.zones)

    def as_dict(self) -> dict:
        """Report: per zone its landmark, placement rule and plan area."""
        return {
            z.name: {
                "landmark_mm": [round(z.landmark[0], 2), round(z.landmark[1], 2)],
                "placed": z.rule,
                "area_cm2": round(z.area_mm2 / 100.0, 1),
            }
            for z in self.zones
        }


def heel_cushion_outline(regions: Regions) -> Polygon:
    """The heel strike zone: an ellipse around the heel centre (foot frame, mm)."""
    hx, hy = regions.heel_centre
    along = max(HEEL_CUSHION_ALONG * hx, 8.0)
    across = HEEL_CUSHION_ACROSS * regions.heel_half_width
    return affinity.scale(Point(hx, hy).buffer(1.0, quad_segs=16), along, across)


def forefoot_start_outline(regions: Regions, bounds: tuple[float, float, float, float]) -> Polygon:
    """Everything distal of the line FOREFOOT_BEHIND_MM behind the met-head line (foot frame)."""
    _, y0, x1, y1 = bounds
    ys = np.linspace(y0, y1, 121)
    xs = regions.met_arc_x(ys) - FOREFOOT_BEHIND_MM
    return Polygon([*zip(xs, ys, strict=True), (x1, y1), (x1, y0)])


def zone_outlines(regions: Regions, outline: Polygon) -> dict[str, Polygon | MultiPolygon]:
    """The plan outlines of the heel cushion, rearfoot, arch and forefoot zones (foot frame, mm):
    disjoint, and together the device outline."""
    bx0, by0, bx1, by1 = outline.bounds
    far = (bx0 - 50.0, by0 - 50.0, bx1 + 50.0, by1 + 50.0)
    cushion = outline.intersection(heel_cushion_outline(regions))
    fore = outline.intersection(forefoot_start_outline(regions, far)).difference(cushion)
    rear = outline.intersection(box(far[0], far[1], regions.heel_seat_end_x, far[3]))
    rear = rear.difference(cushion).difference(fore)
    arch = outline.difference(cushion).difference(fore).difference(rear)
    return {"rearfoot": rear, "heel_cushion": cushion, "arch": arch, "forefoot": fore}


def post_cells(
    grid: Grid,
    top: np.ndarray,
    bottom: np.ndarray,
    footbed: np.ndarray,
    inside: np.ndarray,
    regions: Regions,
    shell_mm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Cells of a shell's extrinsic rearfoot post and the shell's underside over them (mm).

    The post is the material between the footbed and the shell's underside (``top - shell_mm``)
    where the device stands on the footbed, behind the arch apex.
    """
    X, _ = grid.mesh()
    under = top - shell_mm
    on_bed = np.abs(bottom - footbed) < 1e-6
    cells = inside & on_bed & (X < regions.arch_apex[0]) & (under - bottom > POST_MIN_HEIGHT_MM)
    return cells, under


def _mask_outline(grid: Grid, cells: np.ndarray) -> Polygon | MultiPolygon:
    """The union of the grid cells of ``cells`` (cell-centred squares), simplified (foot frame)."""
    X, Y = grid.mesh()
    h = 0.5 * grid.spacing
    squares = shapely.box(X[cells] - h, Y[cells] - h, X[cells] + h, Y[cells] + h)
    return shapely.union_all(squares).simplify(0.05 * grid.spacing)


def _xy(p) -> tuple[float, float]:
    return float(p[0]), float(p[1])


def _rings(geom) -> list[np.ndarray]:
    polys = [geom] if geom.geom_type == "Polygon" else list(getattr(geom, "geoms", []))
    rings = []
    for p in polys:
        if p.geom_type != "Polygon" or p.is_empty:
            continue
        rings.append(np.asarray(p.exterior.coords, np.float64)[:-1])
        rings += [np.asarray(r.coords, np.float64)[:-1] for r in p.interiors]
    return rings


def _prism(geom, z0: float, z1: float):
    import manifold3d

    cs = manifold3d.CrossSection(_rings(geom), manifold3d.FillRule.EvenOdd)
    return manifold3d.Manifold.extrude(cs, z1 - z0).translate((0.0, 0.0, z0))


def _mesh(man, x_shift: float) -> tuple[np.ndarray, np.ndarray]:
    mesh = man.to_mesh()
    v = np.asarray(mesh.vert_properties, np.float64)[:, :3] + np.array([x_shift, 0.0, 0.0])
    return v, np.asarray(mesh.tri_verts, np.int64)


def _post_solid(grid: Grid, cells: np.ndarray, under: np.ndarray, footprint, z0: float):
    """The height-field solid from ``z0`` up to ``under`` over the post's footprint."""
    import manifold3d

    from orthogen.device.solid import _manifold, grid_solid_arrays

    low = np.full(grid.shape, z0)
    high = np.where(cells, under, z0 + 0.1)
    high = np.maximum(high, z0 + 0.1)
    block = _manifold(*grid_solid_arrays(grid, high, low))
    prism = _prism(footprint, z0 - 1.0, float(under[cells].max()) + 1.0)
    out = block ^ prism
    return None if out.status() != manifold3d.Error.NoError or out.is_empty() else out


def device_zones(
    regions: Regions,
    grid: Grid,
    top: np.ndarray,
    bottom: np.ndarray,
    footbed: np.ndarray,
    inside: np.ndarray,
    outline: Polygon,
    x_shift_mm: float,
    shell_mm: float | None = None,
) -> Zones:
    """The stiffness zones of a device from its landmarks and height fields.

    Parameters
    ----------
    regions : the device's anatomical frame (foot frame, mm).
    grid, top, bottom, footbed, inside, outline : the device's height fields and outline
        (``Design.surfaces``; foot frame, mm).
    x_shift_mm : output x = foot x + x_shift_mm (``Design.x_shift_mm``).
    shell_mm : a shell's thickness (shell + top cover, mm) for its extrinsic post; None for a
        full-contact device (no post zone).

    Returns
    -------
    Zones
        ``rearfoot``, ``heel_cushion``, ``arch``, ``forefoot`` and, on a shell that stands on a
        post, ``posts``; empty zones are left out.
    """
    z0, z1 = float(bottom[inside].min()) - Z_MARGIN_MM, float(top[inside].max()) + Z_MARGIN_MM
    plans = zone_outlines(regions, outline)
    sh = np.array([x_shift_mm, 0.0])
    hx, hy = regions.heel_centre
    ax, ay = regions.arch_apex
    heads = np.asarray(regions.met_heads)
    landmarks = {
        "rearfoot": ((regions.heel_seat_end_x, hy), "behind the heel seat's end, heel cushion excluded"),
        "heel_cushion": ((hx, hy), "ellipse centred on the heel centre"),
        "arch": ((ax, ay), f"heel seat's end to {FOREFOOT_BEHIND_MM:g} mm behind the met-head line"),
        "forefoot": (
            tuple(heads.mean(axis=0)),
            f"from {FOREFOOT_BEHIND_MM:g} mm behind the met-head line (all five met heads) to the toes",
        ),
    }
    zones = []
    for name in ZONE_NAMES[:4]:
        plan = plans[name]
        if plan.is_empty or plan.area < 1.0:
            continue
        v, f = _mesh(_prism(plan, z0, z1), x_shift_mm)
        point, rule = landmarks[name]
        zones.append(Zone(name, affinity.translate(plan, *sh), v, f, _xy(np.asarray(point) + sh), rule))
    if shell_mm is not None:
        cells, under = post_cells(grid, top, bottom, footbed, inside, regions, shell_mm)
        if cells.sum() >= 4:
            footprint = _mask_outline(grid, cells).intersection(outline)
            solid = _post_solid(grid, cells, under, footprint, z0)
            if solid is not None:
                v, f = _mesh(solid, x_shift_mm)
                centre = np.asarray(footprint.centroid.coords[0])
                zones.append(
                    Zone(
                        "posts",
                        affinity.translate(footprint, *sh),
                        v,
                        f,
                        _xy(centre + sh),
                        "under the shell where the device stands on the footbed behind the arch apex",
                    )
                )
    return Zones(tuple(zones))


def zones_of(design) -> Zones:
    """The stiffness zones of a finished :class:`~orthogen.device.design.Design`."""
    s = design.surfaces
    shell = s.notes.get("shell_plus_cover_mm") if design.prescription.construction == "shell" else None
    return device_zones(
        design.regions, s.grid, s.top, s.bottom, s.footbed, s.inside, s.outline, design.x_shift_mm, shell
    )


__all__ = ["ZONE_NAMES", "Zone", "Zones", "device_zones", "zone_outlines", "zones_of"]
