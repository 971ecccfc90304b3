"""Construction: from the foot-contact surface to the device's two height fields and its outline.

Foot frame, mm, z above z = 0 (the footbed may carry a shoe's drop). Given the top surface
``F`` the foot rests on (balanced plantar surface + shell + corrections):

* **Trimlines**: the device follows the foot up its sides only to the prescribed edge heights
  (heel cup depth, medial arch + wrap or flange, lateral wall or flange, a low forefoot
  edge); the contact region is where ``F`` lies below them, so edges follow the foot's own
  contours (no flat-topped walls, no creases). Beyond it, in the heel and midfoot, a wall of
  one wall thickness ends in a round rim (radius half the wall).
* ``full_contact``: filled from the footbed up to the top (TPU, EVA).
* ``shell``: a uniform shell under the top — the lower envelope of balls of the shell's
  radius on it, so the cup's outside follows its inside — hollow underneath, standing on an
  extrinsic rearfoot post (a wedge flat on the footbed, confined to the heel, its front edge
  bevelled at 45°) and on the forefoot.
* Ends and edges: a full or sulcus length ends feathered (at most 1.5 mm over the last 3 mm),
  a metatarsal or three-quarter length skived over at least 10 mm, the forefoot's sides
  tapered; never a square cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from shapely.geometry import Polygon

from orthogen.device.distance import distance_to
from orthogen.device.regions import Regions, smoothstep
from orthogen.device.template import largest_polygon
from orthogen.foot.grid_polygon import cells_inside
from orthogen.foot.heightmap import Grid, medial_line_profile
from orthogen.rx.limits import SHORT_SHELL_END_MARGIN_MM, SHORT_SHELL_PAD_CLEAR_MM, SHORT_SHELL_SKIVE_MM

#: No part of a device may be thinner than this (mm), engraved label excepted.
MIN_THICKNESS_MM = 1.0
#: A feathered end (full, sulcus) and every tapered edge: this thick at the very edge (mm)...
EDGE_THICKNESS_MM = 1.2
#: ... at most FEATHER_MAX_MM over the last FEATHER_LENGTH_MM ...
FEATHER_MAX_MM = 1.5
FEATHER_LENGTH_MM = 3.0
#: ... a skived end (metatarsal, three-quarter) reaches full thickness this far from the end (mm);
#: a shell cut there ends this much further behind its line than the prescription's rule (a margin) ...
END_MARGIN_MM = SHORT_SHELL_END_MARGIN_MM
SKIVE_LENGTH_MM = SHORT_SHELL_SKIVE_MM
#: Caps act at most this far in from the outline (mm): beyond it every cap exceeds any device.
CAP_REACH_MM = 30.0
#: ... and the forefoot's side edges may rise this much per mm inward (and this much per mm², so the
#: taper stays near the edge and never reaches under the met heads).
SIDE_EDGE_SLOPE = 0.35
SIDE_EDGE_CURVE = 0.05
#: Outside the outline caps are worked out only this many grid cells out: beyond, the device's
#: fields are carried out from its edge (:func:`extend_outside`) and no mesh covers them.
OUTSIDE_CELLS = 3
#: The extrinsic rearfoot post ends this far behind the arch apex (mm), its front bevelled at 45°,
#: and reaches out under the heel to where the shell's underside is this much above its heel-seat level.
POST_END_BEFORE_ARCH_MM = 25.0
POST_REACH_MM = 4.0
#: The post's sides rise this steeply from its outline (mm per mm, about 76 degrees).
POST_SIDE_SLOPE = 4.0
#: Trimlines act only this close to the foot's outline (mm), fading out over TRIM_FADE_MM further in:
#: the device is never cut inside the foot, whatever the height of its sole there.
TRIM_BAND_MM = 15.0
#: Where the foot's side stays lower than a wall, the wall's inner face rises from it at this slope (mm
#: per mm, about 72 degrees) to the rim.
WALL_FILLET_SLOPE = 3.0
WALL_FILLET_REACH_MM = 8.0
#: Trimlines are smoothed along the foot over this length (Gaussian sigma, mm), and the contact
#: region's ends rounded with this radius (mm).
TRIMLINE_SMOOTH_MM = 6.0
END_ROUND_MM = 4.0
TRIM_FADE_MM = 10.0


@dataclass(frozen=True)
class Outline:
    """The device outline and the contact region inside its walls (foot frame, mm)."""

    polygon: Polygon  # the device's outline (walls included)
    contact: Polygon  # where the device follows the foot (inside the rims)
    wall_mm: float


def forefoot_band_back(length: str) -> float:
    """How far behind the met-head line the forefoot's plane is read (mm): on a shell ending behind
    the met heads, behind its skived end."""
    if length in ("metatarsal", "three_quarter"):
        return SHORT_SHELL_PAD_CLEAR_MM + 2.0
    return 0.0


def thicknesses(rx, geometry) -> tuple[float, float, float]:
    """(rearfoot and midfoot, forefoot, toe extension) thickness of a device, mm, cover included.

    A shell ends just behind the met heads in a flexible extension of the forefoot extension's
    thickness (Root-style: a stiff shell under the forefoot would block toe-off); a full-contact
    device keeps its thickness under the met heads (a template may thin its forefoot, e.g. dress).
    """
    cover = rx.top_cover_mm
    t0 = rx.shell_thickness_mm + cover
    ff = (
        geometry.forefoot_thickness_mm
        if geometry.forefoot_thickness_mm is not None
        else rx.shell_thickness_mm
    )
    ext = min(geometry.forefoot_extension_mm, ff)
    if rx.construction == "shell":
        ff = ext
    return t0, ff + cover, ext + cover


def trim_heights(
    X: np.ndarray,
    Y: np.ndarray,
    regions: Regions,
    *,
    heel_cup_mm: float,
    heel_lift: np.ndarray,
    edge_distance: np.ndarray,
    medial_edge_mm: np.ndarray,
    lateral_edge_mm: np.ndarray,
) -> np.ndarray:
    """The edge (trimline) heights above the footbed (mm): the heel cup over the rearfoot, the
    medial and lateral edges beyond it (each a height per frontal slice), blended smoothly along
    and across; ``edge_distance`` (mm in from the foot's outline) fades them out toward the middle."""
    w_rear = regions.rearfoot_weight(X)
    half = 0.5 * (regions.heel_half_width + regions.ball_half_width)
    medial = smoothstep((regions.medial_offset(X, Y) + 0.2 * half) / (0.4 * half))
    sides = medial * medial_edge_mm + (1.0 - medial) * lateral_edge_mm
    h = w_rear * heel_cup_mm + (1.0 - w_rear) * sides
    interior = 100.0 * smoothstep((edge_distance - TRIM_BAND_MM) / TRIM_FADE_MM)
    return h + heel_lift + interior


def line_level(
    grid: Grid, z: np.ndarray, inside: np.ndarray, side_sign: float, fraction: float, smooth_mm: float = 6.0
) -> np.ndarray:
    """``z`` along the line ``fraction`` of the local width in from the edge on the ``side_sign``
    side (+1: +y), per frontal slice, smoothed along x and broadcast over the grid (mm)."""
    x, _ = grid.axes()
    xs, _, zs = medial_line_profile(z, grid, inside, side_sign, (x[0], x[-1]), fraction)
    ok = np.isfinite(zs)
    if not ok.any():
        return np.zeros_like(z)
    level = np.interp(x, xs[ok], zs[ok])
    level = ndimage.gaussian_filter1d(level, smooth_mm / grid.spacing, mode="nearest")
    return np.broadcast_to(level[:, None], z.shape).copy()


def _slice_runs(inside: np.ndarray, centre_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per grid column, the first and last cell index of the run of ``inside`` that holds the
    centre line's cell ``centre_j`` (-1 where the centre cell is not inside)."""
    nx, ny = inside.shape
    j = np.clip(centre_j, 0, ny - 1)
    rows = np.arange(nx)
    ok = inside[rows, j]
    idx = np.arange(ny)[None, :]
    below = ~inside & (idx < j[:, None])
    above = ~inside & (idx > j[:, None])
    lo = np.where(below.any(axis=1), ny - 1 - np.argmax(below[:, ::-1], axis=1) + 1, 0)
    hi = np.where(above.any(axis=1), np.argmax(above, axis=1) - 1, ny - 1)
    return np.where(ok, lo, -1), np.where(ok, hi, -1)


def device_outline(
    grid: Grid,
    rise: np.ndarray,
    candidate: Polygon,
    wall_zone: Polygon,
    centre_y: np.ndarray,
    wall_mm: float,
    in_candidate: np.ndarray | None = None,
) -> Outline:
    """Contact region and outline (foot frame, mm).

    The contact region is, slice by slice across the foot, the run around the centre line
    (``centre_y``, one y per grid column) where ``rise`` (the top's height minus the trimline's)
    is at most 0 inside ``candidate`` (the foot's trimmed footprint); its medial and lateral
    edges are smoothed along the foot over TRIMLINE_SMOOTH_MM, so a trimline is a fair curve,
    never a notch. Inside ``wall_zone`` (heel and midfoot) a wall of ``wall_mm`` stands beyond it.
    ``in_candidate``: the cells inside ``candidate``, when already known.
    """
    x, y = grid.axes()
    cand = cells_inside(candidate, grid) if in_candidate is None else in_candidate
    ok = cand & (rise <= 0.0)
    cj = np.clip(np.rint((centre_y - y[0]) / grid.spacing).astype(int), 0, len(y) - 1)
    # where the centre line leaves the footprint (the toes), the middle of the footprint's slice
    off = ~cand[np.arange(len(x)), cj] & cand.any(axis=1)
    if off.any():
        first = np.argmax(cand, axis=1)
        last = cand.shape[1] - 1 - np.argmax(cand[:, ::-1], axis=1)
        cj = np.where(off, (first + last) // 2, cj)
    lo, hi = _slice_runs(ok, cj)
    clo, chi = _slice_runs(cand, cj)
    cols = np.flatnonzero(lo >= 0)
    if cols.size < 10:
        return Outline(Polygon(), Polygon(), wall_mm)
    cols = np.arange(cols[0], cols[-1] + 1)  # one contiguous stretch from heel to toes
    # the trim's inset from the footprint's edge, per slice, smoothed along the foot
    inset_lo = (lo[cols] - clo[cols]).astype(float)
    inset_hi = (chi[cols] - hi[cols]).astype(float)
    gap = lo[cols] < 0
    if gap.any():  # a slice whose centre is not in contact: bridge from its neighbours
        good = ~gap
        inset_lo = np.interp(cols, cols[good], inset_lo[good])
        inset_hi = np.interp(cols, cols[good], inset_hi[good])
    s = TRIMLINE_SMOOTH_MM / grid.spacing
    inset_lo = ndimage.gaussian_filter1d(inset_lo, s, mode="nearest")
    inset_hi = ndimage.gaussian_filter1d(inset_hi, s, mode="nearest")
    half = 0.5 * grid.spacing
    ylo = y[np.clip(clo[cols], 0, None)] - half + inset_lo * grid.spacing
    yhi = y[np.clip(chi[cols], 0, None)] + half - inset_hi * grid.spacing
    xs = x[cols]
    x0, x1 = xs[0] - 0.5 * grid.spacing, xs[-1] + 0.5 * grid.spacing
    ring_pts = [
        (x0, ylo[0]),
        *zip(xs, ylo, strict=True),
        (x1, ylo[-1]),
        (x1, yhi[-1]),
        *zip(xs[::-1], yhi[::-1], strict=True),
        (x0, yhi[0]),
    ]
    main = largest_polygon(shapely.make_valid(Polygon(ring_pts)).intersection(candidate))
    r = END_ROUND_MM
    main = largest_polygon(main.buffer(-r, quad_segs=8).buffer(r, quad_segs=8))
    if main.is_empty:
        return Outline(Polygon(), Polygon(), wall_mm)
    ring = (
        main.buffer(wall_mm, quad_segs=8)
        .intersection(wall_zone)
        .intersection(candidate.buffer(wall_mm, quad_segs=8))
    )
    outline = largest_polygon(shapely.union_all([main, ring]))
    outline = largest_polygon(outline.buffer(1.5, quad_segs=8).buffer(-1.5, quad_segs=8))
    outline = largest_polygon(outline.buffer(-1.0, quad_segs=8).buffer(1.0, quad_segs=8))
    return Outline(Polygon(outline.exterior).simplify(0.1), main, wall_mm)


def wall_tops(
    grid: Grid, outline: Outline, trim: np.ndarray, footbed: np.ndarray, *surfaces: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Each of ``surfaces`` with the device's walls (mm): the surface inside the contact region,
    rising into the wall as a fillet of slope WALL_FILLET_SLOPE wherever the foot's side is lower than
    the wall (so the inner face follows the trimline as a fair curve, not the grid), then a half-round
    rim of radius half the wall from the trimline height, outside the contact region by the distance
    ``d``. Continuous across the contact region's edge; where there is no wall (the forefoot) the
    surface stands. The walls are laid out once for all the surfaces (a device's top with and
    without its accommodations)."""
    X, Y = grid.mesh()
    ring_poly = outline.polygon.buffer(0.75).difference(outline.contact)
    outs = [s.copy() for s in surfaces]
    if ring_poly.is_empty:
        return tuple(outs)
    r = 0.5 * outline.wall_mm
    start = footbed + trim - r  # the rim starts here, at the contact region's edge
    ring = cells_inside(ring_poly, grid)
    if not ring.any():
        return tuple(outs)
    d = distance_to(outline.contact.exterior, X[ring], Y[ring])
    dd = np.clip(d, 0.0, 2 * r)
    rim = start[ring] + np.sqrt(np.maximum(r * r - (dd - r) ** 2, 0.0))
    for out in outs:
        out[ring] = rim
    # the fillet rises to the rim's start height at the nearest wall cell (the trimline there)
    idx = ndimage.distance_transform_edt(~ring, return_distances=False, return_indices=True)
    start_near = start[tuple(idx)]
    near = cells_inside(outline.contact, grid) & cells_inside(ring_poly.buffer(WALL_FILLET_REACH_MM), grid)
    if near.any():
        d_in = distance_to(ring_poly, X[near], Y[near])
        fillet = start_near[near] - WALL_FILLET_SLOPE * d_in
        for out, surface in zip(outs, surfaces, strict=True):
            out[near] = np.maximum(surface[near], fillet)
    return tuple(outs)


def edge_caps(
    grid: Grid,
    outline: Polygon,
    end_line: np.ndarray | None,
    toe: np.ndarray,
    forefoot: np.ndarray,
    thickness: np.ndarray,
    skived: bool,
    inside: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(end cap, side cap): the most a device may be thick near its distal end, and near its
    forefoot's side edges (mm; inf elsewhere).

    ``end_line``: the cut line of a trimmed length, which ``outline`` ends on (None: full length,
    whose end is the outline around the toes, weighted by ``toe``). ``forefoot``: 0..1 weight of the
    forefoot, whose side edges taper at SIDE_EDGE_SLOPE. ``thickness``: the device's nominal thickness there.
    ``inside``: the cells inside ``outline``, when already known.
    """
    X, Y = grid.mesh()
    # exact distances only near the outline, where a cap can act (a coarse transform picks the cells);
    # outside the outline only its first cells: the device's fields are carried out from its edge
    inside = cells_inside(outline, grid) if inside is None else inside
    near = ndimage.distance_transform_edt(inside) * grid.spacing <= CAP_REACH_MM
    near &= ndimage.distance_transform_edt(~inside) <= OUTSIDE_CELLS
    d_edge = np.full(grid.shape, np.inf)
    d_edge[near] = distance_to(outline.exterior, X[near], Y[near])
    if end_line is not None:
        d_end = np.full(grid.shape, np.inf)
        d_end[near] = distance_to(shapely.LineString(end_line), X[near], Y[near])
    else:
        d_end = np.where(toe > 0.5, d_edge, np.inf)
    taper = SKIVE_LENGTH_MM if skived else 2.0 * FEATHER_LENGTH_MM
    rise = np.maximum(thickness - FEATHER_MAX_MM, 0.0) / (taper - FEATHER_LENGTH_MM)
    # the feather is laid out one grid cell longer than checked, so no cell between nodes exceeds it
    d = np.where(np.isfinite(d_end), d_end, 0.0) - 1.0
    d = np.maximum(d, 0.0)
    end_cap = np.where(
        d <= FEATHER_LENGTH_MM,
        EDGE_THICKNESS_MM + (FEATHER_MAX_MM - EDGE_THICKNESS_MM) * d / FEATHER_LENGTH_MM,
        FEATHER_MAX_MM + rise * (d - FEATHER_LENGTH_MM),
    )
    end_cap = np.where(np.isfinite(d_end), end_cap, np.inf)
    side_cap = EDGE_THICKNESS_MM + (SIDE_EDGE_SLOPE * d_edge + SIDE_EDGE_CURVE * d_edge**2) / np.maximum(
        forefoot, 1e-3
    )
    return end_cap, side_cap


def shell_underside(top: np.ndarray, inside: np.ndarray, grid: Grid, thickness_mm: float) -> np.ndarray:
    """The underside of a shell of normal thickness ``thickness_mm`` under ``top``: the lower
    envelope of balls of that radius centred on the top surface (grey erosion with a hemisphere).
    Cells outside ``inside`` do not count."""
    r = thickness_mm / grid.spacing
    k = int(np.ceil(r))
    oy, ox = np.mgrid[-k : k + 1, -k : k + 1]
    disc = ox * ox + oy * oy <= r * r
    cap = np.sqrt(np.maximum(r * r - ox * ox - oy * oy, 0.0)) * grid.spacing
    z = np.where(inside, top, np.max(top[inside]) + 1e3 if inside.any() else 0.0)
    return ndimage.grey_erosion(z, footprint=disc, structure=np.where(disc, cap, 0.0), mode="nearest")


def rearfoot_post(
    grid: Grid,
    regions: Regions,
    footbed: np.ndarray,
    inside: np.ndarray,
    under: np.ndarray,
    seat_deg: float,
) -> np.ndarray:
    """The extrinsic rearfoot post's underside (mm; inf where there is none): flat on the footbed
    under the heel seat — where the shell's underside lies within POST_REACH_MM (plus the posted
    wedge) of its level at the heel centre, so the cup's outside stays free — ending
    POST_END_BEFORE_ARCH_MM behind the arch apex with a 45° bevel. Where its sides rise above
    ``under`` (where it cannot be the underside) its height is only bounded from below."""
    X, _ = grid.mesh()
    x_end = max(regions.arch_apex[0] - POST_END_BEFORE_ARCH_MM, regions.heel_seat_end_x + 5.0)
    rel = under - footbed
    seat = regions.heel_seat(grid) & inside
    level = float(np.median(rel[seat])) if seat.any() else 0.0
    reach = POST_REACH_MM + abs(np.tan(np.radians(seat_deg))) * regions.heel_half_width
    area = inside & (X <= x_end + 40.0) & (rel <= level + reach)
    k = max(1, round(2.0 / grid.spacing))
    area = ndimage.binary_opening(ndimage.binary_fill_holes(area), iterations=k)
    lab, n = ndimage.label(area)
    if n > 1:  # the post is one block under the heel
        hi = np.clip(
            np.rint(np.asarray(regions.heel_centre) - grid.origin) / grid.spacing, 0, np.array(grid.shape) - 1
        )
        keep = lab[int(hi[0]), int(hi[1])]
        area = lab == keep if keep else area
    # the post's outline as a fair curve; its sides stand steeply (POST_SIDE_SLOPE) from it, so the
    # underside is a smooth surface with no staircase of grid cells along the post's edge
    from orthogen.foot.plantar import mask_outline

    outline = largest_polygon(mask_outline(area, grid).buffer(2.0, quad_segs=8).buffer(-2.0, quad_segs=8))
    if outline.is_empty:
        return np.full(grid.shape, np.inf)
    Y = grid.mesh()[1]
    # 0 inside the post's outline; exact as far out as the post can lie under the shell's underside
    # (beyond, a lower bound: the post stands higher than ``under`` there and is not the underside)
    rise = under - footbed
    limit = float(np.max(rise[np.isfinite(rise)], initial=0.0)) / POST_SIDE_SLOPE + 1.0
    outside = distance_to(outline, X, Y, limit)
    return footbed + np.maximum(X - x_end, 0.0) + POST_SIDE_SLOPE * outside


def extend_outside(inside: np.ndarray, *fields: np.ndarray) -> tuple[np.ndarray, ...]:
    """``fields`` with every cell outside ``inside`` set to its nearest inside cell's value (so the
    grid solid's boundary cells, cut by the outline, carry the edge's own heights); the nearest
    cells are found once for all the fields."""
    if inside.all() or not inside.any():
        return fields
    idx = tuple(ndimage.distance_transform_edt(~inside, return_distances=False, return_indices=True))
    return tuple(f[idx] for f in fields)
