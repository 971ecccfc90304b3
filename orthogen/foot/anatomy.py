"""Anatomical landmarks found on each foot, and every anatomical fraction and threshold, named once.

Pure array functions on a :class:`~orthogen.foot.plantar.PlantarSurface` (standard frame, mm:
x from the back of the heel toward the toes, y to the left, z up from the floor). Landmarks are
found from the foot's own plantar height map and footprint, not placed at fixed fractions of its
length; fractions of length appear only as search windows and as typical proportions for what a
capture does not show (the toes of a foam box, the relief of a flattened weight-bearing sole).

Definitions (what a landmark *is*; how it is found follows):

* ``heel_centre``: centre of the heel pad. Where the rearfoot shows a distinct pad (the lowest
  area of the heel once its frontal/sagittal tilt is removed; non-weight-bearing captures), its
  depth-weighted centroid; on a flattened heel, the centre of the heel circle: half the heel width
  in front of the back of the heel, midway between the heel borders.
* ``met_head_1``, ``met_head_5``: plantar centres of the 1st and 5th metatarsal heads. They lie on
  the oblique met-head line (the line of the MTP joints), ``MET_HEAD_1_INSET`` of the ball width
  lateral of the medial border and ``MET_HEAD_5_INSET`` medial of the lateral border.
* ``mpj_1``, ``mpj_5``: medial and lateral prominences of the 1st and 5th MTP joints, where the
  met-head line meets the footprint outline.
* ``sulcus_medial``, ``sulcus_lateral``: ends of the toe sulcus (the crease between the toe pads
  and the ball) on the outline. Without toes they are estimated ``SULCUS_FROM_MET_HEADS`` of the
  (typical) foot length distal of the met-head line.
* ``arch_apex``: highest point of the medial longitudinal arch along the medial quarter line
  (``ARCH_LINE_FRACTION`` of the local width in from the medial border), the capture's frontal
  tilt removed: the centroid of the arch's top (where it stands within ``ARCH_TOP_SHARE`` of its
  peak clearance), so a flat-topped arch has one apex too.
* ``hallux_tip``: most distal point of the medial toe segment (medial of the first toe cleft).

How they are found: the toe sulcus as a raised crease (ridge) between the ball and the toe pads
in each strip along the foot, or the knee where raised toes leave the ball; a robust line through
those points. The met-head line then lies ``SULCUS_FROM_MET_HEADS`` of the length proximal of
it. Without a visible sulcus (a flattened weight-bearing print, toes not captured) the met-head
line goes through the lateral prominence of the forefoot (5th MPJ) with the typical obliquity
``MET_HEAD_LINE_SLOPE``. Toes count as captured when the front of the footprint tapers (toes)
rather than ending blunt across the forefoot (a foam box that stops at the toes).
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
#: The arch is read this fraction of the local footprint width in from the medial edge.
ARCH_LINE_FRACTION = 0.25
#: Arch cues (side detection) only this far inside the footprint, mm.
ARCH_INSET_MM = 8.0
#: Arch index (Cavanagh & Rodgers 1987): the print "without toes" ends here, fraction of L.
ARCH_INDEX_TOE_CUT = 0.78
HIGH_ARCH_AI = 0.21
FLAT_AI = 0.26

# ----------------------------------------------------------------------------- typical proportions
# Standard last and foot proportions (ball line of shoe lasts; Rossi & Tennant, "Professional
# Shoe Fitting"; the synthetic model uses the same): where a capture shows nothing better.
#: 1st MTP joint (medial ball) at this fraction of the foot length from the heel back.
MPJ1_TYPICAL_FRACTION = 0.72
#: 5th MTP joint (lateral ball) at this fraction of the foot length.
MPJ5_TYPICAL_FRACTION = 0.63
#: The toe sulcus lies this fraction of the foot length distal of the met-head line.
SULCUS_FROM_MET_HEADS = 0.10
#: Obliquity of the met-head line: x rises this much per mm toward medial (1st MPJ distal of the
#: 5th by (0.72 - 0.63) L over a ball width of ~0.385 L: about 0.23, 13 degrees).
MET_HEAD_LINE_SLOPE = (MPJ1_TYPICAL_FRACTION - MPJ5_TYPICAL_FRACTION) / 0.385
#: Plantar centres of the 1st / 5th met heads: this share of the ball width in from the medial /
#: lateral border along the met-head line (1st head with sesamoids ~25 mm wide, 5th ~15 mm).
MET_HEAD_1_INSET = 0.15
MET_HEAD_5_INSET = 0.12
#: Heel circle: the heel pad's centre lies this many heel widths in front of the heel back.
HEEL_CENTRE_HALF_WIDTHS = 0.5
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
#: Heel pad search: the rear this share of the captured length, this far inside the outline (mm).
HEEL_WINDOW = 0.30
HEEL_INSET_MM = 6.0
#: The heel pad is the area within this much of the heel's lowest point (tilt removed), mm ...
HEEL_PAD_BAND_MM = 2.0
#: ... and counts as a distinct pad when its rim is at least this much higher (mm).
HEEL_PAD_MIN_DEPTH_MM = 1.5
#: A flattened heel's borders are read this high above its sole (tilt removed), mm: above the
#: sole's rounded edge, below where a tilted capture's side walls lean out.
HEEL_SOLE_LEVEL_MM = 8.0
#: Toes are captured when the footprint, this share of the ball width behind its front, is
#: narrower than TOES_FRONT_MAX_WIDTH of the ball width (a blunt box front is ~0.9 wide).
TOES_FRONT_PROBE = 0.10
TOES_FRONT_MAX_WIDTH = 0.65
#: The sulcus is searched from this fraction of the (toe-captured) length to the front.
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
SULCUS_BEND_COST = 0.5
#: Each end of the sulcus path is read from a line through its last this many mm of strips.
END_FIT_MM = 12.0
#: Without toes, a sulcus end on the captured border lies at most this share of the ball width
#: inside the ball's border (the lateral toe line starts ~0.06 W inside the 5th MPJ).
SULCUS_END_MAX_INSET = 0.08
#: Strips along the foot for the sulcus and hallux searches, mm apart, kept this far (mm) from the
#: medial and lateral borders.
STRIP_MM = 2.0
STRIP_BORDER_MM = 8.0
#: The hallux segment: medial of the first toe cleft, searched within this share of the ball width
#: of the medial border (the hallux is ~0.3 of the forefoot's width).
HALLUX_MAX_WIDTH = 0.36
HALLUX_MIN_WIDTH = 0.15
#: The arch apex is the centroid of the arch's top: where the quarter line stands within this share
#: of the peak clearance (a flat-topped arch has no single highest point).
ARCH_TOP_SHARE = 0.25
#: A frontal slice's underside: the line from below touching the most points within this (mm),
#: searched over frontal slopes up to this (tan of ~27 degrees).
LOWER_FIT_TOL_MM = 0.5
SUPPORT_MAX_SLOPE = 0.5
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
            out[name] = None if p is None else {
                "xy": [round(float(p[0]), 2), round(float(p[1]), 2)],
                "confidence": round(float(self.confidence[name]), 2),
                "method": self.method[name],
            }
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
    k = max(3, round(5.0 / s) | 1)  # borders median-filtered over ~5 mm along x (cell jaggies)
    vmed = np.where(any_, ndimage.median_filter(np.nan_to_num(vmed, nan=0.0), k, mode="nearest"), np.nan)
    vlat = np.where(any_, ndimage.median_filter(np.nan_to_num(vlat, nan=0.0), k, mode="nearest"), np.nan)
    depth = ndimage.distance_transform_edt(mask) * s
    return _Foot(
        x, y, np.where(mask, h, np.nan), mask, depth, vmed, vlat,
        float(plantar.extent_x[0]), float(plantar.extent_x[1]), s, ms, plantar.weight_bearing,
    )


# ----------------------------------------------------------------------------- searches
def _middle_of_run(values: np.ndarray, tol: float) -> int:
    """Index of the middle of the contiguous run within ``tol`` of the maximum that holds it."""
    vals = np.where(np.isfinite(values), values, -np.inf)
    k = int(np.argmax(vals))
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
    a = np.column_stack([np.ones(win.sum()), X[win], V[win]])
    coef, *_ = np.linalg.lstsq(a, f.h[win], rcond=None)
    r = np.where(rear, f.h - (coef[0] + coef[1] * X + coef[2] * V), np.nan)  # tilt removed
    rw = np.where(win, r, np.nan)
    k = np.unravel_index(np.nanargmin(rw), rw.shape)
    rmin = rw[k]
    pad = win & (rw <= rmin + HEEL_PAD_BAND_MM)
    lab, _ = ndimage.label(pad)
    pad = lab == lab[k]
    ring = win & ndimage.binary_dilation(pad, iterations=max(1, round(8.0 / f.s))) & ~pad
    rim = float(np.nanmedian(rw[ring])) - rmin if ring.any() else 0.0
    front_open = X[pad].max() >= f.x0 + HEEL_WINDOW * f.length - 3 * f.s
    if rim >= HEEL_PAD_MIN_DEPTH_MM and not front_open:
        w = rmin + HEEL_PAD_BAND_MM - rw[pad]
        cx = float(np.sum(X[pad] * w) / w.sum())
        cv = float(np.sum(V[pad] * w) / w.sum())
        conf = float(np.clip(0.5 + rim / 10.0, 0.5, 0.9))
        return (cx, cv), conf, "heel pad: lowest area of the rearfoot, tilt removed"
    # a flattened heel: the heel circle between the borders of the sole (tilt removed, so the
    # silhouette of a tilted capture's side walls does not widen it)
    sole = rear & (r <= np.nanmin(rw) + HEEL_SOLE_LEVEL_MM)
    any_ = sole.any(axis=1)
    hi = np.where(any_, np.where(sole, V, -np.inf).max(axis=1) + f.s / 2, np.nan)
    lo = np.where(any_, np.where(sole, V, np.inf).min(axis=1) - f.s / 2, np.nan)
    heel_w = float(np.nanmax(np.where(f.x <= f.x0 + HEEL_RANGE[1] * f.length, hi - lo, np.nan)))
    cx = f.x0 + HEEL_CENTRE_HALF_WIDTHS * heel_w
    ok = np.isfinite(hi)
    cv = 0.5 * float(np.interp(cx, f.x[ok], hi[ok]) + np.interp(cx, f.x[ok], lo[ok]))
    return (cx, cv), 0.6, "heel borders: centre of the heel circle (half the heel width from the back)"


def _toes_captured(f: _Foot, ball_w: float) -> tuple[bool, float]:
    """Whether the front tapers into toes (True) or ends blunt across the forefoot; confidence."""
    probe = f.x1 - TOES_FRONT_PROBE * ball_w
    i = int(np.clip(np.searchsorted(f.x, probe), 0, len(f.x) - 1))
    w = float(np.nan_to_num(f.vmed[i] - f.vlat[i], nan=0.0)) / ball_w
    margin = abs(w - TOES_FRONT_MAX_WIDTH) / 0.25
    return bool(w < TOES_FRONT_MAX_WIDTH), float(np.clip(0.5 + 0.5 * margin, 0.5, 0.95))


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
    dx = MET_HEAD_LINE_SLOPE * STRIP_MM  # one step of the typical obliquity per strip
    xs = np.arange(f.x0 + SULCUS_WINDOW[0] * L, f.x1, dx)
    vs = _strips(f, f.x0 + 0.7 * L)
    empty = np.empty(0), np.empty(0), np.zeros((0, 0)), "none"
    if xs.size < 10 or vs.size < 5:
        return empty
    XX, VV = np.meshgrid(xs, vs, indexing="ij")
    prof = np.where(_depth_at(f, XX, VV) >= STRIP_BORDER_MM, f.height_at(XX, VV), np.nan)
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


def _sulcus_path(f: _Foot, ball_w: float) -> tuple[tuple, tuple, float, str] | None:
    """The toe sulcus as the best smooth path across the strips (dynamic programming).

    Each strip picks one x; the path gains the crease score there and pays SULCUS_BEND_COST for
    every mm² its step departs from the typical obliquity, so stretches without evidence (toes
    not pressed in) follow the typical line. Returns the medial and lateral ends on the outline
    (x, v), a confidence (share of strips with evidence) and the cue; None without evidence.
    """
    xs, vs, score, cue = _sulcus_scores(f)
    if score.size == 0:
        return None
    evidence = float(np.mean(score.max(axis=0) > 0))
    pos = score[score > 0]
    lam = SULCUS_BEND_COST * float(np.median(pos))
    step = (xs[:, None] - xs[None, :] - MET_HEAD_LINE_SLOPE * STRIP_MM) ** 2  # [to, from]
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
    k0, k1, k2 = np.clip(path - 1, 0, xs.size - 1), path, np.clip(path + 1, 0, xs.size - 1)
    s0, s1, s2 = score[k0, j], score[k1, j], score[k2, j]
    den = s0 - 2 * s1 + s2
    shift = np.where((den < 0) & (k0 < k1) & (k1 < k2), 0.5 * (s0 - s2) / np.where(den < 0, den, -1.0), 0.0)
    px = xs[path] + np.clip(shift, -0.5, 0.5) * (xs[1] - xs[0])
    ends = []
    for medial in (True, False):  # a line through the path's last END_FIT_MM, on to the border
        near = vs >= vs[-1] - END_FIT_MM if medial else vs <= vs[0] + END_FIT_MM
        slope, icpt = np.polyfit(vs[near], px[near], 1) if near.sum() >= 3 else (MET_HEAD_LINE_SLOPE, 0.0)
        v_end = vs[-1] if medial else vs[0]
        x_end = float(np.polyval((slope, icpt), v_end)) if near.sum() >= 3 else float(px[-1 if medial else 0])
        vb = f.border_at(x_end, medial)
        ends.append((x_end + MET_HEAD_LINE_SLOPE * (vb - v_end), vb))
    conf = float(np.clip(0.4 + 0.5 * evidence, 0.4, 0.9))
    return ends[0], ends[1], conf, cue


def _depth_at(f: _Foot, x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Distance inside the footprint (mm) at medial-frame points (nearest cell; 0 outside)."""
    i = np.clip(np.round((x - f.x[0]) / f.s).astype(int), 0, f.x.size - 1)
    j = np.clip(np.round((v - f.v[0]) / f.s).astype(int), 0, f.v.size - 1)
    return f.depth[i, j]


