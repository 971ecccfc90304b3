"""Parametric insole templates: geometry read from ``templates/<name>.yaml`` and fitted to a foot.

A template's ``geometry`` section describes the device relative to foot
landmarks, never in absolute millimetres, so one template fits any foot:

* ``outline``: the device border as stations along the foot (u = x / foot
  length) with the medial and lateral half-widths as fractions of a reference
  half-width (half the heel width at the heel, half the ball width at the ball,
  blended in between), about a centre line through the heel centre and the
  ball centre. ``toe_tip`` is the toe end's offset (fraction, + medial).
* regions along u: heel seat, heel cup, arch, met heads, where posts, lifts and
  walls start and taper.
* wall heights: the heel cup (set by the prescription), the lateral midfoot
  wall, the forefoot edge allowance; the cup wall thickness and inner blend.

Values absent from a template file take the defaults of :class:`TemplateGeometry`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import shapely
from shapely.geometry import Polygon

from orthogen.errors import PrescriptionError
from orthogen.foot.anatomy import SULCUS_LATERAL_FRACTION, SULCUS_MEDIAL_FRACTION
from orthogen.foot.measure import Measurements

# default outline: (u, medial fraction, lateral fraction) – a full-contact functional device
DEFAULT_STATIONS = (
    (0.000, 0.00, 0.00),
    (0.004, 0.38, 0.38),
    (0.015, 0.62, 0.62),
    (0.035, 0.80, 0.80),
    (0.065, 0.92, 0.92),
    (0.110, 0.98, 0.98),
    (0.170, 1.00, 1.00),
    (0.230, 0.99, 1.00),
    (0.300, 0.95, 0.99),
    (0.400, 0.93, 0.98),
    (0.500, 0.96, 0.99),
    (0.600, 0.99, 1.00),
    (0.680, 1.00, 0.98),
    (0.740, 1.00, 0.93),
    (0.800, 0.96, 0.84),
    (0.860, 0.88, 0.70),
    (0.910, 0.76, 0.53),
    (0.950, 0.60, 0.34),
    (0.980, 0.42, 0.14),
)


@dataclass(frozen=True)
class TemplateGeometry:
    """Geometry of an insole template (fractions of foot length L unless a unit is named)."""

    stations: tuple = DEFAULT_STATIONS
    toe_tip: float = 0.22  # toe end's offset from the centre line, fraction of half-width, + medial
    width_scale: float = 1.0  # narrower devices (dress) < 1
    heel_wall_mm: float = 2.5  # cup wall thickness beyond the foot's heel outline
    cup_blend_mm: float = 10.0  # inner ramp of the cup wall
    heel_seat_end: float = 0.22  # heel seat (flat under the calcaneus) ends here
    heel_cup_end: float = 0.34  # the cup wall has tapered to the side walls here
    lateral_wall_mm: float = 7.0  # lateral midfoot edge height above z = 0 (before flanges)
    forefoot_edge_mm: float = 4.0  # forefoot (toe crest, edges) may rise this much above the shell top
    arch_wrap_mm: float = 4.0  # the medial midfoot edge may rise this much above the foot's arch
    arch_start: float = 0.24
    arch_end: float = 0.70
    lift_full_until: float = 0.25  # heel lift full under the heel, tapering to 0 at the met heads
    rearfoot_post_full_until: float = 0.22
    rearfoot_post_zero_at: float = 0.45
    forefoot_post_zero_at: float = 0.50
    forefoot_post_full_from: float = 0.62
    forefoot_thickness_mm: float | None = None  # thinner forefoot shell (dress), None = shell thickness
    smooth_mm: float = 1.5  # Gaussian smoothing of the scanned plantar surface

    @classmethod
    def from_mapping(cls, data: dict | None, source: str) -> TemplateGeometry:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PrescriptionError(f"unknown template geometry keys: {', '.join(unknown)}", source)
        if "stations" in data:
            st = np.asarray(data["stations"], float)
            if st.ndim != 2 or st.shape[1] != 3 or np.any(np.diff(st[:, 0]) <= 0):
                raise PrescriptionError(
                    "geometry.stations must be rows [u, medial, lateral] with u increasing", source
                )
            data["stations"] = tuple(map(tuple, st))
        return cls(**data)


def load_geometry(template: dict, source: str) -> TemplateGeometry:
    """The geometry of a template mapping as read by ``templates_io.load_template``."""
    return TemplateGeometry.from_mapping(template.get("geometry"), source)


@dataclass(frozen=True)
class FittedOutline:
    """A template outline fitted to one foot, in the scan's standard frame (mm).

    ``centre_y(x)`` and ``half_width(x)`` describe the template's centre line and
    reference half-width; ``medial_sign`` is -1 for a left foot, +1 for a right one.
    """

    polygon: Polygon
    length_mm: float  # foot length the outline was scaled to
    medial_sign: float
    heel_centre: tuple[float, float]
    ball_centre: tuple[float, float]
    heel_half_width: float
    ball_half_width: float

    def centre_y(self, x: np.ndarray) -> np.ndarray:
        u = np.asarray(x, float) / self.length_mm
        t = np.clip((u - 0.15) / (0.65 - 0.15), 0, 1)
        return self.heel_centre[1] + t * (self.ball_centre[1] - self.heel_centre[1])

    def half_width(self, x: np.ndarray) -> np.ndarray:
        u = np.asarray(x, float) / self.length_mm
        t = np.clip((u - 0.20) / (0.60 - 0.20), 0, 1)
        return self.heel_half_width + t * (self.ball_half_width - self.heel_half_width)

    def medial_offset(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed distance toward the medial side from the centre line, mm."""
        return self.medial_sign * (np.asarray(y, float) - self.centre_y(x))


