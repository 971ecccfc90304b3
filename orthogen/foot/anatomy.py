"""Anatomical landmarks found on each foot, and every anatomical fraction and threshold, named once.

Pure array functions on a :class:`~orthogen.foot.plantar.PlantarSurface` (standard frame, mm:
x from the back of the heel toward the toes, y to the left, z up from the floor). Landmarks are
found from the foot's own plantar height map and footprint, not placed at fixed fractions of its
length; fractions of length appear only as search windows and as typical proportions for what a
capture does not show (the toes of a foam box, the relief of a flattened weight-bearing sole).

Definitions (the rules the real scans were marked by hand with, ``tests/fixtures/README.md``):

* ``heel_centre``: centre of the plantar heel pad: x at the centre of the heel's lowest area
  where the heel shows a distinct pad (non-weight-bearing captures; frontal tilt removed), else
  half the heel width in front of the heel's back (the heel circle of a flattened heel); y midway
  between the heel's borders read ``HEEL_SOLE_LEVEL_MM`` above its sole.
* ``mpj_1``, ``mpj_5``: medial prominence of the 1st MTP joint and lateral prominence of the 5th on
  the footprint outline: the middle of the ball's most medial / most lateral stretch of outline
  (within ``BULGE_TOL_MM`` of the extreme).
* ``met_head_1``, ``met_head_5``: plantar centres of the 1st and 5th metatarsal heads: at the x of
  their MPJ prominence, ``MET_HEAD_1_INSET`` / ``MET_HEAD_5_INSET`` of the ball width inside the
  outline. The met-head line runs through both.
* ``sulcus_medial``, ``sulcus_lateral``: the toe sulcus (the crease between the toe pads and the
  ball) directly behind the centre of the hallux pad and of the 5th toe pad. Where the crease
  does not show, at ``SULCUS_MEDIAL_TYPICAL`` / ``SULCUS_LATERAL_TYPICAL`` of the (estimated) full
  foot length and ``HALLUX_PAD_INSET`` / ``FIFTH_PAD_INSET`` of the ball width inside the outline.
* ``arch_apex``: highest point of the medial longitudinal arch, on the line ``APEX_LINE_FRACTION``
  of the local width in from the medial border (the shoulder where the sole turns up into the
  medial wall), as captured: the centroid of the arch's top (within ``ARCH_TOP_SHARE`` of its
  peak); on a weight-bearing capture whose arch barely lifts off the plate (lower than
  ``APEX_CONTACT_MAX_MM``), where the medial edge of the contact print recedes most.
* ``hallux_tip``: most distal point of the big toe: the front of the footprint around the hallux
  pad, or medial of the first toe notch of the front, or (toes merged into one blob) the front's
  most distal point; ``None`` without toes.

How the forefoot is read: the toe sulcus is the smoothest path across the forefoot through the
crease that stands above both the ball and the toe pads in each strip along the foot (or, for
raised toes, the knee where they leave the ball); the toe pads are the lowest areas distal of it.
Toes count as captured when the front of the footprint tapers rather than ending blunt across the
forefoot (a foam box that stops at the toes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from orthogen.foot.heightmap import smooth
from orthogen.foot.plantar import PlantarSurface

# ----------------------------------------------------------------------------- measurement bands
#: Bands of the foot length L (x from the heel back) used by the measurements (see measure.py).
BALL_RANGE = (0.55, 0.85)  # ball width: widest footprint here
HEEL_RANGE = (0.0, 0.25)  # heel width: widest footprint here
ARCH_RANGE = (0.30, 0.62)  # arch height: along the medial quarter line here
#: The arch height is read this fraction of the local footprint width in from the medial edge.
ARCH_LINE_FRACTION = 0.25
#: Arch cues (side detection) only this far inside the footprint, mm.
ARCH_INSET_MM = 8.0
#: Arch index (Cavanagh & Rodgers 1987): the print "without toes" ends here, fraction of L.
ARCH_INDEX_TOE_CUT = 0.78
HIGH_ARCH_AI = 0.21
FLAT_AI = 0.26

# ----------------------------------------------------------------------------- typical proportions
# Where a capture shows nothing better. Sources: standard shoe-last proportions (ball line: 1st MTP
# joint at ~72.5 % and 5th at ~63.5 % of the foot length; Rossi & Tennant, "Professional Shoe
# Fitting") and the seven hand-marked real feet of tests/fixtures/landmarks_marked.json (means).
#: 1st MTP joint (medial ball) at this fraction of the foot length from the heel back (marks:
#: 0.71-0.76, mean 0.73).
MPJ1_TYPICAL_FRACTION = 0.725
#: Toe sulcus behind the hallux pad / the 5th toe pad, fractions of the full foot length (marks:
#: medial 0.80-0.84, mean 0.82; lateral 0.73-0.79, mean 0.77).
SULCUS_MEDIAL_TYPICAL = 0.82
SULCUS_LATERAL_TYPICAL = 0.77
#: Plantar centres of the 1st / 5th met heads this share of the ball width inside the outline
#: (marks: 16.5-18.5 mm and 12-15.5 mm on 92-104 mm wide balls; the 1st head with its sesamoids
#: is ~25 mm wide, the 5th ~15 mm).
MET_HEAD_1_INSET = 0.18
MET_HEAD_5_INSET = 0.14
#: Centre lines of the hallux pad and the 5th toe pad, this share of the ball width inside the
#: outline at the sulcus (marks: 16.5-27 mm and 8.5-12 mm).
HALLUX_PAD_INSET = 0.20
FIFTH_PAD_INSET = 0.10
#: Heel circle: a flattened heel's pad centre lies this many heel widths in front of the heel back
#: (marks: 36-46 mm, 0.13-0.17 L).
HEEL_CENTRE_HALF_WIDTHS = 0.5
#: Obliquity of the toe sulcus where it does not show: x rises this much per mm toward medial
#: (marks: 0.07-0.35, mean ~0.2, about 11 degrees).
SULCUS_LINE_SLOPE = 0.2
#: Sulcus as lengths of the device (trim lines, Morton's extension) used before landmarks existed;
#: the device reads ``Anatomy.sulcus_line_x`` instead where it can.
SULCUS_MEDIAL_FRACTION = 0.80
SULCUS_LATERAL_FRACTION = 0.72
#: Where the device's checks read the forefoot (met-head band), fractions of L, and on a short
#: shell the band this far (mm) before the shell's end.
FOREFOOT_BAND = (0.64, 0.74)
SHORT_SHELL_FOREFOOT_BAND_MM = (16.0, 4.0)

# ----------------------------------------------------------------------------- detector thresholds
#: Heights are smoothed with a Gaussian of this sigma before any search (scan noise), mm.
SMOOTH_MM = 2.0
#: The footprint's borders come from the scan's own points, enveloped over this length along x, mm.
EDGE_ENVELOPE_MM = 4.0
#: Heel pad search: the rear this share of the captured length, this far inside the outline (mm).
HEEL_WINDOW = 0.30
HEEL_INSET_MM = 6.0
#: The heel seat's frontal tilt is read behind this fraction of L (the arch starts further on).
HEEL_SEAT_FRACTION = 0.15
#: The heel pad is the area within this much of the heel's lowest point (frontal tilt removed) ...
HEEL_PAD_BAND_MM = 1.5
#: ... and counts as a distinct pad when its rim is at least this much higher (mm) nearly all round
#: (this percentile of the ring 8 mm around it: a bowl, not a flat heel ending at the arch).
HEEL_PAD_MIN_DEPTH_MM = 1.5
HEEL_RIM_PERCENTILE = 25
#: ... and narrower than this share of the heel's width (a flattened heel is low right across).
HEEL_PAD_MAX_WIDTH = 0.6
#: A heel's borders are read this high above its sole (frontal tilt removed), mm: above the sole's
#: rounded edge, below where a tilted capture's side walls lean out (the marks: 5-10 mm).
HEEL_SOLE_LEVEL_MM = 8.0
#: Toes are captured when the footprint, this share of the ball width behind its front, is
#: narrower than TOES_FRONT_MAX_WIDTH of the ball width (a blunt box front is ~0.9 wide).
TOES_FRONT_PROBE = 0.10
TOES_FRONT_MAX_WIDTH = 0.65
#: Search windows along the captured length L: the MPJ prominences (the 5th before the 5th toe,
#: which can bulge further out), and the sulcus from its start to the front.
MPJ1_WINDOW = (0.55, 0.80)
MPJ5_WINDOW = (0.50, 0.72)
SULCUS_WINDOW = (0.62,)
#: A crease counts where it stands this much (mm) above the ball and the toe pads within
#: SULCUS_REACH_MM behind and ahead of it.
SULCUS_MIN_RIDGE_MM = 0.6
SULCUS_REACH_MM = 25.0
#: Raised toes (toe spring) stand at least this much above the ball (mm); the sulcus is then the
#: knee where they leave it.
RAISED_TOES_MM = 5.0
#: The sulcus path needs evidence in this share of the strips across the forefoot, and pays this
#: (times the median crease score) per mm² of departure from the typical obliquity per strip.
SULCUS_MIN_EVIDENCE = 0.15
SULCUS_BEND_COST = 0.1
#: Each end of the sulcus path is continued by a line through its last this many mm of strips.
END_FIT_MM = 12.0
#: Strips along the foot for the sulcus search, mm apart, kept this far (mm) from the borders.
STRIP_MM = 2.0
STRIP_BORDER_MM = 8.0
#: Toe pads and clefts: lows and highs across the toes (this band, mm distal of the crease) of at
#: least TOE_PAD_PROMINENCE_MM, a pad also TOE_PAD_MIN_DEPTH_MM below the crease. The hallux pad's
#: centre lies midway between the medial border and the first cleft (searched within
#: HALLUX_CLEFT_SEARCH of the ball width in), or without a cleft on the middle of the pad's run
#: within TOE_PAD_BAND_MM of its low (within HALLUX_PAD_SEARCH of the border).
TOE_BAND_MM = (8.0, 22.0)
TOE_PAD_BAND_MM = 0.5
TOE_PAD_PROMINENCE_MM = 0.5
TOE_PAD_MIN_DEPTH_MM = 1.0
HALLUX_CLEFT_SEARCH = (0.15, 0.45)
HALLUX_PAD_SEARCH = 0.40
#: Toe pads start this far (mm) distal of the crease: the met heads lie behind it.
TOE_PAD_GAP_MM = 5.0
#: Met heads of a non-weight-bearing capture: a distinct low searched from MH_LOW_SEARCH_MM behind
#: to ahead of the MPJ prominence's x, between MH_BAND of the ball width inside the outline; else
#: the lowest point of the head's strip from MH_STRIP_SEARCH_MM behind to ahead (clear of the
#: arch's tail); a low counts when it lies MH_LOW_MM below its surroundings.
MH_LOW_SEARCH_MM = (20.0, 25.0)
MH_STRIP_SEARCH_MM = (8.0, 25.0)
MH_BAND = (0.08, 0.40)
MH_LOW_MM = 0.5
#: The hallux: within this share of the ball width either side of its pad's centre; its first
#: cleft lies HALLUX_MIN_WIDTH to HALLUX_MAX_WIDTH of the ball width from the medial border.
HALLUX_HALF_WIDTH = 0.15
HALLUX_MIN_WIDTH = 0.15
HALLUX_MAX_WIDTH = 0.45
#: A notch of the footprint's front at least this deep (mm) is a toe cleft.
TOE_NOTCH_MM = 1.5
#: Arch apex: on the line this share of the local width in from the medial border (marks: 13-20.5
#: mm in, ~0.2 of the midfoot's width), the centroid of where the arch stands within this share
#: of its peak clearance (a flat-topped arch has no single highest point).
APEX_LINE_FRACTION = 0.20
ARCH_TOP_SHARE = 0.25
#: A weight-bearing arch lower than this (mm) on the shoulder line barely lifts off the plate: its
#: apex is where the contact print's medial edge recedes most, searched this far (mm) from the heel
#: centre and the 1st met head.
APEX_CONTACT_MAX_MM = 10.0
ARCH_END_MM = 20.0
#: An MPJ prominence is the middle of the outline's stretch within this (mm) of the ball's most
#: medial / lateral point (a straight or gently bulging border has no single extreme).
BULGE_TOL_MM = 1.0
#: Plateaus: the middle of the run within this of the extreme (mm) is the landmark.
PLATEAU_TOL_MM = 0.5

LANDMARKS = (
    "heel_centre",
    "met_head_1",
    "met_head_5",
    "mpj_1",
    "mpj_5",
    "sulcus_medial",
    "sulcus_lateral",
    "arch_apex",
    "hallux_tip",
)


@dataclass(frozen=True)
class Anatomy:
    """Landmarks of one foot, standard frame of the measured foot (mm; x from the heel back, y left).

    ``confidence`` (0-1) and ``method`` (how it was found) per landmark name.
    """

    heel_centre: tuple[float, float]
    met_head_1: tuple[float, float]  # plantar centre of the 1st met head
    met_head_5: tuple[float, float]  # plantar centre of the 5th met head
    mpj_1: tuple[float, float]  # medial prominence of the 1st MPJ on the outline
    mpj_5: tuple[float, float]  # lateral prominence of the 5th MPJ on the outline
    sulcus_medial: tuple[float, float]  # toe sulcus at its medial end
    sulcus_lateral: tuple[float, float]  # toe sulcus at its lateral end
    arch_apex: tuple[float, float]  # highest point of the medial longitudinal arch (plantar)
    hallux_tip: tuple[float, float] | None  # None when the toes were not captured
    toes_captured: bool
    confidence: dict[str, float]
    method: dict[str, str]

    def met_head_line_x(self, y: np.ndarray) -> np.ndarray:
        """x (mm) of the oblique line through the 1st and 5th met heads at ``y`` (mm)."""
        return _line_x(self.met_head_1, self.met_head_5, y)

    def sulcus_line_x(self, y: np.ndarray) -> np.ndarray:
        """x (mm) of the toe sulcus line (through its medial and lateral ends) at ``y`` (mm)."""
        return _line_x(self.sulcus_medial, self.sulcus_lateral, y)

    def met_head(self, k: int) -> tuple[float, float]:
        """Plantar centre of met head ``k`` (1-5), mm.

        Heads 2-4 sit evenly spaced in y between the 1st and 5th on the metatarsal parabola: the
        parabola through heads 1 and 5 whose most distal point is the 2nd head, which gives the
        common formula 2 > 1 = 3 > 4 > 5.
        """
        if k not in (1, 2, 3, 4, 5):
            raise ValueError(f"met head number must be 1-5, got {k}")
        (x1, y1), (x5, y5) = self.met_head_1, self.met_head_5
        t = (k - 1) / 4.0
        d = x1 - x5
        x = x1 + d / 8.0 - 2.0 * d * (t - 0.25) ** 2  # vertex at t = 1/4, through both ends
        return (float(x), float(y1 + t * (y5 - y1)))

    def as_dict(self) -> dict:
        """Every landmark with its confidence and method (JSON-ready, mm rounded to 0.01)."""
        out: dict = {}
        for name in LANDMARKS:
            p = getattr(self, name)
            out[name] = (
                None
                if p is None
                else {
                    "xy": [round(float(p[0]), 2), round(float(p[1]), 2)],
                    "confidence": round(float(self.confidence[name]), 2),
                    "method": self.method[name],
                }
            )
        return out


def _line_x(p: tuple[float, float], q: tuple[float, float], y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, float)
    dy = q[1] - p[1]
    if abs(dy) < 1e-9:
        return np.full_like(y, 0.5 * (p[0] + q[0]))
    return p[0] + (y - p[1]) * (q[0] - p[0]) / dy


# ----------------------------------------------------------------------------- the foot, prepared
@dataclass(frozen=True)
class _Foot:
    """Arrays the searches share, in the *medial frame*: v = medial_sign * y (medial is +v)."""

    x: np.ndarray  # (nx,) column centres, mm
    v: np.ndarray  # (nv,) medial-frame row coordinates, ascending, mm
    h: np.ndarray  # (nx, nv) smoothed height, NaN outside the footprint
    mask: np.ndarray  # (nx, nv) footprint
    depth: np.ndarray  # (nx, nv) distance inside the footprint, mm
    vmed: np.ndarray  # (nx,) medial border per column (NaN where empty)
    vlat: np.ndarray  # (nx,) lateral border per column
    x0: float  # heel back
    x1: float  # front
    s: float  # cell size, mm
    ms: float  # medial sign: -1 left, +1 right
    weight_bearing: bool

    @property
    def length(self) -> float:
        return self.x1 - self.x0

    def border_at(self, x: float, medial: bool) -> float:
        """Medial or lateral border (v) at x, interpolated over the columns."""
        b = self.vmed if medial else self.vlat
        ok = np.isfinite(b)
        return float(np.interp(x, self.x[ok], b[ok]))

    def height_at(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Bilinear height at medial-frame points (NaN outside)."""
        i = (np.asarray(x, float) - self.x[0]) / self.s
        j = (np.asarray(v, float) - self.v[0]) / self.s
        return ndimage.map_coordinates(self.h, [i, j], order=1, mode="constant", cval=np.nan)


