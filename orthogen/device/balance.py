"""Balancing, as labs balance a cast: the foot brought into its prescribed frontal-plane position.

Standard frame, mm, + angles = varus (medial side higher). The heel seat's frontal angle
is the plane fitted to the plantar surface over the heel seat (an ellipse around the heel
centre), the forefoot's the plane over the band under the met heads; their difference is
the foot's forefoot-to-rearfoot relationship (+ forefoot varus, − valgus).

Balancing turns the plantar surface about the foot's centre line so that, against the
floor, the heel seat lies at ``balance_inversion_deg + rearfoot_post_deg`` and the forefoot
at ``balance_inversion_deg + forefoot_post_deg`` (``auto``: the foot's own
forefoot-to-rearfoot angle, i.e. the forefoot keeps its relation to the balanced heel; the
rearfoot post acts under the heel only). The turn is a shear in z — exact
for angles read by plane fits — whose slope blends from the rearfoot's to the forefoot's
between the heel seat and the met heads, so the outline never moves. Then the heel and the
ball are each set down on the footbed, and the footbed itself can carry a shoe's
heel-to-ball drop.

Examples
--------
>>> import numpy as np
>>> from orthogen.foot.heightmap import Grid
>>> from orthogen.device.regions import Regions, frontal_angle
>>> g = Grid((0.0, -60.0), 1.0, (280, 121))
>>> X, Y = g.mesh()
>>> r = Regions.from_points(side="right", heel_centre=(40, 0), heel_half_width=32,
...     met_head_1=(190, 40), met_head_5=(165, -40), sulcus=(215, 195), arch_apex=(100, 20),
...     length_mm=260)
>>> tilted = 2.0 + np.tan(np.radians(-6.0)) * Y        # a heel captured 6 deg everted
>>> b = plan_balance(tilted, g, r, rearfoot_post_deg=0.0)
>>> round(b.heel_seat_captured_deg, 3), round(b.heel_seat_target_deg, 3)
(-6.0, 0.0)
>>> round(frontal_angle(tilted + twist(g, r, b), g, r.heel_seat(g), r.medial_sign), 6)
0.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from orthogen.device.regions import Regions, frontal_angle, ramp
from orthogen.foot.heightmap import Grid

#: A wedge that only adds material pivots this far (mm) from the centre line: past any foot's edge.
LIFT_PIVOT_MM = 70.0


@dataclass(frozen=True)
class Balance:
    """The foot's captured frontal planes and the balanced position (deg, + = varus, against the floor)."""

    heel_seat_captured_deg: float
    forefoot_captured_deg: float
    forefoot_to_rearfoot_deg: float  # the foot's own relationship as captured (+ forefoot varus)
    balance_inversion_deg: float
    rearfoot_post_deg: float
    forefoot_post_deg: float  # as applied (``auto`` resolved to the measured relationship)
    forefoot_post_auto: bool

    @property
    def heel_seat_target_deg(self) -> float:
        """The heel seat's frontal angle against the floor once balanced and posted."""
        return self.balance_inversion_deg + self.rearfoot_post_deg

    @property
    def forefoot_target_deg(self) -> float:
        """The forefoot's frontal angle against the floor once balanced and posted: the balanced
        position plus the forefoot post (the extrinsic rearfoot post stays under the heel)."""
        return self.balance_inversion_deg + self.forefoot_post_deg

    def as_dict(self) -> dict:
        d = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        d["heel_seat_target_deg"] = round(self.heel_seat_target_deg, 3)
        d["forefoot_target_deg"] = round(self.forefoot_target_deg, 3)
        return d


def plan_balance(
    z: np.ndarray,
    grid: Grid,
    regions: Regions,
    *,
    rearfoot_post_deg: float = 0.0,
    forefoot_post_deg: float | str = 0.0,
    balance_inversion_deg: float = 0.0,
    seat: np.ndarray | None = None,
    forefoot: np.ndarray | None = None,
) -> Balance:
    """Measure the captured frontal planes of ``z`` and the balanced position the prescription asks.

    ``seat`` / ``forefoot``: the cells to read the planes on (default: the regions' heel seat and
    forefoot band); the checks read the finished device on the same cells.
    """
    seat = regions.heel_seat(grid) if seat is None else seat
    forefoot = regions.forefoot_band(grid) if forefoot is None else forefoot
    ms = regions.medial_sign
    a_h = frontal_angle(z, grid, seat, ms)
    a_f = frontal_angle(z, grid, forefoot, ms)
    a_h = 0.0 if not np.isfinite(a_h) else a_h
    a_f = a_h if not np.isfinite(a_f) else a_f
    ff_rf = a_f - a_h
    auto = isinstance(forefoot_post_deg, str)
    return Balance(
        heel_seat_captured_deg=a_h,
        forefoot_captured_deg=a_f,
        forefoot_to_rearfoot_deg=ff_rf,
        balance_inversion_deg=float(balance_inversion_deg),
        rearfoot_post_deg=float(rearfoot_post_deg),
        forefoot_post_deg=float(ff_rf if auto else forefoot_post_deg),
        forefoot_post_auto=auto,
    )


