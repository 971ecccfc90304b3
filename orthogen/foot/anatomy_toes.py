"""The toes of a plantar map: the toe sulcus, the hallux pad and the hallux tip.

The sulcus is the smoothest path across the forefoot through the crease that stands above both the
ball and the toe pads (or, for raised toes, the knee where they leave the ball); the hallux pad is
found across the toes just distal of it. Definitions and constants: :mod:`orthogen.foot.anatomy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from orthogen.foot.anatomy import (
    END_FIT_MM,
    HALLUX_CLEFT_SEARCH,
    HALLUX_HALF_WIDTH,
    HALLUX_MAX_WIDTH,
    HALLUX_MIN_WIDTH,
    HALLUX_PAD_SEARCH,
    PLATEAU_TOL_MM,
    RAISED_TOES_MM,
    STRIP_BORDER_MM,
    STRIP_MM,
    SULCUS_BEND_COST,
    SULCUS_LINE_SLOPE,
    SULCUS_MIN_EVIDENCE,
    SULCUS_MIN_RIDGE_MM,
    SULCUS_REACH_MM,
    SULCUS_START,
    TOE_BAND_MM,
    TOE_NOTCH_MM,
    TOE_PAD_BAND_MM,
    TOE_PAD_MIN_DEPTH_MM,
    TOE_PAD_PROMINENCE_MM,
)
from orthogen.foot.anatomy_map import FootMap, depth_at, middle_of_run
from orthogen.foot.peaks import find_peaks


def _strips(f: FootMap, x: float) -> np.ndarray:
    """Medial-frame v of the strips across the forefoot at x (inside the borders)."""
    lo = f.border_at(x, False) + STRIP_BORDER_MM
    hi = f.border_at(x, True) - STRIP_BORDER_MM
    return np.arange(lo, hi + 1e-9, STRIP_MM)


def _sulcus_scores(f: FootMap) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Crease evidence per forefoot cell: x (nx,), strips v (nv,), score (nx, nv) >= 0, the cue.

    The score is how far a point stands above the lowest ball behind it and the lowest toe pad
    ahead of it (both within SULCUS_REACH_MM); where no strip shows such a crease but the toes
    stand RAISED_TOES_MM above the ball, it is the upward bend where the profile leaves the ball.
    """
    L = f.length
    dx = SULCUS_LINE_SLOPE * STRIP_MM  # one step of the typical obliquity per strip
    xs = np.arange(f.x0 + SULCUS_START * L, f.x1, dx)
    vs = _strips(f, f.x0 + 0.7 * L)
    empty = np.empty(0), np.empty(0), np.zeros((0, 0)), "none"
    if xs.size < 10 or vs.size < 5:
        return empty
    XX, VV = np.meshgrid(xs, vs, indexing="ij")
    prof = np.where(depth_at(f, XX, VV) >= STRIP_BORDER_MM / 2, f.height_at(XX, VV), np.nan)
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
class Crease:
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


def sulcus_path(f: FootMap) -> Crease | None:
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
    return Crease(vs, px, f.height_at(px, vs), cue, evidence)


def hallux_pad(f: FootMap, crease: Crease, ball_w: float) -> float | None:
    """Centre line (v) of the hallux pad, None where it does not show.

    Across the toes (each row's median height TOE_BAND_MM distal of the crease, the forefoot's
    frontal tilt taken out with the crease's trend) toe pads are lows and clefts highs: the hallux
    pad's centre lies midway between the medial border and the first cleft, or without a visible
    cleft on the most medial pad low. (The 5th toe's pad is small and close to the crease: its
    centre line is taken FIFTH_PAD_INSET of the ball width inside the lateral border.)
    """
    vs = f.v[(f.v > crease.v[0] - STRIP_BORDER_MM) & (f.v < crease.v[-1] + STRIP_BORDER_MM)]
    if vs.size < 10:
        return None
    cx = np.array([crease.x_at(v) for v in vs])
    d = np.arange(TOE_BAND_MM[0], TOE_BAND_MM[1] + 1e-9, f.s)
    XX, VV = cx[:, None] + d[None, :], vs[:, None] * np.ones_like(d)[None, :]
    band = np.where(depth_at(f, XX, VV) >= STRIP_BORDER_MM / 2, f.height_at(XX, VV), np.nan)
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
    idx = find_peaks(-low, TOE_PAD_PROMINENCE_MM)
    idx = idx[(crest[idx] - prof[idx] >= TOE_PAD_MIN_DEPTH_MM)]
    high = np.where(np.isfinite(prof), prof, np.nanmin(prof) - 10.0)
    clefts = find_peaks(high, TOE_PAD_PROMINENCE_MM)
    vmed = f.border_at(crease.x_at(crease.v[-1]) + np.mean(TOE_BAND_MM), True)
    # each pad: the middle of the run within TOE_PAD_BAND_MM of its low (a flat or tilted pad)
    pads = np.array(
        [vs[middle_of_run(np.where(np.isfinite(prof), -prof, -np.inf), TOE_PAD_BAND_MM, k)] for k in idx]
    )
    inward = vmed - vs[clefts]
    c = clefts[(inward >= HALLUX_CLEFT_SEARCH[0] * ball_w) & (inward <= HALLUX_CLEFT_SEARCH[1] * ball_w)]
    p = pads[vmed - pads <= HALLUX_PAD_SEARCH * ball_w]
    if c.size and p.size:  # between the border and the first cleft in from it
        return 0.5 * (vmed + float(vs[c.max()]))
    return float(p.max()) if p.size else None


def hallux_tip(f: FootMap, ball_w: float, pad_v: float | None) -> tuple[tuple[float, float], float, str]:
    """Most distal point of the big toe (x, v), confidence, method.

    The front of the footprint around the hallux pad where the pad shows; else medial of the first
    notch of the front (the cleft between hallux and 2nd toe seen in the outline); else, toes merged
    into one blob, the front's most distal point.
    """
    X = f.x[:, None] * np.ones_like(f.mask, dtype=float)
    front = np.where(f.mask, X, -np.inf).max(axis=0) + f.s / 2  # (nv,) the footprint's front
    vmed = float(np.nanmax(f.vmed))
    if pad_v is not None:
        seg = np.abs(f.v - pad_v) <= HALLUX_HALF_WIDTH * ball_w
        how, conf = "front of the footprint around the hallux pad", 0.8
    else:
        fin = np.isfinite(front)
        notches = find_peaks(-np.where(fin, front, np.nanmin(front[fin])), TOE_NOTCH_MM)
        notches = notches[(f.v[notches] <= vmed - HALLUX_MIN_WIDTH * ball_w)]
        notches = notches[f.v[notches] >= vmed - HALLUX_MAX_WIDTH * ball_w]
        if notches.size:
            seg = f.v > f.v[notches.max()]
            how, conf = "front of the footprint medial of the first toe notch", 0.7
        else:
            seg = np.ones(f.v.size, bool)
            how, conf = "most distal point of the front (toes merged)", 0.5
    i = middle_of_run(np.where(seg & np.isfinite(front), front, -np.inf), PLATEAU_TOL_MM)
    return (float(front[i]), float(f.v[i])), conf, how