def _prepare(plantar: PlantarSurface, side: str) -> _Foot:
    g = plantar.grid
    s = g.spacing
    ms = -1.0 if side == "left" else 1.0
    x, y = g.axes()
    h = smooth(plantar.height, plantar.footprint, SMOOTH_MM / s)
    mask = plantar.footprint
    if ms < 0:  # put medial at +v: flip the rows
        y, h, mask = -y[::-1], h[:, ::-1], mask[:, ::-1]
    any_ = mask.any(axis=1)
    jmax = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    jmin = np.argmax(mask, axis=1)
    vmed = np.where(any_, y[jmax] + s / 2, np.nan)
    vlat = np.where(any_, y[jmin] - s / 2, np.nan)
    # sub-cell: the scan's own points at the border, enveloped over a few columns (sparse meshes)
    e = plantar.edge_y if ms > 0 else -plantar.edge_y[:, ::-1]
    k = max(3, round(EDGE_ENVELOPE_MM / s) | 1)
    pmed = ndimage.maximum_filter1d(np.nan_to_num(e[:, 1], nan=-np.inf), k, mode="nearest")
    plat = ndimage.minimum_filter1d(np.nan_to_num(e[:, 0], nan=np.inf), k, mode="nearest")
    vmed = np.where(np.abs(pmed - vmed) <= s, pmed, vmed)
    vlat = np.where(np.abs(plat - vlat) <= s, plat, vlat)
    k = max(3, round(5.0 / s) | 1)  # borders median-filtered over ~5 mm along x (cell jaggies)
    vmed = np.where(any_, ndimage.median_filter(np.nan_to_num(vmed, nan=0.0), k, mode="nearest"), np.nan)
    vlat = np.where(any_, ndimage.median_filter(np.nan_to_num(vlat, nan=0.0), k, mode="nearest"), np.nan)
    depth = ndimage.distance_transform_edt(mask) * s
    return _Foot(
        x,
        y,
        np.where(mask, h, np.nan),
        mask,
        depth,
        vmed,
        vlat,
        float(plantar.extent_x[0]),
        float(plantar.extent_x[1]),
        s,
        ms,
        plantar.weight_bearing,
    )