def twist(grid: Grid, regions: Regions, balance: Balance, lift_only: bool = False) -> np.ndarray:
    """The balancing shear (mm, added to z): turns the heel seat and the forefoot from their
    captured frontal angles to the balanced ones, about the centre line, blending along the foot.

    ``lift_only``: pivot on the low side instead (a wedge that only adds material, as a post does;
    the frontal angles come out the same)."""
    X, Y = grid.mesh()
    s_rear = np.tan(np.radians(balance.heel_seat_target_deg)) - np.tan(
        np.radians(balance.heel_seat_captured_deg)
    )
    s_fore = np.tan(np.radians(balance.forefoot_target_deg)) - np.tan(
        np.radians(balance.forefoot_captured_deg)
    )
    lam = regions.forefoot_weight(X, Y)
    s = s_rear * (1.0 - lam) + s_fore * lam
    shear = regions.medial_offset(X, Y) * s
    if lift_only:  # one lift everywhere, so the heel's height over the ball does not change
        shear = shear + max(abs(s_rear), abs(s_fore)) * LIFT_PIVOT_MM
    return shear


def seat_on_footbed(
    z: np.ndarray, grid: Grid, regions: Regions, seat: np.ndarray, band: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """Set the balanced heel and ball down on the footbed: ``z`` plus a vertical offset for the
    rearfoot and one for the forefoot (blended along the foot) so that the lowest points of the heel
    seat (``seat``) and of the met heads (``band``) are at 0; whatever would still pass through the
    footbed (a capture's low lateral column) rests on it. Frontal angles are unchanged.

    Returns (z seated, rear offset, fore offset), mm.
    """
    X, Y = grid.mesh()
    lam = regions.forefoot_weight(X, Y)
    g_rear = -float(np.percentile(z[seat], 1)) if seat.any() else 0.0
    g_fore = -float(np.percentile(z[band], 1)) if band.any() else g_rear
    seated = z + g_rear * (1.0 - lam) + g_fore * lam
    return np.maximum(seated, 0.0), g_rear, g_fore


def footbed(grid: Grid, regions: Regions, drop_mm: float) -> np.ndarray:
    """The shoe's footbed under the device (mm): ``drop_mm`` under the heel seat, 0 from the met
    heads on, a smooth ramp through the shank (a flat footbed when the drop is 0)."""
    X, Y = grid.mesh()
    if drop_mm == 0:
        return np.zeros(grid.shape)
    return drop_mm * (1.0 - ramp(X, regions.heel_seat_end_x, regions.met_line_x(Y) - 15.0))


#: Under load the forefoot spreads flat across the met heads: what a non-weight-bearing capture shows
#: above the plane of the met heads (its rounded edges, a convex transverse arch, the sulcus) is
#: brought down to within this height (mm) of it, with a soft (C1) knee this wide (mm).
FOREFOOT_RISE_MM = 0.5
FOREFOOT_KNEE_MM = 1.0


def forefoot_down(
    z: np.ndarray, grid: Grid, regions: Regions, band: np.ndarray, rise_mm: float = FOREFOOT_RISE_MM
) -> np.ndarray:
    """``z`` with the forefoot brought down onto the plane of its met heads: nothing beyond the met
    heads' zone rises more than ``rise_mm`` above the plane fitted over ``band`` and lowered through
    its lowest points (blended in from 40 mm behind the met-head line). The plane's tilt, and so the
    forefoot's frontal angle, stays."""
    X, Y = grid.mesh()
    sel = band & np.isfinite(z)
    if sel.sum() < 10:
        return z
    a = np.column_stack([np.ones(sel.sum()), X[sel], Y[sel]])
    coef, *_ = np.linalg.lstsq(a, z[sel], rcond=None)
    # the met heads' frontal plane, level along the foot (the toes beyond are brought down to it),
    # through the lowest heads rather than their mean
    plane = coef[0] + coef[1] * float(X[sel].mean()) + coef[2] * Y
    plane = plane + float(np.percentile((z - plane)[sel], 5))
    w = ramp(X, regions.met_line_x(Y) - 40.0, regions.met_line_x(Y) - 15.0)
    k = FOREFOOT_KNEE_MM
    excess = k * np.logaddexp(0.0, (z - plane - rise_mm) / k)  # a smooth max(z - plane - rise, 0)
    return z - w * excess


#: Under load the heel pad spreads flat: over the heel seat (and this much beyond it, fading out by
#: the second factor) a capture's rounded heel is brought down to its seat plane, as labs expand and
#: flatten the heel seat of a non-weight-bearing cast.
HEEL_FLAT_SCALE = (1.2, 1.7)


def heel_down(z: np.ndarray, grid: Grid, regions: Regions, rise_mm: float = FOREFOOT_RISE_MM) -> np.ndarray:
    """``z`` with the heel seat brought down onto its own plane (fitted over the heel seat and lowered
    through its lowest points): a flat, loaded heel pad whose frontal angle is the capture's."""
    X, Y = grid.mesh()
    seat = regions.heel_seat(grid) & np.isfinite(z)
    if seat.sum() < 10:
        return z
    a = np.column_stack([np.ones(seat.sum()), X[seat], Y[seat]])
    coef, *_ = np.linalg.lstsq(a, z[seat], rcond=None)
    plane = coef[0] + coef[1] * float(X[seat].mean()) + coef[2] * Y
    plane = plane + float(np.percentile((z - plane)[seat], 5))
    hx, hy = regions.heel_centre
    ax, ay = regions.heel_seat_axes
    rho = np.sqrt(((X - hx) / ax) ** 2 + ((Y - hy) / ay) ** 2)
    w = 1.0 - ramp(rho, *HEEL_FLAT_SCALE)
    k = FOREFOOT_KNEE_MM
    return z - w * k * np.logaddexp(0.0, (z - plane - rise_mm) / k)
