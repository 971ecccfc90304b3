"""Where a device's parts lie on one foot, from that foot's own landmarks (foot frame, mm).

Every region a correction acts on or a check reads is placed here, once, from the
anatomy found on the scan (heel centre, met heads, sulcus, arch apex), never from fixed
fractions of the foot's length: the heel seat around the heel centre, the forefoot band
under the met heads, the toe zone beyond the sulcus, the centre line the frontal planes
turn about, and the along-the-foot blends between them.

Examples
--------
>>> import numpy as np
>>> r = Regions.from_points(side="left", heel_centre=(40, 0), heel_half_width=32,
...     met_head_1=(190, -35), met_head_5=(165, 40), sulcus=(215, 195), arch_apex=(100, -20),
...     length_mm=260)
>>> float(r.centre_y(np.array(40.0)))
0.0
>>> r.medial_sign
-1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orthogen.foot.heightmap import Grid

#: The heel seat read for the frontal angle: an ellipse this fraction of the heel centre's distance
#: to the heel back along x (semi-axis), and this fraction of the heel half-width across.
HEEL_SEAT_ALONG = 0.5
HEEL_SEAT_ACROSS = 0.5
#: The forefoot band read for the forefoot's frontal angle: from this far behind the met-head line
#: to this far behind it (mm; the toe zone starts at the line), inset this fraction of the 1st-5th
#: span from either met head.
FOREFOOT_BAND_BEHIND_MM = 12.0
FOREFOOT_BAND_FRONT_MM = 2.0
FOREFOOT_BAND_INSET = 0.12
#: The heel seat ends (posting full, cup walls full) this fraction of the way from the heel centre
#: to the met-head line; rearfoot posting has tapered out at the arch apex.
HEEL_SEAT_END = 0.25
#: The forefoot's frontal plane applies from this far behind the met-head line (mm).
FOREFOOT_FROM_MM = 30.0


def smoothstep(t: np.ndarray) -> np.ndarray:
    """0 for t <= 0, 1 for t >= 1, C1 in between."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def ramp(x: np.ndarray, zero_at: float, one_at: float) -> np.ndarray:
    """Smooth step from 0 at ``zero_at`` to 1 at ``one_at`` (either order)."""
    span = np.asarray(one_at, float) - zero_at
    span = np.where(np.abs(span) < 1e-9, 1e-9, span)
    return smoothstep((np.asarray(x, float) - zero_at) / span)