def _on_border(f: _Foot, a: float, b: float, medial: bool) -> tuple[float, float] | None:
    """Where the line x = a + b v meets the medial / lateral border (x, v); None if it misses."""
    bord = f.vmed if medial else f.vlat
    ok = np.isfinite(bord)
    g = f.x[ok] - (a + b * bord[ok])
    cross = np.flatnonzero(np.sign(g[:-1]) != np.sign(g[1:]))
    if cross.size == 0:
        return None
    i = cross[np.argmin(np.abs(f.x[ok][cross] - (a + b * bord[ok][cross])))]
    t = g[i] / (g[i] - g[i + 1])
    xb = f.x[ok][i] + t * (f.x[ok][i + 1] - f.x[ok][i])
    vb = bord[ok][i] + t * (bord[ok][i + 1] - bord[ok][i])
    return float(xb), float(vb)


def _sulcus_ends(f: _Foot, line: tuple[float, float], heads: dict, toes: bool) -> tuple:
    """The sulcus line's medial and lateral ends on the outline (x, v).

    Without toes the line may pass beyond the capture or cross its blunt front: an end is then
    taken on the ball's border continued straight on (the MPJ prominence's v) unless the line
    meets the captured border within SULCUS_END_MAX_INSET of the ball width of it.
    """
    a, b = line
    w = heads["mpj_1"][1] - heads["mpj_5"][1]
    ends = []
    for medial, mpj in ((True, heads["mpj_1"]), (False, heads["mpj_5"])):
        p = _on_border(f, a, b, medial)
        if p is None or (not toes and abs(p[1] - mpj[1]) > SULCUS_END_MAX_INSET * w):
            p = (a + b * mpj[1], mpj[1])
        ends.append(p)
    return ends[0], ends[1]


