"""Foot side and measurements from the plantar surface (standard frame, mm).

Definitions (also in ``docs/measurements.md`` and every report). L is the foot
length; x is measured from the back of the heel.

* ``foot_length_mm``: heel back to the tip of the longest toe along the foot axis
  (x-extent of the footprint silhouette).
* ``ball_width_mm``: widest y-extent of the silhouette for x in [0.55 L, 0.85 L].
* ``heel_width_mm``: widest y-extent of the silhouette for x in [0, 0.25 L].
* ``arch_height_mm``: highest clearance of the plantar surface above the floor
  under the medial arch, taken along the *medial quarter line* (a quarter of the
  local silhouette width in from the medial edge) for x in [0.30 L, 0.62 L]; the
  foot's sloping side wall nearer the edge does not count.
* contact print: silhouette cells within 3 mm of the floor.
* ``arch_index`` (Cavanagh & Rodgers 1987): the contact print without toes
  (x up to 0.78 L, the sulcus) split in three equal lengths from its rear end;
  middle-third area / total area.
* ``chippaux_smirak_index``: 100 × narrowest contact-print width for x in
  [0.30 L, 0.62 L] / widest contact-print width for x in [0.55 L, 0.85 L].
* ``foot_type``: arch index <= 0.21 high arch, >= 0.26 flat, else normal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from orthogen.foot.plantar import PlantarSurface

HIGH_ARCH_AI = 0.21
FLAT_AI = 0.26
SULCUS_FRACTION = 0.78
BALL_RANGE = (0.55, 0.85)
HEEL_RANGE = (0.0, 0.25)
ARCH_RANGE = (0.30, 0.62)
HEEL_CENTRE_FRACTION = 0.13  # the heel seat's centre (under the calcaneal tuberosity), fraction of L
MPJ1_RANGE = (0.62, 0.80)  # the 1st met head: the most medial point of the forefoot here
MPJ5_RANGE = (0.55, 0.75)  # the 5th met head: the most lateral point of the forefoot here
ARCH_INSET_MM = 8.0
#: The arch is read this fraction of the local footprint width in from the medial edge.
ARCH_LINE_FRACTION = 0.25
#: |side score| above this counts as a confident side detection.
CONFIDENT_SIDE = 0.6


@dataclass(frozen=True)
class SideCall:
    """Detected side with a confidence in [0, 1] and the cues that voted (mm, + means right)."""

    side: str
    confidence: float
    cues: dict


@dataclass(frozen=True)
class Landmarks:
    """Points of the footprint used to fit templates, standard frame (mm)."""

    heel_centre: tuple[float, float]
    mpj1: tuple[float, float]  # medial ball (1st met head region)
    mpj5: tuple[float, float]  # lateral ball (5th met head region)
    toe_tip: tuple[float, float]
    arch_peak: tuple[float, float]


@dataclass(frozen=True)
class Measurements:
    foot_length_mm: float
    ball_width_mm: float
    heel_width_mm: float
    arch_height_mm: float
    arch_index: float
    chippaux_smirak_index: float
    foot_type: str
    contact_area_mm2: float
    landmarks: Landmarks

    def as_dict(self) -> dict:
        d = asdict(self)
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}


def _footprint_columns(plantar: PlantarSurface):
    """Per x column: x, min y, max y of the footprint from the scan's own points (sub-cell exact),
    falling back to the cell mask where a column has no points."""
    x, ymin, ymax = _columns(plantar, plantar.footprint)
    e = plantar.edge_y
    ok = np.isfinite(e).all(axis=1) & np.isfinite(ymin)
    ymin = np.where(ok, e[:, 0], ymin)
    ymax = np.where(ok, e[:, 1], ymax)
    return x, ymin, ymax


def _columns(plantar: PlantarSurface, mask: np.ndarray):
    """Per x column: x (nx,), min y, max y of ``mask`` (NaN where empty)."""
    x, y = plantar.grid.axes()
    any_ = mask.any(axis=1)
    jmin = np.argmax(mask, axis=1)
    jmax = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    s = plantar.grid.spacing
    ymin = np.where(any_, y[jmin] - s / 2, np.nan)
    ymax = np.where(any_, y[jmax] + s / 2, np.nan)
    return x, ymin, ymax


def _in_range(x: np.ndarray, length: float, rng: tuple[float, float]) -> np.ndarray:
    return (x >= rng[0] * length) & (x <= rng[1] * length)


def _widest(x, ymin, ymax, length, rng) -> tuple[float, int]:
    w = np.where(_in_range(x, length, rng), ymax - ymin, np.nan)
    if np.all(np.isnan(w)):
        return 0.0, 0
    i = int(np.nanargmax(w))
    return float(w[i]), i


def _middle_of_extreme(values: np.ndarray, tol: float = 0.5) -> int:
    """Index of the middle of the run of values within ``tol`` of the maximum (a straight border's middle)."""
    top = np.flatnonzero(values >= np.max(values) - tol)
    return int(top[len(top) // 2])


def detect_side(plantar: PlantarSurface) -> SideCall:
    """Left or right from the footprint's geometry.

    Three cues, each signed so that + means "medial is +y" (a right foot):
    the medial arch is the raised side of the midfoot; the contact band of the
    midfoot lies laterally; the longest toe sits medially of the forefoot's
    middle. Each is scaled by a typical magnitude and summed; the confidence is
    tanh of the sum's size.
    """
    g = plantar.grid
    length = plantar.length_mm
    X, Y = g.mesh()
    x, ymin, ymax = _footprint_columns(plantar)
    yc = ((ymin + ymax) / 2)[:, None] * np.ones_like(Y)
    inset = ndimage.distance_transform_edt(plantar.footprint) * g.spacing >= ARCH_INSET_MM
    mid = _in_range(X, length, ARCH_RANGE) & inset
    h = plantar.height
    plus, minus = mid & (Y > yc), mid & (Y < yc)
    arch = float(np.nanmean(h[plus]) - np.nanmean(h[minus])) if plus.any() and minus.any() else 0.0
    cmid = plantar.contact & _in_range(X, length, ARCH_RANGE)
    contact = -float(np.mean((Y - yc)[cmid])) if cmid.any() else 0.0
    # toe tip: the front 4 % of the footprint, against the ball's centre line
    front = plantar.footprint & (X >= X[plantar.footprint].max() - 0.04 * length)
    _, ib = _widest(x, ymin, ymax, length, BALL_RANGE)
    ball_c = (ymin[ib] + ymax[ib]) / 2
    toe = float(np.mean(Y[front]) - ball_c) if front.any() else 0.0
    cues = {"arch_mm": round(arch, 2), "contact_mm": round(contact, 2), "toe_mm": round(toe, 2)}
    score = arch / 2.0 + contact / 6.0 + toe / 8.0
    side = "right" if score > 0 else "left"
    return SideCall(side, round(float(np.tanh(abs(score))), 3), cues)


def measure(plantar: PlantarSurface, side: str) -> Measurements:
    """All foot measurements of a plantar surface whose medial side is given by ``side``."""
    g = plantar.grid
    s = g.spacing
    X, Y = g.mesh()
    length = plantar.length_mm
    medial_sign = -1.0 if side == "left" else 1.0
    x, ymin, ymax = _footprint_columns(plantar)
    ball_w, _ = _widest(x, ymin, ymax, length, BALL_RANGE)
    heel_w, ih = _widest(x, ymin, ymax, length, HEEL_RANGE)
    # arch height along the medial quarter line
    cols = _in_range(x, length, ARCH_RANGE) & np.isfinite(ymin)
    y_med = np.where(side == "left", ymin, ymax)
    y_line = y_med - medial_sign * ARCH_LINE_FRACTION * (ymax - ymin)
    xs, ys = x[cols], y_line[cols]
    if xs.size:
        from orthogen.foot.heightmap import sample

        hs = sample(np.nan_to_num(plantar.height, nan=0.0), g, np.column_stack([xs, ys]))
        hs = ndimage.median_filter(hs, size=3, mode="nearest")
        k = int(np.argmax(hs))
        arch, arch_peak = float(hs[k]), (float(xs[k]), float(ys[k]))
    else:
        arch, arch_peak = 0.0, (0.4 * length, 0.0)
    # contact print indices
    contact = plantar.contact
    cx, cmin, cmax = _columns(plantar, contact)
    noto = contact & (X <= SULCUS_FRACTION * length)
    if noto.any():
        x0 = X[noto].min() - s / 2
        third = (SULCUS_FRACTION * length - x0) / 3
        mid_area = np.count_nonzero(noto & (X >= x0 + third) & (X < x0 + 2 * third))
        ai = mid_area / np.count_nonzero(noto)
    else:
        ai = float("nan")
    cw = cmax - cmin
    mid_w = np.where(_in_range(cx, length, ARCH_RANGE), np.nan_to_num(cw, nan=0.0), np.nan)
    fore_w = np.where(_in_range(cx, length, BALL_RANGE), cw, np.nan)
    csi = (
        100 * float(np.nanmin(mid_w)) / float(np.nanmax(fore_w))
        if np.any(np.isfinite(fore_w)) and np.any(np.isfinite(mid_w))
        else float("nan")
    )
    foot_type = "high" if ai <= HIGH_ARCH_AI else "flat" if ai >= FLAT_AI else "normal"
    # landmarks
    lo_med = ymin if side == "left" else ymax
    lo_lat = ymax if side == "left" else ymin
    ok = np.isfinite(ymin)
    med_vals = np.where(_in_range(x, length, MPJ1_RANGE) & ok, medial_sign * lo_med, -np.inf)
    lat_vals = np.where(_in_range(x, length, MPJ5_RANGE) & ok, -medial_sign * lo_lat, -np.inf)
    i1, i5 = _middle_of_extreme(med_vals), _middle_of_extreme(lat_vals)
    front = plantar.footprint & (X >= X[plantar.footprint].max() - 0.02 * length)
    toe_tip = (float(X[plantar.footprint].max() + s / 2), float(np.mean(Y[front])))
    ic = int(np.argmin(np.abs(x - HEEL_CENTRE_FRACTION * length)))
    if not np.isfinite(ymin[ic]):
        ic = ih
    lm = Landmarks(
        heel_centre=(float(x[ic]), float((ymin[ic] + ymax[ic]) / 2)),
        mpj1=(float(x[i1]), float(lo_med[i1])),
        mpj5=(float(x[i5]), float(lo_lat[i5])),
        toe_tip=toe_tip,
        arch_peak=arch_peak,
    )
    return Measurements(
        foot_length_mm=round(length, 2),
        ball_width_mm=round(ball_w, 2),
        heel_width_mm=round(heel_w, 2),
        arch_height_mm=round(arch, 2),
        arch_index=round(float(ai), 4),
        chippaux_smirak_index=round(csi, 2),
        foot_type=foot_type,
        contact_area_mm2=round(float(np.count_nonzero(contact) * g.cell_area), 1),
        landmarks=lm,
    )