@dataclass(frozen=True)
class Regions:
    """The anatomical frame of one device (foot frame: x from the heel back, y left, mm).

    ``centre_y(x)`` is the centre line from the heel centre to the ball centre (midpoint of the
    1st and 5th met heads); frontal planes turn about it. ``met_line_x(y)`` is the oblique
    1st-5th met-head line; ``sulcus_x(y)`` the toe sulcus line.
    """

    side: str
    medial_sign: float
    length_mm: float
    heel_centre: tuple[float, float]
    heel_half_width: float
    met_head_1: tuple[float, float]
    met_head_5: tuple[float, float]
    sulcus: tuple[float, float]  # x of the sulcus at the 1st and at the 5th met head's y
    arch_apex: tuple[float, float]
    met_heads: tuple = ()  # the five heads' plantar centres, 1st to 5th (the metatarsal parabola)

    @classmethod
    def from_points(
        cls,
        *,
        side,
        heel_centre,
        heel_half_width,
        met_head_1,
        met_head_5,
        sulcus,
        arch_apex,
        length_mm,
        met_heads=None,
    ) -> Regions:
        return cls(
            side=side,
            medial_sign=-1.0 if side == "left" else 1.0,
            length_mm=float(length_mm),
            heel_centre=tuple(map(float, heel_centre)),
            heel_half_width=float(heel_half_width),
            met_head_1=tuple(map(float, met_head_1)),
            met_head_5=tuple(map(float, met_head_5)),
            sulcus=tuple(map(float, sulcus)),
            arch_apex=tuple(map(float, arch_apex)),
            met_heads=tuple(
                tuple(map(float, p)) for p in (met_heads or parabola_heads(met_head_1, met_head_5))
            ),
        )

    # --- lines ---------------------------------------------------------------------------------
    @property
    def ball_centre(self) -> tuple[float, float]:
        return (
            0.5 * (self.met_head_1[0] + self.met_head_5[0]),
            0.5 * (self.met_head_1[1] + self.met_head_5[1]),
        )

    @property
    def ball_half_width(self) -> float:
        return 0.5 * abs(self.met_head_1[1] - self.met_head_5[1])

    def centre_y(self, x: np.ndarray) -> np.ndarray:
        """y of the centre line at ``x`` (straight heel centre → ball centre, constant beyond)."""
        (hx, hy), (bx, by) = self.heel_centre, self.ball_centre
        t = np.clip((np.asarray(x, float) - hx) / max(bx - hx, 1.0), 0.0, 1.0)
        return hy + t * (by - hy)

    def medial_offset(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed distance toward the medial side from the centre line, mm."""
        return self.medial_sign * (np.asarray(y, float) - self.centre_y(x))

    def _between_heads(self, y: np.ndarray) -> np.ndarray:
        """0 at the 5th met head's y, 1 at the 1st's (clipped to 0..1 beyond them)."""
        y1, y5 = self.met_head_1[1], self.met_head_5[1]
        return np.clip((np.asarray(y, float) - y5) / (y1 - y5 if abs(y1 - y5) > 1 else 1.0), 0.0, 1.0)

    def met_line_x(self, y: np.ndarray) -> np.ndarray:
        """x of the oblique met-head line (1st to 5th head) at ``y`` (constant beyond the heads)."""
        t = self._between_heads(y)
        return self.met_head_5[0] + t * (self.met_head_1[0] - self.met_head_5[0])

    def met_arc_x(self, y: np.ndarray) -> np.ndarray:
        """x of the metatarsal parabola through the five met heads at ``y`` (the met-head line as it
        is: the 2nd and 3rd heads lie distal of the straight 1st-5th line); constant beyond the heads."""
        heads = sorted(self.met_heads, key=lambda p: p[1])
        return np.interp(np.asarray(y, float), [p[1] for p in heads], [p[0] for p in heads])

    def sulcus_x(self, y: np.ndarray) -> np.ndarray:
        """x of the toe sulcus line at ``y``."""
        t = self._between_heads(y)
        return self.sulcus[1] + t * (self.sulcus[0] - self.sulcus[1])

    @property
    def met_line_rear_x(self) -> float:
        """The met-head line's most proximal x (the 5th head, usually)."""
        return min(self.met_head_1[0], self.met_head_5[0])

    # --- along the foot ------------------------------------------------------------------------
    @property
    def heel_seat_end_x(self) -> float:
        hx = self.heel_centre[0]
        return hx + HEEL_SEAT_END * (self.met_line_rear_x - hx)

    def rearfoot_weight(self, x: np.ndarray) -> np.ndarray:
        """1 over the heel seat, tapering smoothly to 0 at the arch apex."""
        return 1.0 - ramp(x, self.heel_seat_end_x, max(self.arch_apex[0], self.heel_seat_end_x + 10.0))

    def forefoot_weight(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """0 over the heel seat, rising smoothly to 1 at FOREFOOT_FROM_MM behind the met-head line.

        The frontal plane of the device turns from the rearfoot's to the forefoot's along it.
        """
        x1 = self.met_line_x(y) - FOREFOOT_FROM_MM
        x0 = np.minimum(self.heel_seat_end_x, x1 - 20.0)
        return smoothstep((np.asarray(x, float) - x0) / (x1 - x0))

    def toe_weight(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """0 up to the met heads (their parabola), 1 from the sulcus line on (the toe zone)."""
        x0 = self.met_arc_x(y)
        x1 = np.maximum(self.sulcus_x(y), x0 + 8.0)
        return smoothstep((np.asarray(x, float) - x0) / (x1 - x0))

    # --- where the frontal planes are read ------------------------------------------------------
    @property
    def heel_seat_axes(self) -> tuple[float, float]:
        """Semi-axes (along, across) of the heel seat ellipse, mm."""
        return max(HEEL_SEAT_ALONG * self.heel_centre[0], 8.0), HEEL_SEAT_ACROSS * self.heel_half_width

    def heel_seat(self, grid: Grid, scale: float = 1.0) -> np.ndarray:
        """Cells of the heel seat (an ellipse around the heel centre; ``scale`` widens it)."""
        X, Y = grid.mesh()
        hx, hy = self.heel_centre
        ax, ay = (scale * a for a in self.heel_seat_axes)
        return ((X - hx) / ax) ** 2 + ((Y - hy) / ay) ** 2 <= 1.0

    def forefoot_band(self, grid: Grid, back_mm: float = 0.0) -> np.ndarray:
        """Cells under the met heads (a band along the oblique met-head line, between the heads).

        ``back_mm``: the band moved this far proximally (a shell ending behind the met heads is read
        behind its skived end).
        """
        X, Y = grid.mesh()
        xl = self.met_line_x(Y) - back_mm
        lo, hi = xl - FOREFOOT_BAND_BEHIND_MM, xl - FOREFOOT_BAND_FRONT_MM
        t = self._between_heads(Y)
        y1, y5 = self.met_head_1[1], self.met_head_5[1]
        inside_y = (np.minimum(y1, y5) < Y) & (Y < np.maximum(y1, y5))
        band = (X >= lo) & (X <= hi) & inside_y
        return band & (t >= FOREFOOT_BAND_INSET) & (t <= 1.0 - FOREFOOT_BAND_INSET)


def parabola_heads(met_head_1, met_head_5) -> list[tuple[float, float]]:
    """The five met heads on the metatarsal parabola through the 1st and 5th, the 2nd most distal
    (formula 2 > 1 = 3 > 4 > 5), evenly spaced across."""
    (x1, y1), (x5, y5) = met_head_1, met_head_5
    d = x1 - x5
    out = []
    for k in range(5):
        t = k / 4.0
        out.append((float(x1 + d / 8.0 - 2.0 * d * (t - 0.25) ** 2), float(y1 + t * (y5 - y1))))
    return out


def frontal_angle(z: np.ndarray, grid: Grid, region: np.ndarray, medial_sign: float) -> float:
    """Frontal-plane angle (deg, + = medial side higher) of a plane fitted to ``z`` over ``region``.

    NaN when fewer than 10 finite cells are in the region.
    """
    X, Y = grid.mesh()
    sel = region & np.isfinite(z)
    if sel.sum() < 10:
        return float("nan")
    a = np.column_stack([np.ones(sel.sum()), X[sel], Y[sel]])
    coef, *_ = np.linalg.lstsq(a, z[sel], rcond=None)
    return float(np.degrees(np.arctan(medial_sign * coef[2])))
