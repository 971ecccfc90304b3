"""Each prescribed correction as one pure function returning its named thickness field (mm).

Fields are added to the device's top surface (recesses are negative), on a grid in the
foot frame (mm); every one is placed from the foot's landmarks through
:class:`~orthogen.device.regions.Regions`. The report lists each field's extent, and the
checks find each accommodation back on the mesh at its landmark.

Examples
--------
>>> import numpy as np
>>> from orthogen.device.regions import Regions
>>> from orthogen.foot.heightmap import Grid
>>> g = Grid((0.0, -60.0), 1.0, (280, 121))
>>> r = Regions.from_points(side="left", heel_centre=(40, 0), heel_half_width=32,
...     met_head_1=(190, -40), met_head_5=(165, 40), sulcus=(215, 195), arch_apex=(100, -20),
...     length_mm=260)
>>> X, Y = g.mesh()
>>> lift = heel_lift(X, Y, r, 6.0)
>>> float(lift[40, 60]), float(lift[200, 60])
(6.0, 0.0)
>>> cx, cy = first_mpj_cutout_centre(r)
>>> (cx, cy) == r.met_head_1
True
"""

from __future__ import annotations

import numpy as np

from orthogen.device.regions import Regions, ramp, smoothstep
from orthogen.foot.heightmap import Grid, medial_line_profile

#: The arch region (fill, prescribed height) runs from the heel seat's end to this far behind the
#: met-head line (mm), over the medial half of the foot.
ARCH_END_BEFORE_MET_LINE_MM = 20.0
#: A met pad sits between the 2nd and 3rd met heads: this fraction of the way from the 5th head's
#: y to the 1st's.
MET_PAD_ACROSS = 0.6
#: Morton's extension starts this far behind the 1st met head (mm), full from 10 mm behind it.
MORTON_START_MM = 25.0
#: The 2nd met head lies this fraction of the way from the 1st head's y to the 5th's: the lateral
#: edge of a Morton's extension (1st ray only).
SECOND_HEAD_ACROSS = 0.25


def _dome(X, Y, cx, cy, half_len, half_wid) -> np.ndarray:
    r2 = ((X - cx) / half_len) ** 2 + ((Y - cy) / half_wid) ** 2
    return np.clip(1 - r2, 0, None) ** 2


def heel_lift(X: np.ndarray, Y: np.ndarray, regions: Regions, lift_mm: float) -> np.ndarray:
    """Heel lift: ``lift_mm`` under the heel seat, tapering smoothly to 0 at the met-head line."""
    if lift_mm == 0:
        return np.zeros_like(X)
    return lift_mm * (1.0 - ramp(X, regions.heel_seat_end_x, regions.met_line_x(Y)))


def medial_heel_skive(X: np.ndarray, Y: np.ndarray, regions: Regions, skive_mm: float) -> np.ndarray:
    """Kirby medial heel skive: the medial heel seat raised up to ``skive_mm`` at the heel's medial
    border, rising from the centre line, over the rearfoot."""
    if skive_mm == 0:
        return np.zeros_like(X)
    across = np.clip(regions.medial_offset(X, Y) / regions.heel_half_width, 0.0, 1.0)
    return skive_mm * regions.rearfoot_weight(X) * across


def arch_weight(X: np.ndarray, Y: np.ndarray, regions: Regions) -> np.ndarray:
    """0..1 over the medial arch: along from the heel seat's end to before the met heads, across
    from the centre line to the medial edge."""
    x0 = regions.heel_seat_end_x
    x1 = regions.met_line_x(Y) - ARCH_END_BEFORE_MET_LINE_MM
    along = np.sin(np.pi * np.clip((X - x0) / np.maximum(x1 - x0, 10.0), 0.0, 1.0)) ** 2
    half = 0.5 * (regions.heel_half_width + regions.ball_half_width)
    across = smoothstep((regions.medial_offset(X, Y) + 0.2 * half) / (0.8 * half))
    return along * across