def _lateral_prominence(f: _Foot, x_end: float) -> tuple[float, float]:
    """The 5th MPJ: most lateral point of the forefoot border before ``x_end`` (x, v)."""
    sel = (f.x >= f.x0 + BALL_RANGE[0] * f.length) & (f.x <= x_end) & np.isfinite(f.vlat)
    if not sel.any():
        sel = np.isfinite(f.vlat)
    vals = np.where(sel, -f.vlat, -np.inf)
    i = _middle_of_run(vals, PLATEAU_TOL_MM)
    return float(f.x[i]), float(f.vlat[i])


def _met_heads(f: _Foot, line: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """Met heads and MPJ prominences on the met-head line x = a + b v (medial frame)."""
    a, b = line
    mpj1 = _on_border(f, a, b, True) or (a + b * f.border_at(a, True), f.border_at(a, True))
    mpj5 = _on_border(f, a, b, False) or (a + b * f.border_at(a, False), f.border_at(a, False))
    w = mpj1[1] - mpj5[1]
    v1 = mpj1[1] - MET_HEAD_1_INSET * w
    v5 = mpj5[1] + MET_HEAD_5_INSET * w
    return {
        "mpj_1": mpj1,
        "mpj_5": mpj5,
        "met_head_1": (a + b * v1, v1),
        "met_head_5": (a + b * v5, v5),
    }


def _hallux_tip(f: _Foot, ball_w: float) -> tuple[tuple[float, float], float, str]:
    """Most distal point of the medial toe segment (x, v), confidence, method."""
    # front contour: per strip, the most distal footprint cell
    X = f.x[:, None] * np.ones_like(f.mask, dtype=float)
    front = np.where(f.mask, X, -np.inf).max(axis=0) + f.s / 2  # (nv,)
    vmed = float(np.nanmax(f.vmed))
    seg = (f.v <= vmed) & (f.v >= vmed - HALLUX_MAX_WIDTH * ball_w) & np.isfinite(front)
    method = "front of the medial toe segment"
    conf = 0.6
    # the first cleft from medial: a notch of the front contour, or a raised cleft between pads
    idx = np.flatnonzero(seg)[::-1]  # medial to lateral
    if idx.size >= 5:
        fr = front[idx]
        notch = [
            i for i in range(2, idx.size - 2)
            if f.v[idx[i]] <= vmed - HALLUX_MIN_WIDTH * ball_w
            and fr[i] <= fr[: i].max() - 2.0 and fr[i] <= fr[i + 1:].max() - 2.0
        ]
        if notch:
            seg = seg & (f.v > f.v[idx[notch[0]]])
            method, conf = "front of the medial toe segment, medial of the first toe notch", 0.8
    i = _middle_of_run(np.where(seg, front, -np.inf), PLATEAU_TOL_MM)
    return (float(front[i]), float(f.v[i])), conf, method


def _arch_apex(f: _Foot, heel: tuple[float, float], met_line: tuple[float, float]):
    """Top of the medial arch on the quarter line, each slice's frontal tilt removed.

    In every frontal slice (grid column) from the heel centre to the 1st met head, the line that
    supports the slice lateral of the quarter line from below and touches it most (the lateral
    midfoot's underside) is the slice's floor; the arch's clearance is the quarter line's height
    above it, so a capture tilted or twisted about the long axis does not move the apex.
    """
    a, b = met_line
    x_mh = a + b * float(np.nanmax(f.vmed)) * (1.0 - MET_HEAD_1_INSET)
    cols = np.flatnonzero((f.x >= heel[0]) & (f.x <= x_mh) & np.isfinite(f.vmed))
    if cols.size < 5:
        lo, hi = (f.x0 + r * f.length for r in ARCH_RANGE)
        cols = np.flatnonzero((f.x >= lo) & (f.x <= hi) & np.isfinite(f.vmed))
    xs = f.x[cols]
    vq = f.vmed[cols] - ARCH_LINE_FRACTION * (f.vmed[cols] - f.vlat[cols])
    sel = f.mask[cols] & np.isfinite(f.h[cols]) & (f.depth[cols] >= HEEL_INSET_MM) & (f.v <= vq[:, None])
    clear = f.height_at(xs, vq) - _support_line(f.v, np.where(sel, f.h[cols], np.nan), vq)
    if np.isfinite(clear).sum() < 3:
        n = cols.size // 2
        return (float(xs[n]), float(vq[n])), 0.1, "middle of the midfoot (no arch surface)"
    c = np.where(np.isfinite(clear), clear, -np.inf)
    k = int(np.argmax(c))
    top = c >= (1.0 - ARCH_TOP_SHARE) * c[k]
    lab, _ = ndimage.label(top)
    run = lab == lab[k]
    w = c[run] - (1.0 - ARCH_TOP_SHARE) * c[k]
    xa = float(np.sum(xs[run] * w) / w.sum()) if c[k] > 0 and w.sum() > 0 else float(xs[k])
    conf = float(np.clip(c[k] / 6.0, 0.1, 0.9))
    how = "top of the medial quarter line's arch (its highest quarter), the capture's frontal tilt removed"
    return (xa, float(np.interp(xa, xs, vq))), conf, how


def _support_line(v: np.ndarray, h: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Per row of ``h`` (slices over ``v``; NaN = not used): height at ``at`` of the line that
    supports the row from below and touches the most points (within LOWER_FIT_TOL_MM): the
    underside's planar part, whatever its tilt (slopes up to SUPPORT_MAX_SLOPE)."""
    m = np.linspace(-SUPPORT_MAX_SLOPE, SUPPORT_MAX_SLOPE, 121)
    r = h[:, None, :] - m[None, :, None] * v[None, None, :]  # (slices, slopes, points)
    with np.errstate(invalid="ignore"):
        c = np.nanmin(np.where(np.isfinite(r), r, np.inf), axis=2)
        touch = np.sum(r - c[:, :, None] <= LOWER_FIT_TOL_MM, axis=2)
    k = np.argmax(touch, axis=1)
    n = np.arange(h.shape[0])
    base = m[k] * at + c[n, k]
    return np.where(np.isfinite(base) & (touch[n, k] >= 3), base, np.nan)


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

    ball = (f.x >= f.x0 + BALL_RANGE[0] * L) & (f.x <= f.x0 + BALL_RANGE[1] * L)
    ball_w = float(np.nanmax(np.where(ball, f.vmed - f.vlat, np.nan)))
    pts["heel_centre"], conf["heel_centre"], method["heel_centre"] = _heel_centre(f)
    toes, toes_conf = _toes_captured(f, ball_w)

    # the sulcus, where it shows
    found = _sulcus_path(f, ball_w) if toes else None
    if found is not None:
        (xm, vm), (xl, vl), s_conf, cue = found
        b = (xm - xl) / (vm - vl) if vm - vl > 1e-6 else MET_HEAD_LINE_SLOPE
        met_line = (xm - b * vm - SULCUS_FROM_MET_HEADS * L, b)
        met_how, met_conf = f"{SULCUS_FROM_MET_HEADS:g} L proximal of the sulcus ({cue})", 0.7
    else:
        x_end = f.x0 + (MPJ1_TYPICAL_FRACTION + 0.05) * L if toes else f.x1
        x5, v5 = _lateral_prominence(f, x_end)
        met_line = (x5 - MET_HEAD_LINE_SLOPE * v5, MET_HEAD_LINE_SLOPE)
        met_how = "through the lateral prominence (5th MPJ) with the typical met-head line obliquity"
        met_conf = 0.5
    heads = _met_heads(f, met_line)
    for k, p in heads.items():
        pts[k], conf[k], method[k] = p, met_conf, met_how
    if found is None:
        # estimate the sulcus from the met heads: typical offset of the (typical) full length
        full_len = L if toes else (heads["mpj_1"][0] - f.x0) / MPJ1_TYPICAL_FRACTION
        sulcus = (met_line[0] + SULCUS_FROM_MET_HEADS * full_len, met_line[1])
        pts["sulcus_medial"], pts["sulcus_lateral"] = _sulcus_ends(f, sulcus, heads, toes)
        s_how = f"estimated {SULCUS_FROM_MET_HEADS:g} of the foot length distal of the met-head line"
        s_conf = 0.4 if toes else 0.3
    else:
        pts["sulcus_medial"], pts["sulcus_lateral"] = (xm, vm), (xl, vl)
        s_how = f"{cue}: smoothest path through the crease across the forefoot"
    for k in ("sulcus_medial", "sulcus_lateral"):
        conf[k], method[k] = s_conf, s_how

    pts["arch_apex"], conf["arch_apex"], method["arch_apex"] = _arch_apex(f, pts["heel_centre"], met_line)
    if toes:
        pts["hallux_tip"], conf["hallux_tip"], method["hallux_tip"] = _hallux_tip(f, ball_w)
    else:
        pts["hallux_tip"], conf["hallux_tip"], method["hallux_tip"] = None, toes_conf, "toes not captured"

    def std(p: tuple[float, float] | None) -> tuple[float, float] | None:
        return None if p is None else (float(p[0]), float(f.ms * p[1]) + 0.0)

    return Anatomy(
        **{k: std(pts[k]) for k in LANDMARKS},
        toes_captured=toes,
        confidence={k: round(float(c), 3) for k, c in conf.items()},
        method=method,
    )