def fit_outline(
    geometry: TemplateGeometry,
    m: Measurements,
    side: str,
    foot_length_mm: float,
) -> FittedOutline:
    """Scale and bend the template outline onto a measured foot (standard frame, mm).

    The outline is scaled to ``foot_length_mm`` along x, to the measured heel and
    ball widths across, and centred on the heel centre and the ball centre
    (midpoint of the 1st and 5th met-head landmarks).
    """
    ms = -1.0 if side == "left" else 1.0
    lm = m.landmarks
    heel_c = (float(lm.heel_centre[0]), float(lm.heel_centre[1]))
    ball_c = (0.5 * (lm.mpj_1[0] + lm.mpj_5[0]), 0.5 * (lm.mpj_1[1] + lm.mpj_5[1]))
    out = FittedOutline(
        polygon=Polygon(),
        length_mm=float(foot_length_mm),
        medial_sign=ms,
        heel_centre=heel_c,
        ball_centre=ball_c,
        heel_half_width=geometry.width_scale * m.heel_width_mm / 2 + geometry.heel_wall_mm,
        ball_half_width=geometry.width_scale * m.ball_width_mm / 2,
    )
    st = np.asarray(geometry.stations, float)
    u, fm, fl = st[:, 0], st[:, 1], st[:, 2]
    x = u * foot_length_mm
    # the heel wall lies outside the foot: shift the outline back by its thickness at u = 0
    x = x - geometry.heel_wall_mm * (1 - np.clip(u / 0.1, 0, 1))
    yc, r = out.centre_y(x), out.half_width(x)
    med = np.column_stack([x, yc + ms * fm * r])
    lat = np.column_stack([x, yc - ms * fl * r])
    x_tip = foot_length_mm
    tip = np.array([[x_tip, out.centre_y(x_tip) + ms * geometry.toe_tip * out.ball_half_width]])
    ring = np.vstack([med, tip, lat[::-1][:-1]])
    poly = shapely.make_valid(Polygon(ring))
    if poly.geom_type != "Polygon":
        poly = max(getattr(poly, "geoms", [poly]), key=lambda p: p.area)
    poly = poly.buffer(3.0, quad_segs=8).buffer(-3.0, quad_segs=8)  # round the station corners
    return FittedOutline(**{**out.__dict__, "polygon": poly})


def trim_length(outline: FittedOutline, length: str, m: Measurements, end_mm: float) -> Polygon:
    """Cut the outline for the prescribed shell ``length`` (full, sulcus, metatarsal, three_quarter).

    * ``sulcus``: along the toe crease, from 0.80 L medially to 0.72 L laterally.
    * ``metatarsal``: ``end_mm`` behind the met heads along the metatarsal parabola (the
      1st-to-5th met-head line bulging 6 mm forward under the 2nd and 3rd heads).
    * ``three_quarter``: straight across, ``end_mm`` behind the more proximal met head.
    """
    poly = outline.polygon
    if length == "full":
        return poly
    lm = m.landmarks
    ms = outline.medial_sign
    L = outline.length_mm
    y_med = outline.centre_y(0.7 * L) + ms * 1.5 * outline.ball_half_width
    y_lat = outline.centre_y(0.7 * L) - ms * 1.5 * outline.ball_half_width
    if length == "sulcus":
        xm, xl = SULCUS_MEDIAL_FRACTION * L, SULCUS_LATERAL_FRACTION * L
        pts = [(xm, y_med), (xl, y_lat)]
    elif length == "three_quarter":
        xc = min(lm.met_head_1[0], lm.met_head_5[0]) - end_mm
        pts = [(xc, y_med), (xc, y_lat)]
    elif length == "metatarsal":
        s = np.linspace(-1.5, 1.5, 25)  # -1 lateral head, +1 medial head
        t = np.clip((s + 1) / 2, 0, 1)
        x1, x5 = lm.met_head_1[0], lm.met_head_5[0]
        xs = x5 + t * (x1 - x5) + 6.0 * np.clip(1 - s**2, 0, None) - end_mm
        ys = outline.centre_y(xs) + ms * s * outline.ball_half_width
        pts = list(zip(xs, ys, strict=True))
        pts = [pts[-1], *pts[::-1][1:]] if ms < 0 else pts
        pts = sorted(pts, key=lambda p: -ms * p[1])  # from medial to lateral
    else:
        raise PrescriptionError(f"unknown length {length!r}")
    # keep everything behind the cut line: close the polygon far behind the heel
    back = -50.0
    p0, p1 = pts[0], pts[-1]
    keep = Polygon([*pts, (back, p1[1]), (back, p0[1])])
    keep = shapely.make_valid(keep)
    cut = poly.intersection(keep)
    if cut.geom_type != "Polygon":
        cut = max(getattr(cut, "geoms", [cut]), key=lambda p: p.area)
    return cut.buffer(2.0, quad_segs=8).buffer(-2.0, quad_segs=8)