def arch_fill(z: np.ndarray, X: np.ndarray, Y: np.ndarray, regions: Regions, fill_mm: float) -> np.ndarray:
    """Lab arch (cast) fill: the arch contour of ``z`` lowered by up to ``fill_mm`` (never below 0)."""
    if fill_mm == 0:
        return np.zeros_like(z)
    return -np.minimum(np.maximum(z, 0.0), fill_mm) * arch_weight(X, Y, regions)


def met_pad_centre(regions: Regions, length_mm: float, offset_mm: float) -> tuple[float, float]:
    """Met pad centre: between the 2nd and 3rd met heads, its distal edge ``offset_mm`` behind the
    metatarsal parabola."""
    y1, y5 = regions.met_head_1[1], regions.met_head_5[1]
    cy = y5 + MET_PAD_ACROSS * (y1 - y5)
    cx = float(regions.met_arc_x(np.array(cy))) - offset_mm - length_mm / 2
    return float(cx), float(cy)


def met_pad(X, Y, regions: Regions, height_mm, length_mm, width_mm, offset_mm) -> np.ndarray:
    """Metatarsal pad: a dome just proximal of met heads 2-4."""
    cx, cy = met_pad_centre(regions, length_mm, offset_mm)
    return height_mm * _dome(X, Y, cx, cy, length_mm / 2, width_mm / 2)


def met_bar(X, Y, regions: Regions, height_mm, length_mm, offset_mm) -> np.ndarray:
    """Metatarsal bar: a ridge across all met shafts, its distal edge ``offset_mm`` behind the heads."""
    xl = regions.met_arc_x(Y) - offset_mm - length_mm / 2
    along = np.clip(1 - ((X - xl) / (length_mm / 2)) ** 2, 0, None) ** 2
    half = regions.ball_half_width
    across = smoothstep((1.05 * half - np.abs(Y - regions.ball_centre[1])) / (0.25 * half))
    return height_mm * along * across


def first_mpj_cutout_centre(regions: Regions) -> tuple[float, float]:
    """A 1st MPJ cut-out is centred under the 1st met head."""
    return regions.met_head_1


def first_mpj_cutout(X, Y, regions: Regions, depth_mm, radius_mm) -> np.ndarray:
    """1st MPJ cut-out: a recess centred under the 1st met head (negative field)."""
    cx, cy = first_mpj_cutout_centre(regions)
    r = np.hypot(X - cx, Y - cy) / radius_mm
    return -depth_mm * (1 - smoothstep((r - 0.7) / 0.3))


def heel_spur_pocket_centre(
    regions: Regions, offset_mm: float, medial_offset_mm: float
) -> tuple[float, float]:
    hx, hy = regions.heel_centre
    return hx + offset_mm, hy + regions.medial_sign * medial_offset_mm


def heel_spur_pocket(X, Y, regions: Regions, depth_mm, radius_mm, offset_mm, medial_offset_mm) -> np.ndarray:
    """Heel spur pocket: a recess under the plantar heel around the heel centre (negative field)."""
    cx, cy = heel_spur_pocket_centre(regions, offset_mm, medial_offset_mm)
    r = np.hypot(X - cx, Y - cy) / radius_mm
    return -depth_mm * (1 - smoothstep((r - 0.6) / 0.4))


def mortons_extension(X, Y, regions: Regions, thickness_mm, end_x: float) -> np.ndarray:
    """Morton's extension: a firm layer under the 1st MPJ (the 1st ray), from behind the 1st met
    head to ``end_x`` (the sulcus or the hallux tip)."""
    mx, my = regions.met_head_1
    along = ramp(X, mx - MORTON_START_MM, mx - 10.0) * (1.0 - ramp(X, end_x - 8.0, end_x))
    y2 = my + SECOND_HEAD_ACROSS * (regions.met_head_5[1] - my)
    across = smoothstep((regions.medial_sign * (Y - y2) + 3.0) / 6.0)
    return thickness_mm * along * across