# ----------------------------------------------------------------------------- searches
def _middle_of_run(values: np.ndarray, tol: float, at: int | None = None) -> int:
    """Index of the middle of the contiguous run within ``tol`` of the value at ``at`` (default: the
    maximum) that holds ``at``."""
    vals = np.where(np.isfinite(values), values, -np.inf)
    k = int(np.argmax(vals)) if at is None else int(at)
    near = vals >= vals[k] - tol
    lab, _ = ndimage.label(near)
    idx = np.flatnonzero(lab == lab[k])
    return int(idx[len(idx) // 2])


def _heel_centre(f: _Foot) -> tuple[tuple[float, float], float, str]:
    """Heel pad centre (x, v), confidence, method."""
    X, V = np.meshgrid(f.x, f.v, indexing="ij")
    rear = f.mask & np.isfinite(f.h) & (X <= f.x0 + HEEL_WINDOW * f.length)
    win = rear & (f.depth >= HEEL_INSET_MM)
    if win.sum() < 30:
        win = rear
    seat = win & (X <= f.x0 + HEEL_SEAT_FRACTION * f.length)  # behind the arch
    seat = seat if seat.sum() >= 30 else win
    a = np.column_stack([np.ones(seat.sum()), X[seat], V[seat]])
    coef, *_ = np.linalg.lstsq(a, f.h[seat], rcond=None)
    r = np.where(rear, f.h - coef[2] * V, np.nan)  # frontal tilt (of the heel seat) removed
    rw = np.where(win, r, np.nan)
    k = np.unravel_index(np.nanargmin(rw), rw.shape)
    rmin = rw[k]
    pad = win & (rw <= rmin + HEEL_PAD_BAND_MM)
    lab, _ = ndimage.label(pad)
    pad = lab == lab[k]
    ring = win & ndimage.binary_dilation(pad, iterations=max(1, round(8.0 / f.s))) & ~pad
    rim = float(np.nanpercentile(rw[ring], HEEL_RIM_PERCENTILE)) - rmin if ring.any() else 0.0
    front_open = X[pad].max() >= f.x0 + HEEL_WINDOW * f.length - 3 * f.s
    # the heel's borders at sole level
    sole = rear & (r <= np.nanmin(rw) + HEEL_SOLE_LEVEL_MM)
    any_ = sole.any(axis=1)
    hi = np.where(any_, np.where(sole, V, -np.inf).max(axis=1) + f.s / 2, np.nan)
    lo = np.where(any_, np.where(sole, V, np.inf).min(axis=1) - f.s / 2, np.nan)
    ok = np.isfinite(hi)
    heel_w = float(np.nanmax(np.where(f.x <= f.x0 + HEEL_RANGE[1] * f.length, hi - lo, np.nan)))
    narrow = np.ptp(V[pad]) <= HEEL_PAD_MAX_WIDTH * heel_w  # a flattened heel is low across
    if rim >= HEEL_PAD_MIN_DEPTH_MM and not front_open and narrow:
        cx = float(np.mean(X[pad]))
        conf, how = (
            float(np.clip(0.5 + rim / 10.0, 0.5, 0.9)),
            "heel pad: centre of the rearfoot's lowest area",
        )
    else:
        cx = f.x0 + HEEL_CENTRE_HALF_WIDTHS * heel_w
        conf, how = 0.6, "heel circle: half the heel width in front of the heel's back"
    cv = 0.5 * float(np.interp(cx, f.x[ok], hi[ok]) + np.interp(cx, f.x[ok], lo[ok]))
    return (cx, cv), conf, how + ", midway between the heel's borders"


def _toes_captured(f: _Foot, ball_w: float) -> tuple[bool, float]:
    """Whether the front tapers into toes (True) or ends blunt across the forefoot; confidence."""
    probe = f.x1 - TOES_FRONT_PROBE * ball_w
    i = int(np.clip(np.searchsorted(f.x, probe), 0, len(f.x) - 1))
    w = float(np.nan_to_num(f.vmed[i] - f.vlat[i], nan=0.0)) / ball_w
    margin = abs(w - TOES_FRONT_MAX_WIDTH) / 0.25
    return bool(w < TOES_FRONT_MAX_WIDTH), float(np.clip(0.5 + 0.5 * margin, 0.5, 0.95))


def _prominence(f: _Foot, medial: bool, window: tuple[float, float]) -> tuple[float, float]:
    """The middle of the most medial / lateral stretch of the outline within ``window`` (x, v)."""
    border = f.vmed if medial else -f.vlat
    sel = (f.x >= window[0]) & (f.x <= window[1]) & np.isfinite(border)
    if not sel.any():
        sel = np.isfinite(border)
    i = _middle_of_run(np.where(sel, border, -np.inf), BULGE_TOL_MM)
    return float(f.x[i]), float(f.vmed[i] if medial else f.vlat[i])


def _met_head(f: _Foot, mpj: tuple[float, float], ball_w: float, medial: bool, x_max: float, tilt: float):
    """Plantar centre (x, v) of the 1st (medial) or 5th met head, confidence, method.

    Nominally at the MPJ prominence's x, MET_HEAD_1/5_INSET of the ball width inside the outline.
    A non-weight-bearing capture shows the heads as lows of the ball: a distinct low (MH_LOW_MM
    below the rim of its search region, inside it) is taken as the head; else the head moves along
    its strip to the strip's lowest point, when that is a distinct low (not at the window's ends)
    once the ball's frontal ``tilt`` (dz/dv, pivoting on the low border) is taken out.
    """
    sgn, inset = (-1.0, MET_HEAD_1_INSET) if medial else (1.0, MET_HEAD_5_INSET)
    v0 = mpj[1] + sgn * inset * ball_w
    nominal = ((mpj[0], v0), 0.5, f"at the MPJ prominence, {inset:g} of the ball width inside the outline")
    if f.weight_bearing:
        return nominal
    lo_x, hi_x = mpj[0] - MH_LOW_SEARCH_MM[0], min(mpj[0] + MH_LOW_SEARCH_MM[1], x_max)
    X, V = np.meshgrid(f.x, f.v, indexing="ij")
    border = np.where(medial, f.vmed, f.vlat)[:, None]
    depth_in = sgn * (V - border)
    region = (X >= lo_x) & (X <= hi_x) & (depth_in >= MH_BAND[0] * ball_w) & (depth_in <= MH_BAND[1] * ball_w)
    region &= f.mask & np.isfinite(f.h)
    if region.sum() < 20:
        return nominal
    h = np.where(region, f.h, np.inf)
    k = np.unravel_index(np.argmin(h), h.shape)
    rim = region & ~ndimage.binary_erosion(region, iterations=2)
    if not rim[k] and np.min(h[rim]) - h[k] >= MH_LOW_MM:
        return (float(X[k]), float(V[k])), 0.7, "the ball's distinct low near the MPJ prominence"
    xs = np.arange(mpj[0] - MH_STRIP_SEARCH_MM[0], min(mpj[0] + MH_STRIP_SEARCH_MM[1], x_max), 0.5)
    vv = v0 + np.arange(-3.0, 3.01, 1.0)
    prof = np.nanmean(f.height_at(xs[:, None] + 0 * vv, 0 * xs[:, None] + vv), axis=1)
    # a capture tilted about the long axis pivots on its low border: take that tilt out along the strip
    ok = np.isfinite(f.vmed)
    vm, vl = np.interp(xs, f.x[ok], f.vmed[ok]), np.interp(xs, f.x[ok], f.vlat[ok])
    prof = prof - np.maximum(tilt * (v0 - vl), tilt * (v0 - vm))
    if np.isfinite(prof).sum() > 10:
        k = int(np.nanargmin(prof))
        ends = min(prof[np.isfinite(prof)][0], prof[np.isfinite(prof)][-1])
        if 0 < k < xs.size - 1 and ends - prof[k] >= MH_LOW_MM:
            return (float(xs[k]), v0), 0.6, "the lowest point of the ball along its strip, inside the outline"
    return nominal


def _strips(f: _Foot, x: float) -> np.ndarray:
    """Medial-frame v of the strips across the forefoot at x (inside the borders)."""
    lo = f.border_at(x, False) + STRIP_BORDER_MM
    hi = f.border_at(x, True) - STRIP_BORDER_MM
    return np.arange(lo, hi + 1e-9, STRIP_MM)


def _sulcus_scores(f: _Foot) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Crease evidence per forefoot cell: x (nx,), strips v (nv,), score (nx, nv) >= 0, the cue.

    The score is how far a point stands above the lowest ball behind it and the lowest toe pad
    ahead of it (both within SULCUS_REACH_MM); where no strip shows such a crease but the toes
    stand RAISED_TOES_MM above the ball, it is the upward bend where the profile leaves the ball.
    """
    L = f.length
    dx = SULCUS_LINE_SLOPE * STRIP_MM  # one step of the typical obliquity per strip
    xs = np.arange(f.x0 + SULCUS_WINDOW[0] * L, f.x1, dx)
    vs = _strips(f, f.x0 + 0.7 * L)
    empty = np.empty(0), np.empty(0), np.zeros((0, 0)), "none"
    if xs.size < 10 or vs.size < 5:
        return empty
    XX, VV = np.meshgrid(xs, vs, indexing="ij")
    prof = np.where(_depth_at(f, XX, VV) >= STRIP_BORDER_MM / 2, f.height_at(XX, VV), np.nan)
    fin = np.isfinite(prof)
    if fin.sum() < 20:
        return empty
    reach = max(2, round(SULCUS_REACH_MM / dx))
    gap = max(1, round(3.0 / dx))  # the crease itself is a few mm wide
    pf = np.where(fin, prof, np.nanmax(prof) + 100.0)  # outside the print counts as high (toe front)
    m = ndimage.minimum_filter1d(pf, reach, axis=0, mode="nearest")  # centred window minimum
    i = np.arange(xs.size)
    ib, ia = i - gap - reach // 2, i + gap + reach // 2
    none = np.full((1, vs.size), np.inf)  # a side reaching past the window shows no dip
    behind = np.where((ib >= reach // 2)[:, None], m[np.clip(ib, 0, xs.size - 1)], none)
    ahead = np.where((ia < xs.size - reach // 2)[:, None], m[np.clip(ia, 0, xs.size - 1)], none)
    ridge = np.where(fin, prof - np.maximum(behind, ahead), 0.0)
    ridge = np.clip(np.nan_to_num(ridge, nan=0.0, neginf=0.0), 0.0, None)
    if np.mean(ridge.max(axis=0) >= SULCUS_MIN_RIDGE_MM) >= SULCUS_MIN_EVIDENCE:
        return xs, vs, np.where(ridge >= SULCUS_MIN_RIDGE_MM, ridge, 0.0), "crease between ball and toe pads"
    # raised toes: the upward bend past the ball's lowest point
    raised = np.nanmax(prof, axis=0) - np.nanmin(prof, axis=0) >= RAISED_TOES_MM
    kb = np.argmin(np.where(fin, prof, np.inf), axis=0)
    d2 = np.gradient(np.gradient(np.where(fin, prof, np.nan), dx, axis=0), dx, axis=0)
    bend = np.where((i[:, None] > kb[None, :]) & raised[None, :] & np.isfinite(d2), d2, 0.0)
    bend = np.clip(bend, 0.0, None)
    if np.mean(bend.max(axis=0) > 0) >= SULCUS_MIN_EVIDENCE:
        return xs, vs, bend / max(float(bend.max()), 1e-9), "knee where the raised toes leave the ball"
    return empty


@dataclass(frozen=True)
class _Crease:
    """The toe sulcus found on a foot: its path x over the strips v, the cue and the evidence."""

    v: np.ndarray
    x: np.ndarray
    height: np.ndarray  # the crease's height along the path, mm
    cue: str
    evidence: float  # share of the strips that showed it

    def x_at(self, v: float) -> float:
        """x of the crease at v; beyond the strips, a line through the last END_FIT_MM of it."""
        if self.v[0] <= v <= self.v[-1]:
            return float(np.interp(v, self.v, self.x))
        near = self.v >= self.v[-1] - END_FIT_MM if v > self.v[-1] else self.v <= self.v[0] + END_FIT_MM
        if near.sum() < 3:
            return float(self.x[-1] if v > self.v[-1] else self.x[0])
        return float(np.polyval(np.polyfit(self.v[near], self.x[near], 1), v))


def _sulcus_path(f: _Foot) -> _Crease | None:
    """The toe sulcus as the best smooth path across the strips (dynamic programming).

    Each strip picks one x; the path gains the crease score there and pays SULCUS_BEND_COST for
    every mm² its step departs from the typical obliquity, so stretches without evidence (toes
    not pressed in) follow the typical line. None without evidence.
    """
    xs, vs, score, cue = _sulcus_scores(f)
    if score.size == 0:
        return None
    evidence = float(np.mean(score.max(axis=0) > 0))
    lam = SULCUS_BEND_COST * float(np.median(score[score > 0]))
    step = (xs[:, None] - xs[None, :] - SULCUS_LINE_SLOPE * STRIP_MM) ** 2  # [to, from]
    total = score[:, 0].copy()
    back = np.zeros(score.shape, dtype=int)
    for j in range(1, vs.size):  # ~50 strips, lateral to medial
        cand = total[None, :] - lam * step
        back[:, j] = np.argmax(cand, axis=1)
        total = score[:, j] + cand[np.arange(xs.size), back[:, j]]
    path = np.empty(vs.size, dtype=int)
    path[-1] = int(np.argmax(total))
    for j in range(vs.size - 1, 0, -1):
        path[j - 1] = back[path[j], j]
    # sub-sample x: the vertex of the parabola through the score around each strip's pick
    j = np.arange(vs.size)
    k0, k2 = np.clip(path - 1, 0, xs.size - 1), np.clip(path + 1, 0, xs.size - 1)
    s0, s1, s2 = score[k0, j], score[path, j], score[k2, j]
    den = s0 - 2 * s1 + s2
    ok = (den < 0) & (k0 < path) & (path < k2)
    shift = np.where(ok, 0.5 * (s0 - s2) / np.where(ok, den, -1.0), 0.0)
    px = xs[path] + np.clip(shift, -0.5, 0.5) * (xs[1] - xs[0])
    return _Crease(vs, px, f.height_at(px, vs), cue, evidence)


def _depth_at(f: _Foot, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Distance inside the footprint (mm) at medial-frame points (nearest cell; 0 outside)."""
    i = np.clip(np.round((x - f.x[0]) / f.s).astype(int), 0, f.x.size - 1)
    j = np.clip(np.round((v - f.v[0]) / f.s).astype(int), 0, f.v.size - 1)
    return f.depth[i, j]


def _hallux_pad(f: _Foot, crease: _Crease, ball_w: float) -> float | None:
    """Centre line (v) of the hallux pad, None where it does not show.

    Across the toes (each row's median height TOE_BAND_MM distal of the crease, the forefoot's
    frontal tilt taken out with the crease's trend) toe pads are lows and clefts highs: the hallux
    pad's centre lies midway between the medial border and the first cleft, or without a visible
    cleft on the most medial pad low. (The 5th toe's pad is small and close to the crease: its
    centre line is taken FIFTH_PAD_INSET of the ball width inside the lateral border.)
    """
    from scipy.signal import find_peaks

    vs = f.v[(f.v > crease.v[0] - STRIP_BORDER_MM) & (f.v < crease.v[-1] + STRIP_BORDER_MM)]
    if vs.size < 10:
        return None
    cx = np.array([crease.x_at(v) for v in vs])
    d = np.arange(TOE_BAND_MM[0], TOE_BAND_MM[1] + 1e-9, f.s)
    XX, VV = cx[:, None] + d[None, :], vs[:, None] * np.ones_like(d)[None, :]
    band = np.where(_depth_at(f, XX, VV) >= STRIP_BORDER_MM / 2, f.height_at(XX, VV), np.nan)
    ok = np.isfinite(band).sum(axis=1) >= 3
    if ok.sum() < 10:
        return None
    prof = np.full(vs.size, np.nan)
    prof[ok] = np.nanmedian(band[ok], axis=1)
    crest = np.interp(vs, crease.v, crease.height)
    # the forefoot's frontal tilt out (the crease runs across the forefoot: its linear trend)
    fin = np.isfinite(crest) & np.isfinite(prof)
    if fin.sum() >= 5:
        trend = np.polyval(np.polyfit(vs[fin], crest[fin], 1), vs)
        prof, crest = prof - trend, crest - trend
    low = np.where(np.isfinite(prof), prof, np.nanmax(prof) + 10.0)
    idx, _ = find_peaks(-low, prominence=TOE_PAD_PROMINENCE_MM, plateau_size=(0, None))
    idx = idx[(crest[idx] - prof[idx] >= TOE_PAD_MIN_DEPTH_MM)]
    high = np.where(np.isfinite(prof), prof, np.nanmin(prof) - 10.0)
    clefts, _ = find_peaks(high, prominence=TOE_PAD_PROMINENCE_MM, plateau_size=(0, None))
    vmed = f.border_at(crease.x_at(crease.v[-1]) + np.mean(TOE_BAND_MM), True)
    # each pad: the middle of the run within TOE_PAD_BAND_MM of its low (a flat or tilted pad)
    pads = np.array(
        [vs[_middle_of_run(np.where(np.isfinite(prof), -prof, -np.inf), TOE_PAD_BAND_MM, k)] for k in idx]
    )
    inward = vmed - vs[clefts]
    c = clefts[(inward >= HALLUX_CLEFT_SEARCH[0] * ball_w) & (inward <= HALLUX_CLEFT_SEARCH[1] * ball_w)]
    p = pads[vmed - pads <= HALLUX_PAD_SEARCH * ball_w]
    if c.size and p.size:  # between the border and the first cleft in from it
        return 0.5 * (vmed + float(vs[c.max()]))
    return float(p.max()) if p.size else None


def _hallux_tip(f: _Foot, ball_w: float, pad_v: float | None) -> tuple[tuple[float, float], float, str]:
    """Most distal point of the big toe (x, v), confidence, method.

    The front of the footprint around the hallux pad where the pad shows; else medial of the first
    notch of the front (the cleft between hallux and 2nd toe seen in the outline); else, toes merged
    into one blob, the front's most distal point.
    """
    from scipy.signal import find_peaks

    X = f.x[:, None] * np.ones_like(f.mask, dtype=float)
    front = np.where(f.mask, X, -np.inf).max(axis=0) + f.s / 2  # (nv,) the footprint's front
    vmed = float(np.nanmax(f.vmed))
    if pad_v is not None:
        seg = np.abs(f.v - pad_v) <= HALLUX_HALF_WIDTH * ball_w
        how, conf = "front of the footprint around the hallux pad", 0.8
    else:
        fin = np.isfinite(front)
        notches, _ = find_peaks(-np.where(fin, front, np.nanmin(front[fin])), prominence=TOE_NOTCH_MM)
        notches = notches[(f.v[notches] <= vmed - HALLUX_MIN_WIDTH * ball_w)]
        notches = notches[f.v[notches] >= vmed - HALLUX_MAX_WIDTH * ball_w]
        if notches.size:
            seg = f.v > f.v[notches.max()]
            how, conf = "front of the footprint medial of the first toe notch", 0.7
        else:
            seg = np.ones(f.v.size, bool)
            how, conf = "most distal point of the front (toes merged)", 0.5
    i = _middle_of_run(np.where(seg & np.isfinite(front), front, -np.inf), PLATEAU_TOL_MM)
    return (float(front[i]), float(f.v[i])), conf, how


def _arch_apex(f: _Foot, contact: np.ndarray, heel: tuple[float, float], x_mh1: float):
    """Top of the medial arch on the shoulder line (APEX_LINE_FRACTION of the width in).

    The centroid of the arch's top (heights within ARCH_TOP_SHARE of the peak) along the line from
    the heel centre to the 1st met head; on a weight-bearing capture whose arch barely lifts off the
    plate (below APEX_CONTACT_MAX_MM), where the medial edge of the contact print recedes most.
    """
    cols = np.flatnonzero((f.x >= heel[0]) & (f.x <= x_mh1) & np.isfinite(f.vmed))
    if cols.size < 5:
        lo, hi = (f.x0 + r * f.length for r in ARCH_RANGE)
        cols = np.flatnonzero((f.x >= lo) & (f.x <= hi) & np.isfinite(f.vmed))
    xs = f.x[cols]
    vq = f.vmed[cols] - APEX_LINE_FRACTION * (f.vmed[cols] - f.vlat[cols])
    hq = f.height_at(xs, vq)
    if np.isfinite(hq).sum() < 3:
        n = cols.size // 2
        return (float(xs[n]), float(vq[n])), 0.1, "middle of the midfoot (no arch surface)"
    c = np.where(np.isfinite(hq), hq, -np.inf)
    k = int(np.argmax(c))
    conf = float(np.clip(c[k] / 6.0, 0.1, 0.8))
    if f.weight_bearing and c[k] < APEX_CONTACT_MAX_MM:
        edge = np.where(contact[cols], f.v[None, :], -np.inf).max(axis=1)  # medial contact edge
        inner = (xs >= heel[0] + ARCH_END_MM) & (xs <= x_mh1 - ARCH_END_MM) & np.isfinite(edge)
        if inner.any():
            n = _middle_of_run(np.where(inner, -edge, -np.inf), PLATEAU_TOL_MM)
            how = "where the medial edge of the contact print recedes most, on the shoulder line"
            return (float(xs[n]), float(vq[n])), conf, how
    top = c >= (1.0 - ARCH_TOP_SHARE) * c[k]
    lab, _ = ndimage.label(top)
    run = lab == lab[k]
    w = c[run] - (1.0 - ARCH_TOP_SHARE) * c[k]
    xa = float(np.sum(xs[run] * w) / w.sum()) if c[k] > 0 and w.sum() > 0 else float(xs[k])
    how = "top of the arch along the medial shoulder line"
    return (xa, float(np.interp(xa, xs, vq))), conf, how


# ----------------------------------------------------------------------------- the detector
def find_anatomy(plantar: PlantarSurface, side: str) -> Anatomy:
    """Anatomical landmarks of a plantar surface whose medial side is given by ``side``.

    Parameters
    ----------
    plantar : the plantar height map and footprint in the standard frame (mm).
    side : "left" or "right" (which side is medial: left -y, right +y).

    Returns
    -------
    Anatomy in the standard frame (mm) with a confidence and method per landmark.
    """
    f = _prepare(plantar, side)
    L = f.length
    conf: dict[str, float] = {}
    method: dict[str, str] = {}
    pts: dict[str, tuple[float, float] | None] = {}

    def put(name: str, p: tuple[float, float] | None, c: float, how: str) -> None:
        pts[name], conf[name], method[name] = p, c, how

    ball = (f.x >= f.x0 + BALL_RANGE[0] * L) & (f.x <= f.x0 + BALL_RANGE[1] * L)
    ball_w = float(np.nanmax(np.where(ball, f.vmed - f.vlat, np.nan)))
    put("heel_centre", *_heel_centre(f))
    toes, toes_conf = _toes_captured(f, ball_w)

    # the ball: MPJ prominences on the outline, the met heads' plantar centres inside them
    w1 = (f.x0 + MPJ1_WINDOW[0] * L, f.x0 + (MPJ1_WINDOW[1] * L if toes else L))
    w5 = (f.x0 + MPJ5_WINDOW[0] * L, f.x0 + (MPJ5_WINDOW[1] * L if toes else L))
    mpj1, mpj5 = _prominence(f, True, w1), _prominence(f, False, w5)
    put("mpj_1", mpj1, 0.7, "middle of the ball's most medial stretch of outline")
    put("mpj_5", mpj5, 0.7, "middle of the ball's most lateral stretch of outline")
    # the toe sulcus behind the hallux and 5th toe pads, where it shows
    crease = _sulcus_path(f) if toes else None
    X, V = np.meshgrid(f.x, f.v, indexing="ij")
    ball = f.mask & np.isfinite(f.h) & (f.depth >= HEEL_INSET_MM)
    ball &= (X >= min(mpj1[0], mpj5[0]) - STRIP_BORDER_MM) & (X <= max(mpj1[0], mpj5[0]) + STRIP_BORDER_MM)
    a = np.column_stack([np.ones(ball.sum()), X[ball], V[ball]])
    tilt = float(np.linalg.lstsq(a, f.h[ball], rcond=None)[0][2]) if ball.sum() > 20 else 0.0
    for name, mpj, medial in (("met_head_1", mpj1, True), ("met_head_5", mpj5, False)):
        v_mh = mpj[1] + (-MET_HEAD_1_INSET if medial else MET_HEAD_5_INSET) * ball_w
        x_max = f.x1 if crease is None else crease.x_at(v_mh) - TOE_PAD_GAP_MM  # heads behind it
        put(name, *_met_head(f, mpj, ball_w, medial, x_max, tilt))
    hallux_pad = None if crease is None else _hallux_pad(f, crease, ball_w)
    if toes:
        put("hallux_tip", *_hallux_tip(f, ball_w, hallux_pad))
    else:
        put("hallux_tip", None, toes_conf, "toes not captured")
    if crease is not None:
        for name, pad, medial, inset in (
            ("sulcus_medial", hallux_pad, True, HALLUX_PAD_INSET),
            ("sulcus_lateral", None, False, FIFTH_PAD_INSET),
        ):
            if pad is not None:
                v, behind = pad, "behind the centre of its toe pad"
            elif medial:
                v, behind = pts["hallux_tip"][1], "in line with the hallux tip"
            else:
                xe = crease.x_at(crease.v[0])
                v = f.border_at(xe, medial) + inset * ball_w
                behind = f"{inset:g} of the ball width inside the outline"
            c = float(np.clip(0.3 + 0.6 * crease.evidence, 0.3, 0.9))
            put(name, (crease.x_at(v), v), c, f"{crease.cue} (smoothest path across the forefoot), {behind}")
    else:
        # no crease: typical proportions of the full length (estimated from the 1st MPJ without toes)
        full = L if toes else (mpj1[0] - f.x0) / MPJ1_TYPICAL_FRACTION
        for name, frac, medial, inset in (
            ("sulcus_medial", SULCUS_MEDIAL_TYPICAL, True, HALLUX_PAD_INSET),
            ("sulcus_lateral", SULCUS_LATERAL_TYPICAL, False, FIFTH_PAD_INSET),
        ):
            x = f.x0 + frac * full
            if medial and toes:
                v, where = pts["hallux_tip"][1], "in line with the hallux tip"
            else:
                v = f.border_at(min(x, f.x1), medial) + (-1.0 if medial else 1.0) * inset * ball_w
                where = f"{inset:g} of the ball width inside the outline"
            what = "foot length" if toes else "typical foot length"
            put(name, (x, v), 0.4 if toes else 0.3, f"estimated: {frac:g} of the {what}, {where}")

    contact = plantar.contact if f.ms > 0 else plantar.contact[:, ::-1]
    put("arch_apex", *_arch_apex(f, contact, pts["heel_centre"], pts["met_head_1"][0]))

    def std(p: tuple[float, float] | None) -> tuple[float, float] | None:
        return None if p is None else (float(p[0]), float(f.ms * p[1]) + 0.0)

    return Anatomy(
        **{k: std(pts[k]) for k in LANDMARKS},
        toes_captured=toes,
        confidence={k: round(float(c), 3) for k, c in conf.items()},
        method=method,
    )
