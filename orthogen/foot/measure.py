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
  (x up to 0.78 L, ``ARCH_INDEX_TOE_CUT``) split in three equal lengths from its
  rear end; middle-third area / total area.
* ``chippaux_smirak_index``: 100 × narrowest contact-print width for x in
  [0.30 L, 0.62 L] / widest contact-print width for x in [0.55 L, 0.85 L].
* ``foot_type``: arch index <= 0.21 high arch, >= 0.26 flat, else normal.
* ``landmarks``: the foot's anatomy (:mod:`orthogen.foot.anatomy`), found on the
  plantar map; the fractions and thresholds above are named there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from orthogen.foot.anatomy import (
    ARCH_INDEX_TOE_CUT,
    ARCH_INSET_MM,
    ARCH_LINE_FRACTION,
    ARCH_RANGE,
    BALL_RANGE,
    FLAT_AI,
    HEEL_RANGE,
    HIGH_ARCH_AI,
    Anatomy,
    find_anatomy,
)
from orthogen.foot.plantar import PlantarSurface

#: |side score| above this counts as a confident side detection.
CONFIDENT_SIDE = 0.6
#: Side cue "the longest toe sits medially": the front this fraction of L of the footprint.
SIDE_TOE_BAND = 0.04


@dataclass(frozen=True)
class SideCall:
    """Detected side with a confidence in [0, 1] and the cues that voted (mm, + means right)."""

    side: str
    confidence: float
    cues: dict


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
    landmarks: Anatomy

    def as_dict(self) -> dict:
        """Measurements rounded to 0.001, ``landmarks`` as :meth:`Anatomy.as_dict`."""
        d = {k: v for k, v in asdict(self).items() if k != "landmarks"}
        d = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}
        d["landmarks"] = self.landmarks.as_dict()
        d["toes_captured"] = self.landmarks.toes_captured
        return d


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
    # toe tip: the front of the footprint, against the ball's centre line
    front = plantar.footprint & (X >= X[plantar.footprint].max() - SIDE_TOE_BAND * length)
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
    X, _ = g.mesh()
    length = plantar.length_mm
    medial_sign = -1.0 if side == "left" else 1.0
    x, ymin, ymax = _footprint_columns(plantar)
    ball_w, _ = _widest(x, ymin, ymax, length, BALL_RANGE)
    heel_w, _ = _widest(x, ymin, ymax, length, HEEL_RANGE)
    # arch height along the medial quarter line
    cols = _in_range(x, length, ARCH_RANGE) & np.isfinite(ymin)
    y_med = np.where(side == "left", ymin, ymax)
    y_line = y_med - medial_sign * ARCH_LINE_FRACTION * (ymax - ymin)
    xs, ys = x[cols], y_line[cols]
    if xs.size:
        from orthogen.foot.heightmap import sample

        hs = sample(np.nan_to_num(plantar.height, nan=0.0), g, np.column_stack([xs, ys]))
        hs = ndimage.median_filter(hs, size=3, mode="nearest")
        arch = float(np.max(hs))
    else:
        arch = 0.0
    # contact print indices
    contact = plantar.contact
    cx, cmin, cmax = _columns(plantar, contact)
    noto = contact & (X <= ARCH_INDEX_TOE_CUT * length)
    if noto.any():
        x0 = X[noto].min() - s / 2
        third = (ARCH_INDEX_TOE_CUT * length - x0) / 3
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
    return Measurements(
        foot_length_mm=round(length, 2),
        ball_width_mm=round(ball_w, 2),
        heel_width_mm=round(heel_w, 2),
        arch_height_mm=round(arch, 2),
        arch_index=round(float(ai), 4),
        chippaux_smirak_index=round(csi, 2),
        foot_type=foot_type,
        contact_area_mm2=round(float(np.count_nonzero(contact) * g.cell_area), 1),
        landmarks=find_anatomy(plantar, side),
    )
