"""The landmark searches behind :func:`orthogen.foot.anatomy.find_anatomy` (definitions and every
constant are there): heel centre, MPJ prominences, met heads and arch apex here, the toes in
:mod:`orthogen.foot.anatomy_toes`; :func:`detect` puts them together.

Pure array functions, standard frame (mm); the searches work in the medial frame of
:mod:`orthogen.foot.anatomy_map` and :func:`detect` flips the results back.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from orthogen.foot.anatomy import (
    APEX_CONTACT_MAX_MM,
    APEX_LINE_FRACTION,
    ARCH_END_MM,
    ARCH_RANGE,
    ARCH_TOP_SHARE,
    BALL_RANGE,
    BULGE_TOL_MM,
    FIFTH_PAD_INSET,
    HALLUX_PAD_INSET,
    HEEL_CENTRE_HALF_WIDTHS,
    HEEL_INSET_MM,
    HEEL_PAD_BAND_MM,
    HEEL_PAD_MAX_WIDTH,
    HEEL_PAD_MIN_DEPTH_MM,
    HEEL_RANGE,
    HEEL_RIM_PERCENTILE,
    HEEL_SEAT_FRACTION,
    HEEL_SOLE_LEVEL_MM,
    HEEL_WINDOW,
    LANDMARKS,
    MET_HEAD_1_INSET,
    MET_HEAD_5_INSET,
    MH_BAND,
    MH_LOW_MM,
    MH_LOW_SEARCH_MM,
    MH_STRIP_SEARCH_MM,
    MPJ1_TYPICAL_FRACTION,
    MPJ1_WINDOW,
    MPJ5_WINDOW,
    PLATEAU_TOL_MM,
    STRIP_BORDER_MM,
    SULCUS_LATERAL_TYPICAL,
    SULCUS_MEDIAL_TYPICAL,
    TOE_PAD_GAP_MM,
    TOES_FRONT_MAX_WIDTH,
    TOES_FRONT_PROBE,
    Anatomy,
)
from orthogen.foot.anatomy_map import FootMap, middle_of_run, prepare
from orthogen.foot.anatomy_toes import hallux_pad, hallux_tip, sulcus_path
from orthogen.foot.plantar import PlantarSurface


def _heel_centre(f: FootMap) -> tuple[tuple[float, float], float, str]:
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


def _toes_captured(f: FootMap, ball_w: float) -> tuple[bool, float]:
    """Whether the front tapers into toes (True) or ends blunt across the forefoot; confidence."""
    probe = f.x1 - TOES_FRONT_PROBE * ball_w
    i = int(np.clip(np.searchsorted(f.x, probe), 0, len(f.x) - 1))
    w = float(np.nan_to_num(f.vmed[i] - f.vlat[i], nan=0.0)) / ball_w
    margin = abs(w - TOES_FRONT_MAX_WIDTH) / 0.25
    return bool(w < TOES_FRONT_MAX_WIDTH), float(np.clip(0.5 + 0.5 * margin, 0.5, 0.95))


def _prominence(f: FootMap, medial: bool, window: tuple[float, float]) -> tuple[float, float]:
    """The middle of the most medial / lateral stretch of the outline within ``window`` (x, v)."""
    border = f.vmed if medial else -f.vlat
    sel = (f.x >= window[0]) & (f.x <= window[1]) & np.isfinite(border)
    if not sel.any():
        sel = np.isfinite(border)
    i = middle_of_run(np.where(sel, border, -np.inf), BULGE_TOL_MM)
    return float(f.x[i]), float(f.vmed[i] if medial else f.vlat[i])


def _met_head(f: FootMap, mpj: tuple[float, float], ball_w: float, medial: bool, x_max: float, tilt: float):
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


def _arch_apex(f: FootMap, contact: np.ndarray, heel: tuple[float, float], x_mh1: float):
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
            n = middle_of_run(np.where(inner, -edge, -np.inf), PLATEAU_TOL_MM)
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
def detect(plantar: PlantarSurface, side: str) -> Anatomy:
    """The searches behind :func:`orthogen.foot.anatomy.find_anatomy` (same arguments and result)."""
    f = prepare(plantar, side)
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
    crease = sulcus_path(f) if toes else None
    X, V = np.meshgrid(f.x, f.v, indexing="ij")
    ball = f.mask & np.isfinite(f.h) & (f.depth >= HEEL_INSET_MM)
    ball &= (X >= min(mpj1[0], mpj5[0]) - STRIP_BORDER_MM) & (X <= max(mpj1[0], mpj5[0]) + STRIP_BORDER_MM)
    a = np.column_stack([np.ones(ball.sum()), X[ball], V[ball]])
    tilt = float(np.linalg.lstsq(a, f.h[ball], rcond=None)[0][2]) if ball.sum() > 20 else 0.0
    for name, mpj, medial in (("met_head_1", mpj1, True), ("met_head_5", mpj5, False)):
        v_mh = mpj[1] + (-MET_HEAD_1_INSET if medial else MET_HEAD_5_INSET) * ball_w
        x_max = f.x1 if crease is None else crease.x_at(v_mh) - TOE_PAD_GAP_MM  # heads behind it
        put(name, *_met_head(f, mpj, ball_w, medial, x_max, tilt))
    pad_v = None if crease is None else hallux_pad(f, crease, ball_w)
    if toes:
        put("hallux_tip", *hallux_tip(f, ball_w, pad_v))
    else:
        put("hallux_tip", None, toes_conf, "toes not captured")
    if crease is not None:
        for name, pad, medial, inset in (
            ("sulcus_medial", pad_v, True, HALLUX_PAD_INSET),
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
            c = float(
                np.clip(0.3 + 0.6 * crease.evidence, 0.3, 0.9 if crease.cue.startswith("crease") else 0.5)
            )
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