def arch_line_peak(
    top: np.ndarray, grid: Grid, inside: np.ndarray, regions: Regions
) -> tuple[float, float, float]:
    """Peak of ``top`` along the device's medial quarter line over the arch: (height, x, y), mm."""
    x_range = (regions.heel_seat_end_x, regions.met_line_rear_x - ARCH_END_BEFORE_MET_LINE_MM)
    xs, ys, zs = medial_line_profile(top, grid, inside, regions.medial_sign, x_range)
    if zs.size == 0 or not np.isfinite(zs).any():
        return float("nan"), float("nan"), float("nan")
    k = int(np.nanargmax(zs))
    return float(zs[k]), float(xs[k]), float(ys[k])


def arch_height(
    top: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    grid: Grid,
    inside: np.ndarray,
    regions: Regions,
    target_mm: float,
    floor: np.ndarray,
) -> np.ndarray:
    """The field that moves the arch's top surface until its peak on the medial quarter line is
    ``target_mm``; never below ``floor`` (the shell over the footbed). Iterated, ~5 rounds."""
    shape = arch_weight(X, Y, regions)
    delta = np.zeros_like(top)
    for _ in range(10):
        trial = np.maximum(top + delta, floor)
        peak = arch_line_peak(trial, grid, inside, regions)[0]
        err = target_mm - peak
        if not np.isfinite(err) or abs(err) < 0.02:
            break
        delta = delta + err * shape
    return np.maximum(top + delta, floor) - top


def accommodation_area(grid: Grid, regions: Regions, rx, length_mm: float) -> np.ndarray:
    """Cells where the prescribed accommodations change the surface (with a 2 mm margin): the
    frontal planes of the heel seat and the forefoot are read around them, not on them."""
    X, Y = grid.mesh()
    out = np.zeros(grid.shape, bool)
    if rx.first_mpj_cutout is not None:
        cx, cy = first_mpj_cutout_centre(regions)
        out |= np.hypot(X - cx, Y - cy) <= rx.first_mpj_cutout.radius_mm + 2.0
    if rx.heel_spur_pocket is not None:
        p = rx.heel_spur_pocket
        cx, cy = heel_spur_pocket_centre(regions, p.offset_mm, p.medial_offset_mm)
        out |= np.hypot(X - cx, Y - cy) <= p.radius_mm + 2.0
    if rx.met_pad is not None:
        p = rx.met_pad
        out |= met_pad(X, Y, regions, 1.0, p.length_mm + 4, p.width_mm + 4, p.offset_mm - 2) > 0
    if rx.met_bar is not None:
        p = rx.met_bar
        out |= met_bar(X, Y, regions, 1.0, p.length_mm + 4, p.offset_mm - 2) > 0
    if rx.mortons_extension is not None:
        out |= mortons_extension(X, Y, regions, 1.0, length_mm) > 0
    return out


#: A heel seat mostly taken by a pocket is read on the seat lengthened this many times along the foot.
SEAT_LENGTHENED = 1.6


def seat_cells(grid: Grid, regions: Regions, excluded: np.ndarray) -> np.ndarray:
    """The heel seat's cells to read its frontal plane on, around any accommodation there: a heel
    spur pocket under the heel centre leaves the ring of a wider seat."""
    seat = regions.heel_seat(grid)
    cells = seat & ~excluded
    if cells.sum() < 0.3 * seat.sum():
        # the seat lengthened, not widened (on a narrow heel that reached the cup's walls), read in
        # front of the pocket and behind it alike: what the surface twists along the foot evens out
        # at the heel centre
        X, Y = grid.mesh()
        (hx, hy), (ax, ay) = regions.heel_centre, regions.heel_seat_axes
        cells = (((X - hx) / (SEAT_LENGTHENED * ax)) ** 2 + ((Y - hy) / ay) ** 2 <= 1.0) & ~excluded
    return cells
