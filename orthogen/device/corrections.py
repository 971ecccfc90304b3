"""The device as two height fields (top and bottom, mm) over the fitted outline.

Pure array functions, standard frame (mm, z up, bottom on z = 0). The top
surface starts as the plantar surface raised by the shell (full contact), with
arch fill, edge caps and the heel-cup/flange walls (the *base* device); every
prescribed correction is then one named, additive thickness field, so the report
can say exactly what each one did and the checks can compare a design with and
without it:

* heel lift: ``heel_lift_mm`` under the heel seat, tapering to 0 at the met heads;
* rearfoot post: a frontal-plane wedge of slope tan(angle) under the heel seat
  (+ varus raises the medial side), pivoting on the low edge, tapering out by
  the midfoot; forefoot post likewise under the forefoot;
* medial heel skive: up to ``medial_heel_skive_mm`` under the medial heel;
* accommodations: met pad / met bar domes, Morton's extension, and the
  1st MPJ cut-out and heel spur pocket as recesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from shapely import contains_xy
from shapely.geometry import Polygon

from orthogen.device.template import FittedOutline, TemplateGeometry
from orthogen.device.verify import Probe, forefoot_region, frontal_angle, heel_seat_region
from orthogen.errors import GeometryError
from orthogen.foot.anatomy import (
    ARCH_LINE_FRACTION,
    ARCH_RANGE,
    FOREFOOT_BAND,
    SHORT_SHELL_FOREFOOT_BAND_MM,
    SULCUS_MEDIAL_FRACTION,
)
from orthogen.foot.heightmap import Grid, sample
from orthogen.foot.measure import Measurements
from orthogen.foot.plantar import PlantarSurface
from orthogen.rx.model import Prescription

#: No part of a device may be thinner than this (mm): printable in PP, TPU or nylon.
MIN_THICKNESS_MM = 1.0


@dataclass(frozen=True)
class DeviceSurfaces:
    """Top and bottom height fields (mm) of a device on ``grid``; ``inside`` marks the outline."""

    grid: Grid
    top: np.ndarray
    bottom: np.ndarray
    inside: np.ndarray
    outline: Polygon
    fields: dict = field(default_factory=dict)  # name -> additive thickness field (mm) as applied
    notes: dict = field(default_factory=dict)  # numbers the report quotes (targets, regions)


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def taper_down(x: np.ndarray, full_until: float, zero_at: float) -> np.ndarray:
    """1 for x <= full_until, smoothly to 0 at x >= zero_at."""
    return 1.0 - smoothstep((x - full_until) / max(zero_at - full_until, 1e-9))


def taper_up(x: np.ndarray, zero_until: float, full_from: float) -> np.ndarray:
    """0 for x <= zero_until, smoothly to 1 at x >= full_from."""
    return smoothstep((x - zero_until) / max(full_from - zero_until, 1e-9))


def plantar_on_grid(plantar: PlantarSurface, grid: Grid, smooth_mm: float) -> np.ndarray:
    """The scanned plantar surface resampled on the device grid, smoothed, extrapolated where unscanned."""
    h = plantar.height
    valid = np.isfinite(h)
    # nearest-neighbour extrapolation outside the footprint (toes missing from an impression, margins)
    idx = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    filled = h[tuple(idx)]
    if smooth_mm > 0:
        filled = ndimage.gaussian_filter(filled, smooth_mm / plantar.grid.spacing, mode="nearest")
    X, Y = grid.mesh()
    gi = plantar.grid.to_index(np.stack([X, Y], axis=-1))
    gi = np.clip(gi, 0, np.array(plantar.grid.shape) - 1)
    # nothing of the foot is below the floor: a few cells under the 0.5 % floor percentile read < 0
    return np.maximum(ndimage.map_coordinates(filled, [gi[..., 0], gi[..., 1]], order=1, mode="nearest"), 0.0)


def edge_distance(inside: np.ndarray, spacing: float) -> np.ndarray:
    """Distance (mm) of every inside cell to the outline (cells outside: 0)."""
    return ndimage.distance_transform_edt(inside) * spacing


def arch_line_peak(
    top: np.ndarray, grid: Grid, outline: FittedOutline, inside: np.ndarray
) -> tuple[float, float, float]:
    """Peak of the top surface along the medial quarter line in the arch range: (height, x, y), mm.

    The same line ``measure`` reads the foot's arch on: a quarter of the local
    device width in from the medial edge, for x in [0.30 L, 0.62 L].
    """
    x, y = grid.axes()
    L = outline.length_mm
    cols = (x >= ARCH_RANGE[0] * L) & (x <= ARCH_RANGE[1] * L)
    best = (-np.inf, 0.0, 0.0)
    ms = outline.medial_sign
    for i in np.flatnonzero(cols):  # one column per mm of arch: ~90 iterations, not per cell
        js = np.flatnonzero(inside[i])
        if js.size == 0:
            continue
        y_med = y[js].max() if ms > 0 else y[js].min()
        y_lat = y[js].min() if ms > 0 else y[js].max()
        yl = y_med - ms * ARCH_LINE_FRACTION * abs(y_med - y_lat)
        hz = float(sample(top, grid, np.array([[x[i], yl]]))[0])
        if hz > best[0]:
            best = (hz, float(x[i]), float(yl))
    return best


def build_surfaces(
    plantar: PlantarSurface,
    m: Measurements,
    outline: FittedOutline,
    device_outline: Polygon,
    geom: TemplateGeometry,
    rx: Prescription,
    probe: Probe,
    grid_mm: float = 1.0,
) -> DeviceSurfaces:
    """Top and bottom height fields of the prescribed device (standard frame, mm)."""
    b = device_outline.bounds
    grid = Grid.covering(np.array(b[:2]), np.array(b[2:]), grid_mm, margin=3 * grid_mm)
    X, Y = grid.mesh()
    inside = contains_xy(device_outline, X, Y)
    L = outline.length_mm
    ms = outline.medial_sign
    d_med = outline.medial_offset(X, Y)  # + toward medial, mm
    half = outline.half_width(X)
    u = X / L
    t0 = rx.shell_thickness_mm + rx.top_cover_mm
    if geom.forefoot_thickness_mm is not None:
        t_ff = geom.forefoot_thickness_mm + rx.top_cover_mm
        t0 = t0 + (t_ff - t0) * taper_up(u, 0.62, 0.75)
    P = plantar_on_grid(plantar, grid, geom.smooth_mm)
    fields: dict[str, np.ndarray] = {}
    notes: dict = {}

    # arch fill: lower the arch contour by up to arch_fill_mm (lab cast fill)
    along = np.sin(np.pi * np.clip((u - geom.arch_start) / (geom.arch_end - geom.arch_start), 0, 1)) ** 2
    across = smoothstep((d_med + 0.2 * half) / (0.8 * half))
    arch_w = along * across
    P_adj = P - np.minimum(P, rx.arch_fill_mm) * arch_w

    # caps: the device follows the foot only up to its walls. In the heel the cup rim caps
    # everything; along the lateral midfoot the lateral wall; along the medial midfoot the foot's
    # own arch (plus a 4 mm wrap) or the medial flange; at the forefoot a low edge.
    dist = edge_distance(inside, grid_mm)
    arch_foot = m.arch_height_mm
    cap_heel = max(rx.heel_cup_depth_mm, float(np.max(t0)))
    cap_lat = max(geom.lateral_wall_mm, rx.lateral_flange_mm)
    cap_med = max(arch_foot + float(np.max(t0)) + geom.arch_wrap_mm, rx.medial_flange_mm, cap_lat)
    medial_w = smoothstep((d_med + 0.2 * half) / (0.4 * half))
    side_cap = medial_w * cap_med + (1 - medial_w) * cap_lat
    in_heel = taper_down(u, geom.heel_seat_end, geom.heel_cup_end)
    in_fore = taper_up(u, 0.55, 0.68)
    fore_cap = t0 + geom.forefoot_edge_mm
    cap = in_heel * cap_heel + (1 - in_heel) * ((1 - in_fore) * side_cap + in_fore * fore_cap)
    top = np.minimum(P_adj + t0, np.maximum(cap, t0))

    # walls: the heel cup and flanges reach their height at the outline, ramping in over cup_blend_mm
    wall_h = in_heel * rx.heel_cup_depth_mm + (1 - in_heel) * (1 - in_fore) * np.where(
        d_med > 0, rx.medial_flange_mm, rx.lateral_flange_mm
    )
    ramp = smoothstep(1.0 - (dist - geom.heel_wall_mm) / geom.cup_blend_mm)
    top = np.maximum(top, wall_h * ramp)
    notes["shell_plus_cover_mm"] = float(np.max(t0))

    # heel lift, full under the heel seat, to zero at the met heads
    x_met = min(m.landmarks.met_head_1[0], m.landmarks.met_head_5[0])
    lift_f = rx.heel_lift_mm * taper_down(X, geom.lift_full_until * L, x_met)
    fields["heel_lift"] = lift_f

    # medial heel skive (Kirby): raise the medial heel seat up to the skive depth
    heel_half = outline.heel_half_width
    w_rf = taper_down(u, geom.rearfoot_post_full_until, geom.rearfoot_post_zero_at)
    fields["medial_heel_skive"] = rx.medial_heel_skive_mm * w_rf * np.clip(d_med / heel_half, 0, 1)
    fields.update(_accommodations(X, Y, d_med, half, m, outline, rx))
    for f in fields.values():
        top = top + f

    # posts: a frontal wedge pivoting on the low edge that turns the heel seat (forefoot) by exactly
    # the prescribed angle from where the unposted device has it
    inner = ndimage.binary_erosion(inside)
    seat, fore = inner & heel_seat_region(grid, probe), inner & forefoot_region(grid, probe)
    # on a short shell the post reaches full strength 16 mm before the shell's end (where it is read)
    end_u = float(device_outline.bounds[2]) / L
    ff_full = min(geom.forefoot_post_full_from, end_u - SHORT_SHELL_FOREFOOT_BAND_MM[0] / L)
    ff_zero = min(geom.forefoot_post_zero_at, ff_full - 0.08)
    w_ff = taper_up(u, ff_zero, ff_full)
    for name, deg, region, w, half_w in (
        ("rearfoot_post", rx.rearfoot_post_deg, seat, w_rf, heel_half),
        ("forefoot_post", rx.forefoot_post_deg, fore, w_ff, outline.ball_half_width),
    ):
        a = frontal_angle(top, grid, region, ms) if deg else 0.0
        a = 0.0 if not np.isfinite(a) else a
        slope = np.tan(np.radians(a + deg)) - np.tan(np.radians(a))  # + raises the medial side
        wedge = np.abs(slope) * np.clip(half_w + np.sign(slope) * d_med, 0, 2 * half_w)
        fields[name] = w * wedge
        notes[f"{name}_base_angle_deg"] = round(a, 3)
        top = top + fields[name]

    # prescribed arch height: move the top along the medial arch until its peak is on target
    if rx.arch_height_mm is not None:
        # the arch edit stays between the heel seat and the met heads, where the posts are read
        # (on a short shell the forefoot is read further back: stop before that band too)
        u_end = min(FOREFOOT_BAND[0], probe.forefoot_x[0] / L)
        arch_bump = np.sin(np.pi * np.clip((u - 0.24) / max(u_end - 0.24, 0.05), 0, 1))
        shape = arch_bump * smoothstep((d_med + 0.1 * half) / (0.6 * half))
        floor = np.minimum(top, t0)  # lowering the arch never thins the shell below its thickness
        delta = np.zeros_like(top)
        for _ in range(8):
            trial = np.maximum(top + delta, floor)
            peak, _, _ = arch_line_peak(trial, grid, outline, inside)
            err = rx.arch_height_mm - peak
            if abs(err) < 0.02:
                break
            delta = delta + err * shape
        new_top = np.maximum(top + delta, floor)
        fields["arch_height"] = new_top - top
        top = new_top
        notes["arch_height_target_mm"] = rx.arch_height_mm

    bottom = np.zeros_like(top)
    thick = top - bottom
    thin = inside & (thick < MIN_THICKNESS_MM - 1e-6)
    if thin.any():
        raise GeometryError(_thin_reason(thin, fields, thick, rx))
    return DeviceSurfaces(grid, top, bottom, inside, device_outline, fields, notes)


def _thin_reason(thin: np.ndarray, fields: dict, thick: np.ndarray, rx: Prescription) -> str:
    worst = float(thick[thin].min())
    culprits = [k for k, f in fields.items() if np.any(f[thin] < 0)]
    keys = {
        "first_mpj_cutout": "first_mpj_cutout.depth_mm",
        "heel_spur_pocket": "heel_spur_pocket.depth_mm",
        "arch_height": "arch_height_mm",
    }
    named = ", ".join(keys.get(c, c) for c in culprits) or "shell_thickness_mm"
    return (
        f"{named}: the device would be {worst:.1f} mm thick in places, below the {MIN_THICKNESS_MM:g} mm "
        f"printable minimum (shell {rx.shell_thickness_mm:g} mm + top cover {rx.top_cover_mm:g} mm); "
        "reduce the recess or thicken the shell"
    )


def _dome(X, Y, cx, cy, half_len, half_wid) -> np.ndarray:
    r2 = ((X - cx) / half_len) ** 2 + ((Y - cy) / half_wid) ** 2
    return np.clip(1 - r2, 0, None) ** 2


def _accommodations(X, Y, d_med, half, m: Measurements, outline: FittedOutline, rx: Prescription) -> dict:
    """Additive thickness fields of the accommodations (mm; recesses negative)."""
    out: dict[str, np.ndarray] = {}
    lm = m.landmarks
    ms = outline.medial_sign

    # the met-head line, from the 5th (lateral) to the 1st (medial) head
    def met_line_x(y):
        (x1, y1), (x5, y5) = lm.met_head_1, lm.met_head_5
        t = np.clip((ms * (y - y5)) / max(abs(y1 - y5), 1.0), 0, 1)
        return x5 + t * (x1 - x5)

    if rx.met_pad is not None:
        p = rx.met_pad
        # under the 2nd-3rd met shafts: slightly medial of the ball centre
        cy = outline.ball_centre[1] + ms * 0.1 * outline.ball_half_width
        cx = float(met_line_x(np.array(cy))) - p.offset_mm - p.length_mm / 2
        out["met_pad"] = p.height_mm * _dome(X, Y, cx, cy, p.length_mm / 2, p.width_mm / 2)
    if rx.met_bar is not None:
        p = rx.met_bar
        xl = met_line_x(Y) - p.offset_mm - p.length_mm / 2
        along = np.clip(1 - ((X - xl) / (p.length_mm / 2)) ** 2, 0, None) ** 2
        across = smoothstep((0.85 * half - np.abs(d_med)) / (0.15 * half))
        out["met_bar"] = p.height_mm * along * across
    if rx.first_mpj_cutout is not None:
        p = rx.first_mpj_cutout
        cx, cy = lm.met_head_1  # centred under the 1st met head
        r = np.hypot(X - cx, Y - cy) / p.radius_mm
        out["first_mpj_cutout"] = -p.depth_mm * (1 - smoothstep((r - 0.7) / 0.3))
    if rx.heel_spur_pocket is not None:
        p = rx.heel_spur_pocket
        cx = lm.heel_centre[0] + p.offset_mm
        cy = outline.heel_centre[1] + ms * p.medial_offset_mm
        r = np.hypot(X - cx, Y - cy) / p.radius_mm
        out["heel_spur_pocket"] = -p.depth_mm * (1 - smoothstep((r - 0.6) / 0.4))
    if rx.mortons_extension is not None:
        p = rx.mortons_extension
        x_end = outline.length_mm if p.to_hallux_tip else SULCUS_MEDIAL_FRACTION * outline.length_mm
        x1 = lm.met_head_1[0]
        along = taper_up(X, x1 - 25.0, x1 - 10.0) * taper_down(X, x_end - 8.0, x_end)
        across = smoothstep((d_med - 0.15 * half) / (0.2 * half))
        out["mortons_extension"] = p.thickness_mm * along * across
    return out
