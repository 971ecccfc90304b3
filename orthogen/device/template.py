"""Device templates' geometry, and the device outline from the foot's own footprint.

A template's ``geometry`` section (``templates/<name>.yaml``) holds the shape choices that
are not prescription keys: wall heights relative to the foot, margins, the forefoot
extension, smoothing. Everything is in millimetres relative to the foot's landmarks, so one
template fits any foot. The outline is the foot's footprint (toe clefts closed, slivers
opened), trimmed at the prescribed shell length along the foot's own met-head and sulcus
lines (:class:`~orthogen.device.regions.Regions`), with rounded corners.

Examples
--------
>>> TemplateGeometry.from_mapping({"lateral_wall_mm": 9}, "t.yaml").lateral_wall_mm
9.0
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import shapely
from shapely.geometry import Polygon

from orthogen.device.regions import Regions
from orthogen.errors import PrescriptionError

#: Toe clefts are closed and the footprint's outline smoothed with this radius (mm).
OUTLINE_CLOSING_MM = 5.0
#: Corners where a trimmed shell's end meets its sides are rounded with this radius (mm).
END_CORNER_MM = 4.0


@dataclass(frozen=True)
class TemplateGeometry:
    """Geometry of an insole template (mm unless named otherwise)."""

    side_inset_mm: float = 0.0  # narrower devices (dress): the outline's sides come in this much
    heel_wall_mm: float = 2.5  # heel-cup / flange wall thickness at the rim (full contact; shells: the shell)
    lateral_wall_mm: float = 7.0  # the lateral edge rises this far above the lateral quarter line
    arch_wrap_mm: float = 4.0  # the medial edge rises this far above the foot's medial quarter line
    forefoot_thickness_mm: float | None = None  # thinner forefoot shell (dress); None = the shell
    forefoot_extension_mm: float = 2.0  # thickness of the extension under the toes (full, sulcus)
    smooth_mm: float = 1.5  # Gaussian smoothing of the scanned plantar surface
    toe_smooth_mm: float = 4.0  # stronger smoothing beyond the met heads: toe clefts leave no ridges

    @classmethod
    def from_mapping(cls, data: dict | None, source: str) -> TemplateGeometry:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PrescriptionError(f"unknown template geometry keys: {', '.join(unknown)}", source)
        try:
            return cls(**{k: (None if v is None else float(v)) for k, v in data.items()})
        except (TypeError, ValueError):
            raise PrescriptionError("template geometry values must be numbers (mm)", source) from None


def template_geometry(name: str) -> TemplateGeometry:
    """The geometry section of template ``name`` (``templates/<name>.yaml``)."""
    from orthogen.rx.templates import load_template, template_path

    return TemplateGeometry.from_mapping(
        load_template(name).get("geometry"), str(template_path(name) or f"templates/{name}.yaml")
    )


def largest_polygon(geom) -> Polygon:
    """The largest polygon of a (multi)polygon or collection; an empty Polygon when there is none."""
    if geom.is_empty:
        return Polygon()
    if geom.geom_type == "Polygon":
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type == "Polygon"]
    return max(parts, key=lambda p: p.area) if parts else Polygon()


def foot_outline(footprint_outline: Polygon, side_inset_mm: float = 0.0) -> Polygon:
    """The foot's footprint as a device outline: toe clefts closed, slivers opened, sides inset.

    The inset (dress devices) narrows the sides only: the shrunk outline is stretched back
    along x to the footprint's length.
    """
    r = OUTLINE_CLOSING_MM
    poly = largest_polygon(shapely.make_valid(footprint_outline))
    poly = largest_polygon(poly.buffer(r, quad_segs=8).buffer(-r, quad_segs=8))
    poly = largest_polygon(poly.buffer(-1.5, quad_segs=8).buffer(1.5, quad_segs=8))
    if side_inset_mm > 0 and not poly.is_empty:
        x0, _, x1, _ = poly.bounds
        shrunk = largest_polygon(poly.buffer(-side_inset_mm, quad_segs=8))
        if not shrunk.is_empty:
            sx0, _, sx1, _ = shrunk.bounds
            k = (x1 - x0) / max(sx1 - sx0, 1.0)
            shrunk = shapely.affinity.scale(shrunk, k, 1.0, origin=(sx0, 0.0))
            poly = shapely.affinity.translate(shrunk, x0 - sx0, 0.0)
    return poly.simplify(0.2)


#: A slim (inset) outline keeps the foot's own width over the toes, ahead of the met heads' parabola
#: (where the toe zone begins); the step is faired with a closing of this radius (mm).
TOE_FAIRING_MM = 8.0


def toes_uninset(slim: Polygon, full: Polygon, regions: Regions) -> Polygon:
    """A slim device's outline (``slim``: sides inset for a narrow last) with the toes of the foot's own
    outline (``full``): a full-length slim device still covers every toe (mm, foot frame)."""
    _, y0, x1, y1 = full.bounds
    ys = np.linspace(y0 - 1.0, y1 + 1.0, 64)
    ahead = Polygon([*zip(regions.met_arc_x(ys), ys, strict=True), (x1 + 1.0, ys[-1]), (x1 + 1.0, ys[0])])
    toes = full.intersection(ahead)
    merged = shapely.union_all([slim, toes]).buffer(TOE_FAIRING_MM, quad_segs=8)
    merged = merged.buffer(-TOE_FAIRING_MM, quad_segs=8)
    merged = merged.intersection(full.union(slim))  # the fairing fills the step, never beyond the foot
    return largest_polygon(merged) if not merged.is_empty else slim


def end_line(length: str, regions: Regions, end_mm: float) -> np.ndarray | None:
    """The distal cut line of a shell ``length`` as points (k, 2) from far medial to far lateral,
    or None for ``full``.

    * ``sulcus``: along the foot's toe sulcus line;
    * ``metatarsal``: ``end_mm`` behind the metatarsal parabola through the five met heads;
    * ``three_quarter``: ``end_mm`` behind the straight line through the 1st and 5th heads.
    """
    if length == "full":
        return None
    ms = regions.medial_sign
    y1, y5 = regions.met_head_1[1], regions.met_head_5[1]
    span = abs(y1 - y5)
    ys = np.linspace(y1 + ms * 0.8 * span, y5 - ms * 0.8 * span, 41)
    if length == "sulcus":
        xs = regions.sulcus_x(ys)
    elif length == "metatarsal":
        xs = regions.met_arc_x(ys) - end_mm
    elif length == "three_quarter":
        xs = regions.met_line_x(ys) - end_mm
    else:
        raise PrescriptionError(f"unknown length {length!r}")
    return np.column_stack([xs, ys])


def trim_to_length(outline: Polygon, line: np.ndarray | None) -> Polygon:
    """``outline`` cut behind the end ``line`` (None: untouched), corners rounded."""
    if line is None:
        return outline
    back = float(outline.bounds[0]) - 50.0
    keep = Polygon([*map(tuple, line), (back, line[-1, 1]), (back, line[0, 1])])
    cut = largest_polygon(outline.intersection(shapely.make_valid(keep)))
    r = END_CORNER_MM
    return largest_polygon(cut.buffer(-r, quad_segs=8).buffer(r, quad_segs=8))


def extend_toes(outline: Polygon, regions: Regions, length_mm: float) -> Polygon:
    """An outline whose toes were not captured, lengthened to ``length_mm``: the front beyond the
    met heads is stretched along x so its tip reaches the given foot length (the toes' share of a
    foot is typical; their own shape is unknown)."""
    x0, _, x1, _ = outline.bounds
    pivot = regions.met_line_rear_x
    if length_mm <= x1 - x0 or x1 <= pivot:
        return outline
    k = (length_mm + x0 - pivot) / (x1 - pivot)
    front = shapely.affinity.scale(
        outline.intersection(shapely.box(pivot, -1e4, 1e4, 1e4)), k, 1.0, origin=(pivot, 0.0)
    )
    back = outline.intersection(shapely.box(-1e4, -1e4, pivot + 0.5, 1e4))
    return largest_polygon(shapely.union_all([front, back]).buffer(0.5).buffer(-0.5))
