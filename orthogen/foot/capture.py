"""Capture checks: is the scan one whole, well-resolved foot, and how sure is its side?

A damaged capture measures wrong without looking wrong: a heel cut off at the back makes the foot
short, two overlapping copies of the foot make it long or wide, float32 coordinates far from the
origin round the surface to millimetre steps, and a foot-sized triangle has a length and a width
like any foot. Each check here is a pure function of arrays in the standard frame (mm, z up, floor
z = 0, heel at x = 0) that raises :class:`~orthogen.errors.ScanError` saying what is wrong with
the capture and what to do; :func:`calibrated_side` turns the side cues into a confidence that
needs more than one cue to be high.

Thresholds were set on the real scans in ``../shared/foot_scans`` and on synthetic feet (see the
comment at each constant); the damaged captures of ``tests/test_capture.py`` are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from orthogen.errors import ScanError
from orthogen.foot.classify import boundary_edges
from orthogen.foot.heightmap import Grid, sample, surface_hits
from orthogen.foot.measure import SideCall
from orthogen.foot.plantar import PlantarSurface
from orthogen.scan.mesh import face_areas

#: Coordinates must resolve at least this finely (mm): float32 numbers far from the origin, or
#: text files written with too few decimals, round the surface to coarser steps (at 1e8 mm a float32
#: coordinate moves in 8 mm steps). Real scans: at most 0.0001 mm (as stored), sampling grids aside.
MAX_RESOLUTION_MM = 0.1
#: An axis needs this many distinct values before its smallest step says anything about rounding.
MIN_DISTINCT_VALUES = 20

#: A second separate part of the mesh with at least this share of the largest part's area is a
#: second body (real scans: one part); from COPY_BODY_SHARE on it is a copy of the foot.
SECOND_BODY_SHARE = 0.25
COPY_BODY_SHARE = 0.6
#: A foot's footprint fills 0.55-0.80 of its bounding box; a plate or a box fills it all.
MAX_BOX_FILL = 0.9

#: A footprint's length over its widest width: feet are 2.2-3.3 (children ~2.4, narrow adults ~3.2).
FOOT_ASPECT_LIMITS = (1.5, 4.5)  # 1.5: toeless impressions of wide feet (0.8 L over 0.42 L = 1.9)
#: Widest heel (rear 25 %) over widest ball (55-85 % of L): real scans 0.56-0.82, synthetic feet
#: 0.50-0.85; a box or a cylinder is about 1, a triangle 0.33.
HEEL_TO_BALL_LIMITS = (0.45, 0.95)
#: The heel of every foot reaches the floor it stands on (measured: real and synthetic scans within
#: 0.3 mm in the rear 3-15 % of the length); an egg or a rounded blob does not.
HEEL_FLOOR_MAX_MM = 3.0
#: How blunt an end of the footprint is: its width 4 % of the length in from the end over its widest
#: width in the last 25 %. Real and synthetic heels 0.51-0.68, toes 0.36-0.57; a heel cut off
#: 0.86-0.94, a foot cut through the midfoot 0.79 at the cut; a triangle's point 0.31.
END_PROBE_FRACTION = 0.04
END_ZONE_WIDTH_FRACTION = 0.25
#: A heel this blunt is cut flat at the back (capped or open).
FLAT_HEEL_RATIO = 0.78
#: A heel less blunt than this ends in a point.
POINTED_HEEL_RATIO = 0.40

#: A second surface within this height above the sole (mm) is a doubled capture, not the dorsum
#: (the foot is at least ~15 mm thick everywhere between heel and toes).
DOUBLED_BAND_MM = 6.0
#: Share of the sole (5-70 % of L, 5 mm inside the outline) crossed twice within DOUBLED_BAND_MM
#: above which the capture is doubled: real and synthetic scans 0-0.02, doubled captures 0.42-0.93.
DOUBLED_SHARE = 0.15
#: Open mesh edges this low (mm) can be a cut through the foot; the crop rim of a plantar shell
#: (35-40 mm) and the flange of an impression lie higher.
LOW_EDGE_MM = 20.0
#: The footprint's outline runs along an open edge where it passes within this distance (mm).
EDGE_NEAR_MM = 3.0
#: A cut bounds the footprint's end by an open edge near the floor over at least this share of its
#: width (within the last END_ZONE_FRACTION of the length): cut captures 0.91-1.0. Holes in the sole
#: next to the heel or the toes reach 1.0 too, but their rim is curved: a cut's outline points lie
#: within CUT_LINE_RMS_MM (RMS) of one straight line (cuts 0.46-1.02 mm, real and synthetic; hole
#: rims 2.3-10 mm).
OPEN_END_SHARE = 0.85
CUT_LINE_RMS_MM = 1.5
END_ZONE_FRACTION = 0.10

#: Side cues (mm, + = right) and the size at which each counts as one full vote; the same scales as
#: :func:`orthogen.foot.measure.detect_side` sums. A confident call needs two independent cues.
SIDE_CUE_SCALE_MM = {"arch_mm": 2.0, "contact_mm": 6.0, "toe_mm": 8.0}
SIDE_VOTES_FOR_FULL_CONFIDENCE = 2.0

RESCAN = "rescan the foot"


@dataclass(frozen=True)
class CaptureChecks:
    """What the capture checks measured (all passed), for the report."""

    resolution_mm: float
    heel_to_ball: float
    heel_bluntness: float
    front_bluntness: float
    open_heel_share: float
    open_front_share: float
    open_heel_line_rms_mm: float
    open_front_line_rms_mm: float
    doubled_share: float

    def as_dict(self) -> dict:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


# ----------------------------------------------------------------------------------- resolution
def coordinate_resolution(vertices: np.ndarray) -> float:
    """The coarsest step in which the scan's coordinates can move, in file units.

    Two bounds, the larger wins: float32 storage (every coordinate exactly a float32) resolves
    ``spacing(float32(max |c|))`` on each axis; and when all three axes are rounded (text written
    with too few decimals), the smallest step between distinct values on the finest axis.
    A scanner's sampling grid (2 mm rows, 0.6 mm columns) rounds at most two axes, so it is not
    mistaken for coarse coordinates.
    """
    v = np.asarray(vertices, float)
    if v.size == 0:
        return 0.0
    peak = np.abs(v).max(axis=0)
    stored32 = bool(np.all(v == v.astype(np.float32)))
    ulp = np.spacing(peak.astype(np.float32)).astype(float) if stored32 else np.spacing(peak)
    steps = []
    for k in range(3):
        u = np.unique(v[:, k])
        if len(u) >= MIN_DISTINCT_VALUES:
            steps.append(float(np.diff(u).min()))
    rounded = min(steps) if len(steps) == 3 else 0.0
    return float(max(ulp.max(), rounded))


def require_resolution(vertices: np.ndarray, scale_to_mm: float) -> float:
    """Refuse coordinates coarser than MAX_RESOLUTION_MM; returns the resolution in mm."""
    res = coordinate_resolution(vertices) * scale_to_mm
    if res > MAX_RESOLUTION_MM:
        far = float(np.abs(vertices).max()) * scale_to_mm
        raise ScanError(
            f"coordinates resolve only {res:.3g} mm steps (numbers up to {far:.3g} mm from the origin, "
            f"a foot needs {MAX_RESOLUTION_MM:g} mm or finer): the surface is rounded away; export the "
            "scan again near the origin or with more precision (double, or more decimals)"
        )
    return res


# ----------------------------------------------------------------------------------- one body
def body_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Surface area of every connected part of the mesh (parts sharing no vertex), largest first."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(vertices)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(e), np.int8), (e[:, 0], e[:, 1])), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    area = face_areas(np.asarray(vertices, float), faces)
    return np.sort(np.bincount(label[faces[:, 0]], weights=area, minlength=count))[::-1]


def require_one_body(vertices: np.ndarray, faces: np.ndarray) -> None:
    """Refuse a scan holding two large separate surfaces (two copies of a foot, a foot and a plate).

    Real scans are one connected surface (every scan in ``../shared/foot_scans``); loose crumbs
    smaller than SECOND_BODY_SHARE of the largest part do not count.
    """
    areas = body_areas(vertices, faces)
    if len(areas) < 2 or areas[1] < SECOND_BODY_SHARE * areas[0]:
        return
    share = areas[1] / areas[0]
    n = int((areas >= SECOND_BODY_SHARE * areas[0]).sum())
    if share >= COPY_BODY_SHARE:
        raise ScanError(
            f"the scan holds {n} separate surfaces of a foot's size (the second has {share:.0%} of the "
            "first's area): two feet, or one foot captured twice (a doubled capture or a bad merge); give "
            "one foot per file, captured once"
        )
    raise ScanError(
        f"the scan holds {n} separate large surfaces (the second has {share:.0%} of the first's area): "
        "something was captured with the foot (a scanner plate, a support, part of the leg); crop the "
        "scan to the foot"
    )


# ----------------------------------------------------------------------------------- footprint shape
def _widths(plantar: PlantarSurface) -> tuple[np.ndarray, np.ndarray]:
    """Grid x (mm) and footprint width (mm) of every grid column."""
    x, _ = plantar.grid.axes()
    return x, plantar.footprint.sum(axis=1) * plantar.grid.spacing


def _width_at(plantar: PlantarSurface, x_mm: float) -> float:
    x, w = _widths(plantar)
    i = int(np.clip(round((x_mm - x[0]) / plantar.grid.spacing), 0, len(x) - 1))
    return float(w[i])


def require_foot_shape(plantar: PlantarSurface) -> float:
    """Refuse a footprint that is no foot's; returns the heel/ball width ratio.

    A foot's footprint is no rectangle, has a plausible length-to-width ratio, a heel that reaches
    the floor, and a heel narrower than the ball but not ending in a point.
    """
    x, widths = _widths(plantar)
    cols = widths > 0
    length = plantar.length_mm
    width = float(widths.max()) if cols.any() else 0.0
    fp = plantar.footprint
    rows, lines = fp.any(axis=1), fp.any(axis=0)
    box = float(rows.sum() * lines.sum())
    fill = float(fp.sum()) / box if box else 0.0
    if fill > MAX_BOX_FILL:
        a, b = rows.sum() * plantar.grid.spacing, lines.sum() * plantar.grid.spacing
        raise ScanError(
            f"the footprint is a {a:.0f} x {b:.0f} mm rectangle (it fills {fill:.0%} of its bounding box, a "
            "foot's 55-80 %): this does not look like a foot scan (if the foot stands on a captured scanner "
            "plate or board, crop it away)"
        )
    aspect = length / width if width > 0 else float("inf")
    lo, hi = FOOT_ASPECT_LIMITS
    if not lo <= aspect <= hi:
        raise ScanError(
            f"footprint is {length:.0f} x {width:.0f} mm (length/width {aspect:.2f}); a foot's is "
            f"{lo}-{hi}: this does not look like a foot scan"
        )
    x0 = float(x[cols].min())
    X, _ = plantar.grid.mesh()
    heel = plantar.footprint & (X >= x0 + 0.03 * length) & (X <= x0 + 0.15 * length)
    heel_low = float(np.nanmin(np.where(heel, plantar.height, np.nan))) if heel.any() else np.inf
    if heel_low > HEEL_FLOOR_MAX_MM:
        raise ScanError(
            f"the heel does not reach the floor (its lowest point is {heel_low:.0f} mm up, a foot's "
            f"within {HEEL_FLOOR_MAX_MM:g} mm): this does not look like a foot scan"
        )
    rear = float(widths[cols & (x <= x0 + 0.25 * length)].max())
    front = float(widths[cols & (x >= x0 + 0.55 * length) & (x <= x0 + 0.85 * length)].max(initial=0.0))
    ratio = rear / front if front > 0 else np.inf
    if ratio > HEEL_TO_BALL_LIMITS[1]:
        raise ScanError(
            f"footprint is as wide at the heel ({rear:.0f} mm) as at the ball ({front:.0f} mm); "
            "a foot narrows to the heel: this does not look like a foot scan"
        )
    if ratio < HEEL_TO_BALL_LIMITS[0]:
        raise ScanError(
            f"footprint is only {rear:.0f} mm wide at the heel against {front:.0f} mm at the ball "
            f"(a foot's heel is {HEEL_TO_BALL_LIMITS[0]:g}-{HEEL_TO_BALL_LIMITS[1]:g} of its ball width): "
            "this does not look like a foot scan"
        )
    heel_end, _ = end_bluntness(plantar)
    if heel_end < POINTED_HEEL_RATIO:
        raise ScanError(
            f"the footprint ends in a point at the heel ({heel_end:.0%} of the heel's width "
            f"{END_PROBE_FRACTION * length:.0f} mm from its back; a heel is rounded): "
            "this does not look like a foot scan"
        )
    return ratio


def end_bluntness(plantar: PlantarSurface) -> tuple[float, float]:
    """(heel, front) bluntness: the footprint's width END_PROBE_FRACTION of the length in from each end
    over its widest width in the last END_ZONE_WIDTH_FRACTION (1 = cut square, ~0 = a point)."""
    x, widths = _widths(plantar)
    x0, x1 = plantar.extent_x
    probe, zone = END_PROBE_FRACTION * plantar.length_mm, END_ZONE_WIDTH_FRACTION * plantar.length_mm
    rear = float(widths[(x >= x0 - 1.0) & (x <= x0 + zone)].max(initial=0.0))
    front = float(widths[(x >= x1 - zone) & (x <= x1 + 1.0)].max(initial=0.0))
    heel = _width_at(plantar, x0 + probe) / rear if rear > 0 else 0.0
    toes = _width_at(plantar, x1 - probe) / front if front > 0 else 0.0
    return heel, toes


# ----------------------------------------------------------------------------------- doubled surfaces
def doubled_share(vertices: np.ndarray, faces: np.ndarray, plantar: PlantarSurface) -> float:
    """Share of the sole crossed by two surfaces within DOUBLED_BAND_MM of the lowest one.

    Vertical lines through a 2 mm grid (offset so that no line runs along a scanner's own grid)
    over the sole from 5 to 70 % of the length, 5 mm inside the outline (away from the side
    walls and the toes); a single capture is crossed once near the sole, a doubled one twice.
    """
    g0 = plantar.grid
    step = 2.0 * g0.spacing
    shape = (max(1, (g0.shape[0] + 1) // 2), max(1, (g0.shape[1] + 1) // 2))
    grid = Grid((g0.origin[0] + 0.3137 * g0.spacing, g0.origin[1] + 0.2718 * g0.spacing), step, shape)
    X, Y = grid.mesh()
    xy = np.stack([X, Y], axis=-1)
    inner_mask = ndimage.binary_erosion(plantar.footprint, iterations=max(1, round(5.0 / g0.spacing)))
    inner = sample(inner_mask.astype(float), g0, xy) > 0.99
    h = sample(np.nan_to_num(plantar.height, nan=np.inf), g0, xy)
    length, x0 = plantar.length_mm, plantar.extent_x[0]
    inner &= (X >= x0 + 0.05 * length) & (X <= x0 + 0.70 * length) & np.isfinite(h)
    if not inner.any():
        return 0.0
    flat, z = surface_hits(vertices, faces, grid, edge_tolerance=-1e-9)
    hf = h.ravel()
    near = inner.ravel()[flat] & (z <= hf[flat] + DOUBLED_BAND_MM)
    count = np.bincount(flat[near], minlength=h.size)
    return float((count.reshape(h.shape)[inner] >= 2).mean())


def require_single_surface(vertices: np.ndarray, faces: np.ndarray, plantar: PlantarSurface) -> float:
    """Refuse a sole captured twice (two overlapping copies, a bad merge); returns the doubled share."""
    share = doubled_share(vertices, faces, plantar)
    if share > DOUBLED_SHARE:
        raise ScanError(
            f"the sole is captured twice: {share:.0%} of it is covered by two overlapping surfaces less "
            f"than {DOUBLED_BAND_MM:g} mm apart (a doubled capture, or two scans merged): the foot would "
            "be measured too long or too wide; export one single capture of the foot"
        )
    return share


# ----------------------------------------------------------------------------------- open ends
@dataclass(frozen=True)
class OpenEnd:
    """How an end of the footprint is bounded by the mesh's open edge (a cut leaves one there).

    ``share``: spread across y of the outline points lying along an open edge near the floor, over
    the footprint's widest width at that end (0: none). ``line_rms_mm``: how far those points lie off
    one straight line (RMS, mm; NaN with fewer than 3): a cut is straight, a hole's rim is curved.
    """

    share: float
    line_rms_mm: float

    @property
    def is_cut(self) -> bool:
        return self.share >= OPEN_END_SHARE and self.line_rms_mm <= CUT_LINE_RMS_MM


def open_ends(
    vertices: np.ndarray, faces: np.ndarray, plantar: PlantarSurface, rim: np.ndarray | None = None
) -> tuple[OpenEnd, OpenEnd]:
    """The (rear, front) :class:`OpenEnd` of the footprint (``rim``: the faces' open edges, if known).

    Outline points (every 1 mm) within EDGE_NEAR_MM of an open mesh edge below LOW_EDGE_MM, in the
    rear (front) END_ZONE_FRACTION of the length, are the ones along an open edge. A plantar shell's
    crop rim and an impression's flange lie higher, so only a cut or a hole near the floor counts.
    """
    none = OpenEnd(0.0, float("nan"))
    edges = boundary_edges(faces) if rim is None else rim
    if not len(edges):
        return none, none
    from scipy.spatial import cKDTree

    mid = np.asarray(vertices, float)[edges].mean(axis=1)
    low = mid[mid[:, 2] <= LOW_EDGE_MM, :2]
    if len(low) < 2:
        return none, none
    pts = np.asarray(plantar.outline.exterior.segmentize(1.0).coords)[:, :2]
    near = cKDTree(low).query(pts, distance_upper_bound=EDGE_NEAR_MM)[0] <= EDGE_NEAR_MM
    x, widths = _widths(plantar)
    x0, x1 = plantar.extent_x
    zone = END_ZONE_FRACTION * plantar.length_mm
    out = []
    for lo, hi in ((x0 - 3.0, x0 + zone), (x1 - zone, x1 + 3.0)):
        sel = pts[near & (pts[:, 0] >= lo) & (pts[:, 0] <= hi)]
        width = float(widths[(x >= lo) & (x <= hi)].max(initial=0.0))
        if len(sel) < 3 or width <= 0:
            out.append(none)
            continue
        spread = np.linalg.svd(sel - sel.mean(axis=0), compute_uv=False)  # across and along the best line
        out.append(OpenEnd(float(np.ptp(sel[:, 1])) / width, float(spread[-1] / np.sqrt(len(sel)))))
    return out[0], out[1]


#: The ends compared for height: this fraction of the footprint's length at each end. A whole foot is
#: tallest at the heel and ankle (real and synthetic full-foot scans: 99-130 mm at the heel end against
#: 26-34 mm at the toes); a foot cut through the midfoot and capped is tallest at the cut (72-110 mm
#: against 22 mm at the toes, which the alignment takes for the heel).
END_HEIGHT_ZONE_FRACTION = 0.2


def end_heights(vertices: np.ndarray, plantar: PlantarSurface) -> tuple[float, float]:
    """The highest point (mm above the floor) within END_HEIGHT_ZONE_FRACTION of the footprint's length
    of its heel end and of its front end (standard frame)."""
    v = np.asarray(vertices, float)
    x0, x1 = plantar.extent_x
    zone = END_HEIGHT_ZONE_FRACTION * (x1 - x0)
    rear, front = v[v[:, 0] <= x0 + zone, 2], v[v[:, 0] >= x1 - zone, 2]
    return float(rear.max(initial=0.0)), float(front.max(initial=0.0))


def require_whole_foot(
    vertices: np.ndarray, faces: np.ndarray, plantar: PlantarSurface, kind: str, rim: np.ndarray | None = None
) -> tuple[float, float, OpenEnd, OpenEnd]:
    """Refuse a capture whose heel is cut off (open or capped flat) or that is cut open across its front.

    An open cut leaves the footprint ending along a straight open edge of the mesh; a capped cut
    leaves the heel blunt. Impressions (foam boxes) often end open at the toes by design, so their
    front is not checked. Returns (heel bluntness, front bluntness, rear open end, front open end).
    """
    heel, front = end_bluntness(plantar)
    rear_end, front_end = open_ends(vertices, faces, plantar, rim)
    if rear_end.is_cut:
        raise ScanError(
            f"the capture is open across the back of the heel (the footprint ends along a straight open edge "
            f"near the floor over {min(rear_end.share, 1.0):.0%} of its width): the back of the heel was not "
            f"captured or was cut off, so the foot would be measured short; {RESCAN} with the whole heel "
            "in view"
        )
    if heel >= FLAT_HEEL_RATIO:
        raise ScanError(
            f"the heel is cut flat at the back ({heel:.0%} of the heel's width already "
            f"{END_PROBE_FRACTION * plantar.length_mm:.0f} mm from its back edge; a rounded heel is at most "
            f"{FLAT_HEEL_RATIO:.0%}): the back of the heel is missing from the capture, so the foot would be "
            f"measured short; {RESCAN} with the whole heel in view"
        )
    if kind != "impression" and front_end.is_cut:
        raise ScanError(
            f"the capture is cut open straight across its front end (the footprint ends along a straight "
            f"open edge near the floor over {min(front_end.share, 1.0):.0%} of its width): part of the foot "
            f"is missing (toes, or the heel if the foot was cut through), so length and side cannot be "
            f"trusted; {RESCAN} whole"
        )
    if kind == "full_foot":
        rear_top, front_top = end_heights(vertices, plantar)
        if rear_top < front_top:
            raise ScanError(
                f"the scan is taller at its front end ({front_top:.0f} mm) than at its heel end "
                f"({rear_top:.0f} mm), where a whole foot has its heel and ankle: the heel is missing (the "
                f"foot was cut through, the cut closed) or the toes were taken for the heel; {RESCAN} whole"
            )
    return heel, front, rear_end, front_end


# ----------------------------------------------------------------------------------- side confidence
def calibrated_side(call: SideCall) -> SideCall:
    """The side call with a confidence that needs agreeing cues.

    Each cue counts as at most one vote (its size over its scale in SIDE_CUE_SCALE_MM, capped at 1)
    for the side it points to. The confidence is the raw one scaled by the share of
    SIDE_VOTES_FOR_FULL_CONFIDENCE votes that agree with the call, less the votes against it: a
    single cue (a triangle's pointed end) or weak cues (a foot cut in half) stay below
    :data:`~orthogen.foot.measure.CONFIDENT_SIDE`; real feet keep 0.99-1.0.
    """
    sign = 1.0 if call.side == "right" else -1.0
    votes = [
        np.clip(sign * float(call.cues[k]) / s, -1.0, 1.0)
        for k, s in SIDE_CUE_SCALE_MM.items()
        if k in call.cues
    ]
    if not votes:
        return call
    agree = sum(v for v in votes if v > 0)
    against = -sum(v for v in votes if v < 0)
    factor = float(np.clip((agree - against) / SIDE_VOTES_FOR_FULL_CONFIDENCE, 0.0, 1.0))
    return SideCall(call.side, round(call.confidence * factor, 3), call.cues)


__all__ = [
    "CaptureChecks",
    "OpenEnd",
    "body_areas",
    "calibrated_side",
    "coordinate_resolution",
    "doubled_share",
    "end_bluntness",
    "end_heights",
    "open_ends",
    "require_foot_shape",
    "require_one_body",
    "require_resolution",
    "require_single_surface",
    "require_whole_foot",
]
