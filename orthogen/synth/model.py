"""Realistic parametric foot scans with exact ground truth.

The model is analytic and lives in the *standard frame* (millimetres, z up, floor at
z = 0, x from the back of the heel toward the toes, y to the left of the walking
direction; a left foot's medial side is -y, a right foot is the exact mirror y -> -y).
Everything a test needs to know (lengths, widths, arch height, arch index,
Chippaux-Smirak index, the placement transform) is computed from the model itself,
never by measuring a mesh and never with other ``orthogen`` modules.

Model summary (left foot, W = ball width; lengths scale with ``length_mm`` = L):

* Outline (footprint silhouette, seen from below): a half-ellipse heel, widest
  (``heel_width_mm``, centred on y = 0) at 0.16 L with straight parallel sides to
  0.25 L; the medial border slightly concave at the arch, then exactly straight at
  y = -0.48 W from 0.62 L to the 1st metatarsal head at 0.72 L; the lateral border
  flat, then convex out to the 5th metatarsal head at (0.63 L, +0.52 W); a hallux cap
  and a toe line (cubic Bezier from the 5th toe at 0.78 L) meeting at the toe tip
  (L, -0.21 W), 27 % of W from the medial border.  Both widest ball points lie in the
  slice x = 0.63 L and both widest heel points in x = 0.16 L, so the slice-wise and
  band-wise width definitions agree exactly.  ``toes=False`` ends the outline at
  0.80 L with a blunt front.
* Plantar height ``h(x, y) >= 0``: heel pad and ball flat on the floor; a lateral
  midfoot contact band whose width shrinks as the arch rises; the medial longitudinal
  arch, an elliptical dome centred on the medial border at 0.45 L, spanning 0.17 L to
  0.68 L, with a flat top of exactly ``arch_height_mm`` (>= 24 mm long 8-10.5 mm
  inside the medial border); a lifted toe sulcus, toe pads on the floor with clefts
  between the toes, toe tips curling up; a gently rising posterior heel; and within
  6 mm of the outline a rounded edge of radius 6 mm (vertical at the silhouette, where
  ``h`` = interior height + 6 mm).  Pieces are C1 (smootherstep / cos^2 blends).
* Full foot: the sole and a dorsal height field over the same silhouette, glued at
  the outline (the side wall is vertical there and rounds over into the dorsum); the
  dorsum rises from ~15-25 mm at the toes to ~75 mm at the instep; a leg stub over the
  rear foot is cut flat at 105 mm (all foot heights scale with L / 260 mm).

Run ``python -m orthogen.synth OUTDIR`` to regenerate the shipped sample scans.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import trimesh
from numpy.typing import ArrayLike
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator
from scipy.ndimage import maximum_filter1d, minimum_filter1d
from scipy.spatial import Delaunay, cKDTree
from shapely import Polygon, contains_xy

__all__ = [
    "SAMPLES",
    "FootSpec",
    "FootSurfaces",
    "foot_surfaces",
    "main",
    "synth_scan",
    "write_sample_scans",
]

# ----------------------------------------------------------------------------- constants
REF_LENGTH_MM = 260.0
DEFAULT_BALL_WIDTH_MM = 100.0  # at REF_LENGTH_MM
DEFAULT_HEEL_WIDTH_MM = 66.0  # at REF_LENGTH_MM
DEFAULT_ARCH_HEIGHT_MM = 12.0  # at REF_LENGTH_MM
EDGE_RADIUS_MM = 6.0  # rounded sole edge (absolute, not scaled)
CONTACT_THRESHOLD_MM = 3.0  # contact print: h <= this
ARCH_INSET_MM = 8.0  # arch truth region: at least this far inside the outline
SHELL_CROP_MM = 35.0  # plantar shell cropped flat at this height (absolute)
RIM_HEIGHT_MM = 35.0  # foam top of an impression above the sole's lowest point (absolute)
IMPRESSION_MARGIN_MM = 15.0  # grid rectangle = outline bounds grown by this on every side
IMPRESSION_STEP_MM = 1.0  # grid step of an impression
LEG_CUT_MM = 105.0  # leg stub cut height at REF_LENGTH_MM (scales with L)
TOELESS_LENGTH = 0.80  # toes=False: scanned length as a fraction of L
TRUTH_GRID_MM = 0.25  # cell size for arch / contact-print truth
UNITS_PER_MM = {"mm": 1.0, "cm": 0.1, "m": 0.001}
KINDS = ("full_foot", "plantar_shell", "impression")

# outline layout, fractions of L (x) or of the ball width W (y)
_HEEL_WIDEST_X = 0.16
_HEEL_FLAT_END_X = 0.25
_MEDIAL_CONCAVE_X = 0.30
_BALL_FLAT_START_X = 0.62
_MTP1_X = 0.72
_MTP5_X = 0.63
_STYLOID_X = 0.45
_BALL_MEDIAL_FRAC = 0.48  # medial ball border at y = -0.48 W; lateral at +0.52 W
_TIP_FROM_MEDIAL = 0.27  # toe tip 27 % of W from the medial border
_HALLUX_INSET = 0.03  # hallux medial edge this much (x W) inside the 1st MTP
_HALLUX_CAP_LEN = 0.10  # x L
_MEDIAL_CAP_EXP = 2.4
_FIFTH_TOE_X = 0.78  # lateral border leaves the 5th toe here (x L) ...
_FIFTH_TOE_INSET = 0.07  # ... this much (x W) inside the 5th MTP
_TOELESS_CAP_LEN = 0.04  # x L
_TOELESS_CAP_EXP = 4.0
_CLEFTS = (0.33, 0.50, 0.645, 0.78)  # toe clefts, fraction of W from the medial border
# anatomy truth: the hand-marking rules of tests/fixtures/README.md applied to the model (restated
# here: the model imports nothing from orthogen)
_SULCUS_FROM_MTP = 0.10  # the toe sulcus crest lies this far (x L) distal of the MTP line
_MH1_INSET = 0.18  # 1st met head's plantar centre: this much (x W) inside the medial ball border
_MH5_INSET = 0.14  # 5th met head's plantar centre: this much (x W) inside the lateral ball border
_HALLUX_PAD_Y = (0.03 + _CLEFTS[0]) / 2  # hallux pad centre line: between its medial edge and cleft 1
_FIFTH_PAD_Y = (_CLEFTS[-1] + 1.0 - _FIFTH_TOE_INSET) / 2  # 5th toe pad: between cleft 4 and its edge
_APEX_LINE_FRACTION = 0.20  # arch apex line: this share of the local width in from the medial border
_ARCH_TOP_SHARE = 0.25  # arch apex: centroid of the top quarter of the dome along that line
_TWIST_START_X = 0.25  # frontal tilt: the rearfoot angle holds up to here (x L) ...
_TWIST_END_X = 0.60  # ... and the forefoot angle from here on (x L), just behind the ball

# mesh sampling (mm)
_BOUNDARY_STEP = 1.2
_RING_OFFSETS = (0.08, 0.3, 0.7, 1.2, 1.9, 2.8, 3.9, 5.2, 6.6)
_INTERIOR_STEP = 1.9
_DENSE_STEP = 0.1


# ----------------------------------------------------------------------------- spec
@dataclass(frozen=True)
class FootSpec:
    """Parameters of a synthetic foot.

    Attributes
    ----------
    length_mm : float
        Heel back to the tip of the longest toe, mm (100-400).
    ball_width_mm : float or None
        Widest forefoot width, mm. ``None`` (default) scales the reference foot:
        ``length_mm * 100 / 260`` (100.0 mm at the default length).
    heel_width_mm : float or None
        Widest heel width, mm. ``None`` (default) gives ``length_mm * 66 / 260``.
    arch_height_mm : float or None
        Height of the medial arch plateau above the floor, mm (0-28); see
        :func:`synth_scan` for the definition the truth uses. ``None`` (default) gives
        ``length_mm * 12 / 260`` (12.0 mm at the default length: a normal arch).
    side : {"left", "right"}
        A right foot is the exact mirror (y -> -y) of the left one.
    toes : bool
        ``False`` ends the foot at 0.80 L with a blunt front (no toes captured).
    heel_tilt_deg : float
        Frontal-plane tilt of the whole capture's rearfoot, degrees (-20 to 20); + = heel
        inverted (varus, medial side up), as a tilted foam box or an everted heel (-) gives.
        The heel seat's frontal angle against the floor is exactly this.
    forefoot_varus_deg : float
        Forefoot twisted against the rearfoot about the long axis, degrees (-15 to 15);
        + = forefoot varus (medial forefoot raised), - = valgus. The forefoot's frontal
        angle against the floor is ``heel_tilt_deg + forefoot_varus_deg``.
    toe_raise_mm : float
        Toe spring of a non-weight-bearing capture: the toes turn up about the MTP line
        and their tips stand this far off the floor, mm (0-25). Ignored without toes.
    """

    length_mm: float = REF_LENGTH_MM
    ball_width_mm: float | None = None
    heel_width_mm: float | None = None
    arch_height_mm: float | None = None
    side: str = "left"
    toes: bool = True
    heel_tilt_deg: float = 0.0
    forefoot_varus_deg: float = 0.0
    toe_raise_mm: float = 0.0

    def __post_init__(self) -> None:
        length = float(self.length_mm)
        if not math.isfinite(length) or not 100.0 <= length <= 400.0:
            raise ValueError(f"length_mm must be within 100-400 mm, got {self.length_mm}")
        ball = (
            length * DEFAULT_BALL_WIDTH_MM / REF_LENGTH_MM
            if self.ball_width_mm is None
            else float(self.ball_width_mm)
        )
        heel = (
            length * DEFAULT_HEEL_WIDTH_MM / REF_LENGTH_MM
            if self.heel_width_mm is None
            else float(self.heel_width_mm)
        )
        arch = (
            length * DEFAULT_ARCH_HEIGHT_MM / REF_LENGTH_MM
            if self.arch_height_mm is None
            else float(self.arch_height_mm)
        )
        if not 0.28 <= ball / length <= 0.50:
            raise ValueError(f"ball_width_mm must be 0.28-0.50 of length_mm, got {ball:g} for {length:g}")
        if not 0.50 <= heel / ball <= 0.85:
            raise ValueError(f"heel_width_mm must be 0.50-0.85 of ball_width_mm, got {heel:g} for {ball:g}")
        if not math.isfinite(arch) or not 0.0 <= arch <= 28.0:
            raise ValueError(f"arch_height_mm must be within 0-28 mm, got {self.arch_height_mm}")
        if self.side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {self.side!r}")
        object.__setattr__(self, "length_mm", length)
        object.__setattr__(self, "ball_width_mm", ball)
        object.__setattr__(self, "heel_width_mm", heel)
        object.__setattr__(self, "arch_height_mm", arch)
        object.__setattr__(self, "toes", bool(self.toes))
        for name, lim in (("heel_tilt_deg", 20.0), ("forefoot_varus_deg", 15.0), ("toe_raise_mm", 25.0)):
            val = float(getattr(self, name))
            low = 0.0 if name == "toe_raise_mm" else -lim
            if not math.isfinite(val) or not low <= val <= lim:
                raise ValueError(f"{name} must be within {low:g} to {lim:g}, got {getattr(self, name)}")
            object.__setattr__(self, name, val)


# ----------------------------------------------------------------------------- helpers
def _smooth(t: np.ndarray | float) -> np.ndarray:
    """C2 smootherstep on [0, 1], clamped outside (0 -> 0, 1 -> 1 exactly)."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0)


def _bump(t: np.ndarray) -> np.ndarray:
    """C1 bump ``cos^2(pi t / 2)`` for ``|t| < 1``, else 0 (peak 1 at t = 0)."""
    t = np.abs(t)
    return np.where(t < 1.0, np.cos(0.5 * np.pi * np.minimum(t, 1.0)) ** 2, 0.0)


def _smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth maximum (log-sum-exp) with softness ``k`` (mm)."""
    m = np.maximum(a, b)
    return m + k * np.log(np.exp((a - m) / k) + np.exp((b - m) / k))


def _hermite(xk: list[float], yk: list[float]) -> CubicHermiteSpline:
    """Shape-preserving C1 cubic through knots, slope 0 at both ends (no overshoot)."""
    xk_a = np.asarray(xk, dtype=float)
    yk_a = np.asarray(yk, dtype=float)
    slopes = PchipInterpolator(xk_a, yk_a).derivative()(xk_a)
    slopes[0] = slopes[-1] = 0.0
    # PCHIP keeps exact zeros at extrema and flats; force them against round-off
    dy = np.diff(yk_a)
    for i in range(1, len(xk_a) - 1):
        if dy[i - 1] * dy[i] <= 0.0:
            slopes[i] = 0.0
    return CubicHermiteSpline(xk_a, yk_a, slopes)


class _Piece:
    """One analytic piece of the outline, ``f(t) -> (x, y)`` for t in [0, 1]."""

    def __init__(self, f: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> None:
        self.f = f
        t = np.linspace(0.0, 1.0, 4001)
        x, y = f(t)
        self._t = t
        self._s = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
        self.length = float(self._s[-1])

    def sample(self, step: float) -> np.ndarray:
        """Points at ~``step`` arc-length spacing, both end points exact."""
        n = max(2, math.ceil(self.length / step) + 1)
        t = np.interp(np.linspace(0.0, self.length, n), self._s, self._t)
        t[0], t[-1] = 0.0, 1.0
        x, y = self.f(t)
        return np.column_stack([x, y])


def _spline_piece(spl: CubicHermiteSpline, x0: float, x1: float) -> _Piece:
    return _Piece(lambda t: (x0 + t * (x1 - x0), spl(x0 + t * (x1 - x0))))


def _line_piece(p0: tuple[float, float], p1: tuple[float, float]) -> _Piece:
    return _Piece(lambda t: (p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])))


def _cap_piece(xc: float, yc: float, ax: float, by: float, n: float, sign: float) -> _Piece:
    """Quarter superellipse from ``(xc, yc + sign*by)`` (tangent along x) to
    ``(xc + ax, yc)`` (tangent along y)."""

    def f(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        phi = (1.0 - t) * 0.5 * np.pi
        c = np.clip(np.cos(phi), 0.0, 1.0) ** (2.0 / n)
        s = np.clip(np.sin(phi), 0.0, 1.0) ** (2.0 / n)
        return xc + ax * c, yc + sign * by * s

    return _Piece(f)


def _bezier_piece(*ctrl: tuple[float, float]) -> _Piece:
    """Cubic Bezier through four control points; sampled from the LAST toward the
    first, so that pieces chain in order of increasing x."""
    p = np.array(ctrl[::-1], dtype=float)

    def f(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = 1.0 - t
        w = np.stack([u**3, 3 * u * u * t, 3 * u * t * t, t**3], axis=1)
        q = w @ p
        return q[:, 0], q[:, 1]

    return _Piece(f)


def _heel_piece(a: float, b: float, sign: float) -> _Piece:
    """Quarter ellipse from the heel back ``(0, 0)`` to ``(a, sign*b)``."""
    return _Piece(lambda t: (a * (1.0 - np.cos(0.5 * np.pi * t)), sign * b * np.sin(0.5 * np.pi * t)))


def _chain(pieces: list[_Piece], step: float) -> np.ndarray:
    pts = [pieces[0].sample(step)]
    for p in pieces[1:]:
        pts.append(p.sample(step)[1:])
    return np.concatenate(pts)


# ----------------------------------------------------------------------------- left model
class _LeftModel:
    """The analytic foot for a LEFT foot (medial = -y). All lengths mm."""

    def __init__(self, spec: FootSpec) -> None:
        L = spec.length_mm
        W = float(spec.ball_width_mm)
        Wh = float(spec.heel_width_mm)
        H = spec.arch_height_mm
        self.spec, self.L, self.W, self.Wh, self.H = spec, L, W, Wh, H
        self.s = L / REF_LENGTH_MM  # vertical / feature scale
        self.toes = spec.toes

        a, b = _HEEL_WIDEST_X * L, 0.5 * Wh
        bm, bl = _BALL_MEDIAL_FRAC * W, (1.0 - _BALL_MEDIAL_FRAC) * W
        self.bm, self.bl = bm, bl
        c1 = 0.012 * W  # medial concavity at the arch
        x_flat0, x_mtp1, x_mtp5 = _BALL_FLAT_START_X * L, _MTP1_X * L, _MTP5_X * L
        med_knots_x = [a, _MEDIAL_CONCAVE_X * L, x_flat0]
        med_knots_y = [-b, -b + c1, -bm]
        lat_knots_x = [a, _HEEL_FLAT_END_X * L, _STYLOID_X * L, x_mtp5]
        lat_knots_y = [b, b, b + 0.55 * (bl - b), bl]

        if spec.toes:
            self.x_end = L
            y_tip = -bm + _TIP_FROM_MEDIAL * W
            am = _HALLUX_CAP_LEN * L
            y_hal = -bm + _HALLUX_INSET * W
            med_front = _hermite([x_mtp1, L - am], [-bm, y_hal])
            med_cap = _cap_piece(L - am, y_tip, am, y_tip - y_hal, _MEDIAL_CAP_EXP, -1.0)
            x5, y5 = _FIFTH_TOE_X * L, bl - _FIFTH_TOE_INSET * W
            lat_front = _hermite([x_mtp5, x5], [bl, y5])
            # toe line: cubic Bezier from the 5th toe (tangent +x) to the tip (tangent -y);
            # x rises and y falls monotonically along it, so the tip is the max x
            lat_cap = _bezier_piece(
                (L, y_tip),
                (L, y_tip + 0.35 * (y5 - y_tip)),
                (x5 + 0.3 * (L - x5), y5),
                (x5, y5),
            )
            med_pieces_front = [_spline_piece(med_front, x_mtp1, L - am), med_cap]
            lat_pieces_front = [_spline_piece(lat_front, x_mtp5, x5), lat_cap]
            front_pieces = (med_cap, lat_cap)
            self.tip = (L, y_tip)
        else:
            xe = TOELESS_LENGTH * L
            self.x_end = xe
            ac = _TOELESS_CAP_LEN * L
            y_m, y_l = -bm + 0.01 * W, bl - 0.04 * W
            y_f = 0.5 * (y_m + y_l)
            med_front = _hermite([x_mtp1, xe - ac], [-bm, y_m])
            med_cap = _cap_piece(xe - ac, y_f, ac, y_f - y_m, _TOELESS_CAP_EXP, -1.0)
            lat_knots_x.append(xe - ac)
            lat_knots_y.append(y_l)
            lat_cap = _cap_piece(xe - ac, y_f, ac, y_l - y_f, _TOELESS_CAP_EXP, 1.0)
            med_pieces_front = [_spline_piece(med_front, x_mtp1, xe - ac), med_cap]
            lat_pieces_front = [lat_cap]
            front_pieces = (med_cap, lat_cap)
            self.tip = (xe, y_f)

        med_spl = _hermite(med_knots_x, med_knots_y)
        lat_spl = _hermite(lat_knots_x, lat_knots_y)
        med_pieces = [_heel_piece(a, b, -1.0)]
        med_pieces += [_spline_piece(med_spl, x0, x1) for x0, x1 in itertools.pairwise(med_knots_x)]
        med_pieces.append(_line_piece((x_flat0, -bm), (x_mtp1, -bm)))
        med_pieces += med_pieces_front
        lat_pieces = [_heel_piece(a, b, 1.0)]
        lat_pieces += [_spline_piece(lat_spl, x0, x1) for x0, x1 in itertools.pairwise(lat_knots_x)]
        lat_pieces += lat_pieces_front

        # dense chains (analytic reference) and coarse chains (mesh boundary)
        self.med = _chain(med_pieces, _DENSE_STEP)
        self.lat = _chain(lat_pieces, _DENSE_STEP)
        self.outline = np.concatenate([self.med, self.lat[-2:0:-1]])  # CCW
        med_c = _chain(med_pieces, _BOUNDARY_STEP)
        lat_c = _chain(lat_pieces, _BOUNDARY_STEP)
        self.boundary = np.concatenate([med_c, lat_c[-2:0:-1]])  # CCW, mesh silhouette
        self._tree = cKDTree(self.outline)
        # toe line x_front(y) for the toe-tip lift: the two front caps (y is monotone
        # along each; beyond them np.interp clamps)
        front = np.concatenate([front_pieces[0].sample(_DENSE_STEP), front_pieces[1].sample(_DENSE_STEP)])
        order = np.argsort(front[:, 1], kind="stable")
        self.front_y, self.front_x = front[order, 1], front[order, 0]

        self.landmarks = {
            "heel_back": (0.0, 0.0),
            "heel_center": (a, 0.0),
            "heel_medial": (a, -b),
            "heel_lateral": (a, b),
            "mtp1_medial": (x_mtp1, -bm),
            "mtp5_lateral": (x_mtp5, bl),
            "toe_tip" if spec.toes else "front_tip": self.tip,
        }
        # arch layout: dome from 0.17 L to 0.68 L centred at 0.45 L; its flat top must
        # hold the band 8-10.5 mm inside the medial border over >= 2 x 12 mm in x
        self.xa = (0.17 * L, 0.45 * L, 0.68 * L)
        self.band_frac = _band_fraction(H * REF_LENGTH_MM / L)
        lo_c, hi_c = self.extent(np.array([self.xa[1]]))
        sy_c = float(hi_c[0] - lo_c[0]) * (1.0 - self.band_frac)
        sx_min = min(self.xa[1] - self.xa[0], self.xa[2] - self.xa[1])
        self.rho0 = float(np.clip(max(0.35, math.hypot(10.5 / sy_c, 12.0 / sx_min)), 0.35, 0.9))
        # dorsum / leg layout
        self._dors = PchipInterpolator(
            np.array([0.0, 0.12, 0.30, 0.42, 0.55, 0.66, 0.74, 0.82, 0.92, 1.0]) * L,
            np.array([50.0, 58.0, 76.0, 72.0, 58.0, 44.0, 34.0, 25.0, 20.0, 15.0]) * self.s,
            extrapolate=True,
        )
        self._round = PchipInterpolator(
            np.array([0.0, 0.12, 0.30, 0.45, 0.65, 0.80, 1.0]) * L,
            np.maximum(np.array([9.0, 10.0, 14.0, 22.0, 20.0, 12.0, 8.0]) * self.s, 3.0),
            extrapolate=True,
        )
        self.leg_height = LEG_CUT_MM * self.s
        self.leg = (0.19 * L, -0.04 * Wh, 0.15 * L, 0.42 * Wh)
        # a tilted sole pivots on its low border, where the rounded edge stands up: lower it until
        # its lowest point (within the edge band, found numerically) rests on the floor again
        self.drop = 0.0
        if spec.heel_tilt_deg or spec.forefoot_varus_deg:
            nxt, prv = np.roll(self.boundary, -1, axis=0), np.roll(self.boundary, 1, axis=0)
            tan = (nxt - prv) / np.linalg.norm(nxt - prv, axis=1)[:, None]
            inward = np.column_stack([-tan[:, 1], tan[:, 0]])
            off = np.linspace(0.0, EDGE_RADIUS_MM + 1.0, 71)
            q = (self.boundary[:, None, :] + off[None, :, None] * inward[:, None, :]).reshape(-1, 2)
            q = q[self.contains(q[:, 0], q[:, 1])]
            self.drop = float(np.min(self.plantar(q[:, 0], q[:, 1])))

    # -- anatomy truth ----------------------------------------------------------------
    def mtp_x(self, y: np.ndarray) -> np.ndarray:
        """x of the oblique MTP (met-head) line at y (left frame): (0.72 L, -bm) to (0.63 L, +bl)."""
        return _MTP1_X * self.L - (_MTP1_X - _MTP5_X) * self.L * (np.asarray(y, float) + self.bm) / self.W

    def anatomy(self) -> dict[str, Any]:
        """Anatomical landmarks (left frame, mm); see the module notes for the definitions."""
        L, W, bm, bl = self.L, self.W, self.bm, self.bl
        x1 = 0.5 * (_BALL_FLAT_START_X + _MTP1_X) * L  # middle of the straight medial ball border

        def sulcus(frac: float) -> tuple[float, float]:  # on the crest, at y = -bm + frac W
            y = -bm + frac * W
            return float(self.mtp_x(y) + _SULCUS_FROM_MTP * L), y

        # arch apex: centroid of the top quarter of the sole's height along the apex line, as
        # captured (a tilted or twisted capture moves it, as it moves what a marker sees)
        xa0, xc, xa3 = self.xa
        xs = np.linspace(xa0, xa3, 4001)
        lo, hi = self.extent(xs)
        h = self.plantar(xs, lo + _APEX_LINE_FRACTION * (hi - lo))
        w = np.clip(h - (1.0 - _ARCH_TOP_SHARE) * h.max(), 0.0, None)
        xq = float(np.sum(xs * w) / w.sum()) if h.max() > 0 else xc
        lo, hi = self.extent(np.array([xq]))
        return {
            "heel_centre": (0.5 * self.Wh, 0.0),
            "met_head_1": (x1, -bm + _MH1_INSET * W),
            "met_head_5": (_MTP5_X * L, bl - _MH5_INSET * W),
            "mpj_1": (x1, -bm),
            "mpj_5": (_MTP5_X * L, bl),
            "sulcus_medial": sulcus(_HALLUX_PAD_Y),
            "sulcus_lateral": sulcus(_FIFTH_PAD_Y),
            "arch_apex": (xq, float(lo[0] + _APEX_LINE_FRACTION * (hi[0] - lo[0]))),
            "hallux_tip": self.tip if self.toes else None,
        }

    # -- outline queries ------------------------------------------------------------
    def extent(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(y_min, y_max) of the silhouette slice at x (nan outside [0, x_end])."""
        x = np.asarray(x, dtype=float)
        lo = np.interp(x, self.med[:, 0], self.med[:, 1])
        hi = np.interp(x, self.lat[:, 0], self.lat[:, 1])
        bad = (x < 0.0) | (x > self.x_end)
        return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lo, hi = self.extent(x)
        with np.errstate(invalid="ignore"):
            return (y >= lo) & (y <= hi)

    def distance(self, x: np.ndarray, y: np.ndarray, cap: float | None = None) -> np.ndarray:
        """Euclidean distance to the outline polyline (exact for the dense polyline).

        With ``cap``, distances of ``cap`` or more are returned as ``cap`` (faster)."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        p = np.column_stack([x.ravel(), y.ravel()])
        best = np.full(len(p), np.inf if cap is None else float(cap))
        if len(p) == 0:
            return best.reshape(x.shape)
        if cap is None:
            _, i = self._tree.query(p)
            sel = np.arange(len(p))
        else:
            # cheap exact pre-filter: a point can only be within cap of the outline if
            # it is within cap (in y) of a border point at most cap away in x
            st = _DENSE_STEP
            xt = np.arange(-cap - 1.0, self.x_end + cap + 1.0, st)
            lo, hi = self.extent(xt)
            size = 2 * math.ceil((cap + 2.0 * st) / st) + 1
            lo_w = maximum_filter1d(np.nan_to_num(lo, nan=-np.inf), size, mode="nearest")
            hi_w = minimum_filter1d(np.nan_to_num(hi, nan=np.inf), size, mode="nearest")
            k = np.clip(np.round((p[:, 0] - xt[0]) / st).astype(int), 0, len(xt) - 1)
            near = (p[:, 1] - lo_w[k] < cap + st) | (hi_w[k] - p[:, 1] < cap + st)
            near |= (p[:, 0] < cap + st) | (p[:, 0] > self.x_end - cap - st)
            sel = np.flatnonzero(near)
            _, i = self._tree.query(p[sel], distance_upper_bound=cap + 2.0 * st)
            ok = i < len(self.outline)
            sel, i = sel[ok], i[ok]
        q = p[sel]
        n = len(self.outline)
        d = best[sel]
        for j in (i - 1, i):
            a = self.outline[j % n]
            ab = self.outline[(j + 1) % n] - a
            ap = q - a
            t = np.clip(np.einsum("ij,ij->i", ap, ab) / np.einsum("ij,ij->i", ab, ab), 0.0, 1.0)
            d = np.minimum(d, np.hypot(*(ap - t[:, None] * ab).T))
        best[sel] = d
        return best.reshape(x.shape)

    # -- heights ----------------------------------------------------------------------
    def interior_height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Plantar height without the rounded edge, mm (defined everywhere)."""
        L, W, s = self.L, self.W, self.s
        lo, hi = self.extent(np.clip(x, 0.0, self.x_end))
        w = hi - lo
        # medial longitudinal arch: an elliptical dome centred on the medial border at
        # x = xc; normalised radius rho = 1 at x = xa0 / xa3 (on the border) and at the
        # lateral contact band; flat top (exactly H) for rho <= rho0; C1 everywhere
        xa0, xc, xa3 = self.xa
        sy = np.maximum(w * (1.0 - self.band_frac), 1e-6)
        u = (x - xc) / np.where(x < xc, xc - xa0, xa3 - xc)
        v = np.maximum(y - lo, 0.0) / sy
        rho = np.sqrt(u * u + v * v)
        h = self.H * (1.0 - _smooth((rho - self.rho0) / (1.0 - self.rho0)))
        # posterior heel rising gently out of the floor
        xh = 0.07 * L
        h = h + 3.0 * s * np.clip((xh - x) / xh, 0.0, 1.0) ** 2
        if self.toes:
            x_mtp = _MTP1_X * L - (_MTP1_X - _MTP5_X) * L * (y + self.bm) / W
            sv = x - x_mtp
            h = h + 4.5 * s * _bump((sv - _SULCUS_FROM_MTP * L) / (0.035 * L))
            onset = _smooth((sv - 0.11 * L) / (0.03 * L))
            cl = sum(_bump((y - (-self.bm + f * W)) / (2.5 * s)) for f in _CLEFTS)
            h = h + 3.5 * s * onset * cl
            df = np.interp(y, self.front_y, self.front_x) - x
            h = h + 3.0 * s * onset * _smooth(1.0 - df / (0.04 * L))
            if self.spec.toe_raise_mm:
                # toe spring: the toes turn up about the MTP line, the tips this far off the floor
                reach = np.maximum(df + sv, 1e-6)  # MTP line to the front, along x
                h = h + self.spec.toe_raise_mm * np.clip(sv / reach, 0.0, 1.0) ** 2
        if self.spec.heel_tilt_deg or self.spec.forefoot_varus_deg:
            # frontal tilt: each slice x turns about its low edge by the local angle (+ = medial
            # up); the rearfoot by heel_tilt_deg, the forefoot by heel_tilt + forefoot_varus
            twist = _smooth((x - _TWIST_START_X * L) / ((_TWIST_END_X - _TWIST_START_X) * L))
            slope = np.tan(np.radians(self.spec.heel_tilt_deg + self.spec.forefoot_varus_deg * twist))
            h = h + np.maximum(slope * (hi - y), slope * (lo - y)) - self.drop  # left: medial = -y
        return h

    def edge(self, d: np.ndarray) -> np.ndarray:
        """Rise of the rounded sole edge at distance d inside the outline."""
        r = EDGE_RADIUS_MM
        dd = np.clip(d, 0.0, r)
        return r - np.sqrt(np.maximum(r * r - (r - dd) ** 2, 0.0))

    def plantar(self, x: np.ndarray, y: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
        """Plantar (sole) height h(x, y) >= 0 including the rounded edge."""
        if d is None:
            d = self.distance(x, y)
        return self.interior_height(x, y) + self.edge(d)

    def dorsal_target(self, x: np.ndarray, y: np.ndarray, hi_int: np.ndarray) -> np.ndarray:
        lo, hi = self.extent(np.clip(x, 0.0, self.x_end))
        w = np.maximum(hi - lo, 1e-6)
        yc = 0.5 * (lo + hi) - 0.08 * w
        q = (y - yc) / (0.5 * w)
        d_foot = self._dors(x) * (1.0 - 0.38 * q * q)
        xl, yl, ax, ay = self.leg
        dx, dy = x - xl, y - yl
        rho = np.sqrt((dx / ax) ** 2 + (dy / ay) ** 2)
        ray = np.hypot(dx, dy) * (1.0 - 1.0 / np.maximum(rho, 1e-9))
        d_leg = self.leg_height * (1.0 - _smooth(np.where(rho <= 1.0, 0.0, ray) / (0.05 * self.L)))
        dors = np.minimum(_smax(d_foot, d_leg, 2.5 * self.s), self.leg_height)
        return np.maximum(dors, hi_int + EDGE_RADIUS_MM + 5.0 * self.s)

    def top(self, x: np.ndarray, y: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
        """Dorsal surface height (rounded into the side wall at the outline)."""
        if d is None:
            d = self.distance(x, y)
        hi_int = self.interior_height(x, y)
        zb = hi_int + EDGE_RADIUS_MM
        target = self.dorsal_target(x, y, hi_int)
        u = np.clip(d / self._round(x), 0.0, 1.0)
        return zb + (target - zb) * np.sqrt(u * (2.0 - u))


def _band_fraction(h_norm: float) -> float:
    """Lateral midfoot contact band width / local foot width, from arch height (mm at
    the 260 mm reference length). Flat feet get a wide band, high arches a narrow one."""
    return float(np.clip(0.50 - 0.015 * h_norm, 0.08, 0.50))


@lru_cache(maxsize=32)
def _left_model(spec: FootSpec) -> _LeftModel:
    left = FootSpec(
        spec.length_mm,
        spec.ball_width_mm,
        spec.heel_width_mm,
        spec.arch_height_mm,
        "left",
        spec.toes,
        spec.heel_tilt_deg,
        spec.forefoot_varus_deg,
        spec.toe_raise_mm,
    )
    return _LeftModel(left)


# ----------------------------------------------------------------------------- public model
class FootSurfaces:
    """The analytic foot of a :class:`FootSpec` in the standard frame (either side).

    Attributes
    ----------
    spec : FootSpec
    length_mm : float
        Scanned length max x - min x of the silhouette, mm (``0.8 L`` without toes).
    outline : (n, 2) ndarray
        Silhouette polygon, counter-clockwise, ~0.1 mm spacing, mm.
    boundary : (m, 2) ndarray
        Coarser (~1.2 mm) polygon on the same curves, CCW: the silhouette vertices of
        the full-foot mesh. It holds every extreme point exactly.
    landmarks : dict
        Named (x, y) points of the outline, mm: heel back, widest heel points, 1st/5th
        metatarsal head extremes, toe tip (``front_tip`` without toes).
    leg_cut_mm : float
        Height of the flat leg-stub cap, mm.
    """

    def __init__(self, spec: FootSpec) -> None:
        self.spec = spec
        self._m = _left_model(spec)
        self._sign = 1.0 if spec.side == "left" else -1.0
        self.length_mm = float(self._m.x_end)
        self.leg_cut_mm = float(self._m.leg_height)
        self.outline = self._poly(self._m.outline)
        self.boundary = self._poly(self._m.boundary)
        self.landmarks = {k: (float(v[0]), float(self._sign * v[1])) for k, v in self._m.landmarks.items()}
        self.anatomy = {
            k: None if v is None else (float(v[0]), float(self._sign * v[1]) + 0.0)
            for k, v in self._m.anatomy().items()
        }
        self.toes_captured = spec.toes
        self.frontal_angles = {
            "heel_seat_deg": spec.heel_tilt_deg,
            "forefoot_deg": spec.heel_tilt_deg + spec.forefoot_varus_deg,
            "forefoot_to_rearfoot_deg": spec.forefoot_varus_deg,
        }

    def _poly(self, p: np.ndarray) -> np.ndarray:
        q = p * [1.0, self._sign]
        q = q if self._sign > 0 else np.concatenate([q[:1], q[:0:-1]])
        q.setflags(write=False)
        return q

    def _ly(self, y: np.ndarray) -> np.ndarray:
        return self._sign * np.asarray(y, dtype=float)

    def extent(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Silhouette slice ``(y_min, y_max)`` at x, mm (nan outside the foot)."""
        lo, hi = self._m.extent(x)
        return (lo, hi) if self._sign > 0 else (-hi, -lo)

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True where (x, y) lies inside the silhouette (boundary included)."""
        return self._m.contains(np.asarray(x, dtype=float), self._ly(y))

    def distance_to_outline(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Unsigned Euclidean distance from (x, y) to the silhouette outline, mm."""
        return self._m.distance(np.asarray(x, dtype=float), self._ly(y))

    def plantar_height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Sole height h(x, y) above the floor, mm; nan outside the silhouette."""
        x = np.asarray(x, dtype=float)
        ly = self._ly(y)
        h = self._m.plantar(x, ly)
        return np.where(self._m.contains(x, ly), h, np.nan)

    def dorsum_height(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Upper surface height (dorsum, leg stub, rounded sides), mm; nan outside."""
        x = np.asarray(x, dtype=float)
        ly = self._ly(y)
        t = self._m.top(x, ly)
        return np.where(self._m.contains(x, ly), t, np.nan)


def foot_surfaces(spec: FootSpec | None = None) -> FootSurfaces:
    """The analytic model of a foot: outline polygon, plantar height, dorsum.

    Parameters
    ----------
    spec : FootSpec, optional
        Defaults to ``FootSpec()`` (a normal left foot, 260 mm long).

    Returns
    -------
    FootSurfaces
        Queries in the standard frame (mm): ``outline``, ``extent(x)``,
        ``contains(x, y)``, ``distance_to_outline(x, y)``, ``plantar_height(x, y)``,
        ``dorsum_height(x, y)``, ``landmarks``.
    """
    return _surfaces(spec or FootSpec())


@lru_cache(maxsize=32)
def _surfaces(spec: FootSpec) -> FootSurfaces:
    return FootSurfaces(spec)


# ----------------------------------------------------------------------------- truth
@lru_cache(maxsize=32)
def _truth_values(spec: FootSpec) -> dict[str, Any]:
    """Measurements of the analytic model (same for both sides), unrounded."""
    m = _left_model(spec)
    L = m.x_end  # measured length: what a scan shows
    poly = m.outline

    def band_extent(x0: float, x1: float) -> float:
        sel = poly[(poly[:, 0] >= x0) & (poly[:, 0] <= x1)]
        lo, hi = m.extent(np.array([x0, x1]))
        ys = np.concatenate([sel[:, 1], lo, hi])
        ys = ys[np.isfinite(ys)]
        return float(ys.max() - ys.min())

    g = TRUTH_GRID_MM
    xs = (np.arange(math.ceil(0.85 * L / g)) + 0.5) * g
    ymin, ymax = float(poly[:, 1].min()), float(poly[:, 1].max())
    ys = ymin + (np.arange(math.ceil((ymax - ymin) / g)) + 0.5) * g
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    inside = m.contains(X, Y)
    xi, yi = X[inside], Y[inside]
    d = m.distance(xi, yi, cap=ARCH_INSET_MM + 1.0)
    h = m.plantar(xi, yi, d)
    lo, hi = m.extent(xi)
    # arch height: x in [0.30 L, 0.62 L], medial of the slice centre, >= 8 mm inside
    reg = (xi >= 0.30 * L) & (xi <= 0.62 * L) & (yi < 0.5 * (lo + hi)) & (d >= ARCH_INSET_MM)
    arch = float(h[reg].max()) if reg.any() else 0.0
    # contact print
    pr = h <= CONTACT_THRESHOLD_MM
    px, py = xi[pr], yi[pr]
    x0, xs_ = float(px.min()), 0.78 * L
    third = (xs_ - x0) / 3.0
    inwin = (px >= x0) & (px <= xs_)
    k = np.clip(((px[inwin] - x0) // third).astype(int), 0, 2)
    counts = np.bincount(k, minlength=3)
    ai = float(counts[1] / counts.sum())
    col = np.round(px / g - 0.5).astype(int)
    ncol = len(xs)
    cmin = np.full(ncol, np.inf)
    cmax = np.full(ncol, -np.inf)
    np.minimum.at(cmin, col, py)
    np.maximum.at(cmax, col, py)
    ext = np.where(np.isfinite(cmin), cmax - cmin + g, 0.0)
    mid = (xs >= 0.30 * L) & (xs <= 0.62 * L)
    fore = (xs >= 0.55 * L) & (xs <= 0.85 * L)
    csi = float(100.0 * ext[mid].min() / ext[fore].max())
    return {
        "foot_length_mm": float(poly[:, 0].max() - poly[:, 0].min()),
        "ball_width_mm": band_extent(0.55 * L, 0.85 * L),
        "heel_width_mm": band_extent(0.0, 0.25 * L),
        "arch_height_mm": arch,
        "arch_index": ai,
        "chippaux_smirak_index": csi,
    }


def _r2(v: float) -> float:
    return float(round(float(v), 2)) + 0.0  # + 0.0: no -0.0 in JSON


# ----------------------------------------------------------------------------- meshes
def _domain(m: _LeftModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """2D triangulation of the silhouette: (points, CCW triangles, distance, n_boundary).

    The first ``n_boundary`` points are the outline polygon ``m.boundary``."""
    bnd = m.boundary
    nb = len(bnd)
    # rings: inward normal offsets of the outline
    nxt, prv = np.roll(bnd, -1, axis=0), np.roll(bnd, 1, axis=0)
    tan = nxt - prv
    tan /= np.linalg.norm(tan, axis=1)[:, None]
    inward = np.column_stack([-tan[:, 1], tan[:, 0]])  # CCW polygon: left of travel
    pts = [bnd]
    dists = [np.zeros(nb)]
    perim_s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(nxt - bnd, axis=1))])
    for k, off in enumerate(_RING_OFFSETS):
        ring = bnd + off * inward
        # thin the ring so spacing grows slowly inward
        step = _BOUNDARY_STEP * (1.0 + 0.06 * k)
        keep = np.unique(np.round(perim_s[:-1] / step).astype(int), return_index=True)[1]
        ring = ring[keep]
        dr = m.distance(ring[:, 0], ring[:, 1])
        ok = m.contains(ring[:, 0], ring[:, 1]) & (np.abs(dr - off) < 0.2 * off + 0.02)
        pts.append(ring[ok])
        dists.append(dr[ok])
    # interior: hexagonal lattice
    st = _INTERIOR_STEP
    ymin, ymax = bnd[:, 1].min(), bnd[:, 1].max()
    ny = math.ceil((ymax - ymin) / (st * math.sqrt(3) / 2)) + 1
    nx = math.ceil(m.x_end / st) + 2
    jj, ii = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    gx = (ii + 0.5 * (jj % 2)) * st
    gy = ymin + jj * st * math.sqrt(3) / 2
    gx, gy = gx.ravel(), gy.ravel()
    inside = m.contains(gx, gy)
    gx, gy = gx[inside], gy[inside]
    dg = m.distance(gx, gy)
    far = dg > _RING_OFFSETS[-1] + 0.6 * st
    pts.append(np.column_stack([gx[far], gy[far]]))
    dists.append(dg[far])
    p2 = np.concatenate(pts)
    d2 = np.concatenate(dists)
    tri = Delaunay(p2).simplices
    a, b_, c = p2[tri[:, 0]], p2[tri[:, 1]], p2[tri[:, 2]]
    area = 0.5 * ((b_[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b_[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
    tri = np.where((area < 0)[:, None], tri[:, [0, 2, 1]], tri)
    cen = (a + b_ + c) / 3.0
    keep = contains_xy(Polygon(bnd), cen[:, 0], cen[:, 1]) & (np.abs(area) > 1e-10)
    keep &= ~np.all(tri < nb, axis=1)
    return p2, tri[keep], d2, nb


@lru_cache(maxsize=16)
def _full_foot_left(spec: FootSpec) -> tuple[np.ndarray, np.ndarray]:
    """Watertight closed surface of the left foot (vertices mm, faces outward)."""
    m = _left_model(spec)
    p2, tri, d2, nb = _domain(m)
    x, y = p2[:, 0], p2[:, 1]
    zb = m.plantar(x, y, d2)
    zt = m.top(x, y, d2)
    n = len(p2)
    bottom = np.column_stack([x, y, zb])
    top = np.column_stack([x[nb:], y[nb:], zt[nb:]])
    verts = np.concatenate([bottom, top])
    top_idx = np.concatenate([np.arange(nb), n + np.arange(n - nb)])
    faces = np.concatenate([tri[:, ::-1], top_idx[tri]])
    verts.setflags(write=False)  # cached: callers must copy
    faces.setflags(write=False)
    return verts, faces


def _mirror(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = verts * [1.0, -1.0, 1.0]
    return v, faces[:, ::-1].copy()


def _compact(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used, inv = np.unique(faces.ravel(), return_inverse=True)
    return verts[used], inv.reshape(faces.shape)


def _plantar_shell(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from trimesh.intersections import slice_faces_plane

    v, f = slice_faces_plane(verts, faces, np.array([0.0, 0.0, -1.0]), np.array([0, 0, SHELL_CROP_MM]))[:2]
    mesh = trimesh.Trimesh(v, f, process=True, validate=True)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def _impression(m: _LeftModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foam-box height field (left). Returns vertices, faces (+z normals), rim mask."""
    st = IMPRESSION_STEP_MM
    poly = m.outline
    x0 = math.floor((poly[:, 0].min() - IMPRESSION_MARGIN_MM) / st) * st
    x1 = math.ceil((poly[:, 0].max() + IMPRESSION_MARGIN_MM) / st) * st
    y0 = math.floor((poly[:, 1].min() - IMPRESSION_MARGIN_MM) / st) * st
    y1 = math.ceil((poly[:, 1].max() + IMPRESSION_MARGIN_MM) / st) * st
    xs = np.arange(round((x1 - x0) / st) + 1) * st + x0
    ys = np.arange(round((y1 - y0) / st) + 1) * st + y0
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    Z = np.full(X.shape, RIM_HEIGHT_MM)
    inside = m.contains(X, Y)
    Z[inside] = np.minimum(RIM_HEIGHT_MM, m.plantar(X[inside], Y[inside]))
    nx, ny = X.shape
    idx = np.arange(nx * ny).reshape(nx, ny)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    verts = np.column_stack([X.ravel(), Y.ravel(), Z.ravel()])
    return verts, faces, ~inside.ravel()


# ----------------------------------------------------------------------------- damage
def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # area weighted
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, f[:, k], fn)
    ln = np.linalg.norm(vn, axis=1)
    ln[ln == 0] = 1.0
    return vn / ln[:, None]


def _boundary_vertices(f: np.ndarray) -> np.ndarray:
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    uniq, cnt = np.unique(e, axis=0, return_counts=True)
    return np.unique(uniq[cnt == 1])


def _holes(v: np.ndarray, f: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Faces kept after cutting a few round patches totalling ~fraction of faces."""
    nf = len(f)
    target = round(fraction * nf)
    if target <= 0:
        return np.ones(nf, dtype=bool)
    cen = v[f].mean(axis=1)
    bv = _boundary_vertices(f)
    if len(bv):
        dist_b = cKDTree(v[bv]).query(cen)[0]
        cand = np.flatnonzero(dist_b > 15.0)
        if len(cand) == 0:
            cand = np.argsort(-dist_b, kind="stable")[: max(1, nf // 4)]
    else:
        cand = np.arange(nf)
    n_patch = int(rng.integers(3, 6))
    per = max(1, math.ceil(target / n_patch))
    keep = np.ones(nf, dtype=bool)
    removed = 0
    for _ in range(4 * n_patch):
        if removed >= target:
            break
        c = cen[cand[int(rng.integers(len(cand)))]]
        dist = np.linalg.norm(cen - c, axis=1)
        dist[~keep] = np.inf
        take = np.argsort(dist, kind="stable")[: min(per, target - removed)]
        keep[take] = False
        removed += len(take)
    return keep


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _check_rotation(r: Any) -> np.ndarray:
    rot = np.asarray(r, dtype=float)
    if rot.shape != (3, 3) or not np.all(np.isfinite(rot)):
        raise ValueError("rotation must be None, 'random' or a (3, 3) matrix")
    if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6) or np.linalg.det(rot) < 0.0:
        raise ValueError("rotation must be a proper rotation (orthonormal, det +1), not a mirror")
    return rot


# ----------------------------------------------------------------------------- public API
def synth_scan(
    spec: FootSpec | None = None,
    kind: str = "full_foot",
    units: str = "mm",
    noise_mm: float = 0.0,
    hole_fraction: float = 0.0,
    rotation: str | ArrayLike | None = None,
    translation: ArrayLike | None = None,
    upside_down: bool = False,
    spikes: bool = False,
    seed: int = 0,
) -> tuple[trimesh.Trimesh, dict[str, Any]]:
    """Make a synthetic foot scan and its exact ground truth.

    Parameters
    ----------
    spec : FootSpec, optional
        The foot (default ``FootSpec()``).
    kind : {"full_foot", "plantar_shell", "impression"}
        ``full_foot``: closed, watertight, outward surface (sole, sides, dorsum, leg
        stub cut flat at ``truth["leg_cut_mm"]``). ``plantar_shell``: the full foot
        cropped flat at z = 35 mm, open, normals out of the foot (down on the sole).
        ``impression``: a foam-box cavity, one height field z = min(35 mm, sole) on a
        1 mm grid 15 mm beyond the outline, normals toward the opening.
    units : {"mm", "cm", "m"}
        File units of the returned mesh (mm values are divided by 1, 10 or 1000).
    noise_mm : float
        Standard deviation of Gaussian noise along vertex normals, mm.
    hole_fraction : float
        Fraction of faces removed in 3-5 round patches away from open borders.
    rotation : None, "random" or (3, 3) array
        Proper rotation applied to the standard-frame geometry (det +1; a mirror is
        refused). ``"random"`` draws a uniform rotation from ``seed``.
    translation : (3,) array, optional
        Translation in mm applied after the rotation.
    upside_down : bool
        Turn the geometry over (180 deg about x) before ``rotation``: an impression
        then opens toward -z, like a foam imprint scanned upside down.
    spikes : bool
        Impression only: a few dozen (24-48) single rim vertices 1-10 mm outside the
        outline shot 30-80 mm up (toward the opening). Refused for other kinds.
    seed : int
        Seed of ``numpy.random.default_rng`` for every random choice.

    Returns
    -------
    mesh : trimesh.Trimesh
        In file units and file frame.
    truth : dict
        JSON-serialisable; see Notes. Values rounded to 0.01 except ``transform``.

    Notes
    -----
    Truth keys (the measurement code uses the same definitions; standard frame, mm;
    silhouette = the model outline seen from below; ``L = foot_length_mm``):

    * ``side``, ``kind``, ``units``, ``toes``, ``spec`` (the resolved FootSpec).
    * ``foot_length_mm``: max x - min x of the silhouette (min x = 0). With
      ``toes=False`` this is the scanned length 0.8 x ``spec.length_mm``, and every
      L below is this scanned length.
    * ``ball_width_mm``: max y - min y of the silhouette over x in [0.55 L, 0.85 L];
      ``heel_width_mm`` the same over [0, 0.25 L]. Both extremes of each lie in one
      slice x, so the widest single-slice width is the same number. They equal the
      spec widths by construction.
    * ``arch_height_mm``: max of h over x in [0.30 L, 0.62 L], y medial of the slice
      centre (midpoint of the silhouette's y-extent at that x) and Euclidean distance
      >= 8 mm inside the outline. Equals ``spec.arch_height_mm`` by construction.
    * Contact print: cells of a 0.25 mm grid (cell centres at odd multiples of
      0.125 mm from x = 0) inside the silhouette with h <= 3.0 mm
      (``contact_threshold_mm``). ``arch_index`` (Cavanagh & Rodgers): print cells
      with x0 <= x <= 0.78 L, x0 = min x of the print, split into equal thirds
      along x; middle-third count / total. ``chippaux_smirak_index``: 100 x (narrowest
      print y-extent over grid columns with x in [0.30 L, 0.62 L]) / (widest over
      [0.55 L, 0.85 L]); a column's y-extent is max - min of its print-cell centres
      plus one cell (0 for an empty column).
    * ``transform``: 4x4 matrix taking file coordinates, scaled back to mm, to the
      standard frame (full precision, a proper rigid motion).
    * ``landmarks_mm`` (outline points: heel back/centre, widest heel points, 1st/5th
      metatarsal head extremes, toe tip), ``contact_threshold_mm``, ``noise_mm``,
      ``hole_fraction``, ``upside_down``, ``spikes``, ``seed``; per kind
      ``leg_cut_mm`` (full foot), ``crop_height_mm`` (shell), ``rim_height_mm``,
      ``grid_step_mm`` and ``spike_count`` (impression).

    Geometry: the full foot's silhouette vertices are exactly the outline polygon
    ``foot_surfaces(spec).boundary`` (every extreme point is a vertex), so length and
    widths measured from the clean mesh match the truth to float precision. An
    impression samples the sole on its 1 mm grid, so its cavity footprint matches
    only to about one grid step.
    """
    spec = spec or FootSpec()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if units not in UNITS_PER_MM:
        raise ValueError(f"units must be one of {tuple(UNITS_PER_MM)}, got {units!r}")
    if not 0.0 <= float(noise_mm) <= 5.0:
        raise ValueError("noise_mm must be within 0-5 mm")
    if not 0.0 <= float(hole_fraction) <= 0.3:
        raise ValueError("hole_fraction must be within 0-0.3")
    if spikes and kind != "impression":
        raise ValueError("spikes=True applies to kind='impression' only (laser spikes on the foam rim)")
    rng_spike, rng_hole, rng_noise, rng_rot = np.random.default_rng(seed).spawn(4)
    m = _left_model(spec)
    extra: dict[str, Any] = {}
    if kind == "impression":
        v, f, rim = _impression(m)
        if spikes:
            rimv = np.flatnonzero(rim)
            dr = m.distance(v[rimv, 0], v[rimv, 1])
            near = rimv[(dr >= 1.0) & (dr <= 10.0)]
            n_sp = int(rng_spike.integers(24, 49))
            pick = np.sort(rng_spike.choice(near, size=min(n_sp, len(near)), replace=False))
            v[pick, 2] += rng_spike.uniform(30.0, 80.0, size=len(pick))
            extra["spike_count"] = len(pick)
        extra["rim_height_mm"] = RIM_HEIGHT_MM
        extra["grid_step_mm"] = IMPRESSION_STEP_MM
    else:
        v, f = _full_foot_left(spec)
        v = v.copy()
        if kind == "plantar_shell":
            v, f = _plantar_shell(v, f)
            extra["crop_height_mm"] = SHELL_CROP_MM
        else:
            extra["leg_cut_mm"] = _r2(m.leg_height)
    if spec.side == "right":
        v, f = _mirror(v, f)
    # holes, noise, placement, units
    if hole_fraction > 0.0:
        keep = _holes(v, f, float(hole_fraction), rng_hole)
        v, f = _compact(v, f[keep])
    if noise_mm > 0.0:
        vn = _vertex_normals(v, f)
        v = v + vn * rng_noise.normal(0.0, float(noise_mm), size=(len(v), 1))
    flip = np.diag([1.0, -1.0, -1.0]) if upside_down else np.eye(3)  # 180 deg about x
    if rotation is None:
        rot = np.eye(3)
    elif isinstance(rotation, str):
        if rotation != "random":
            raise ValueError("rotation must be None, 'random' or a (3, 3) matrix")
        rot = _random_rotation(rng_rot)
    else:
        rot = _check_rotation(rotation)
    t = np.zeros(3) if translation is None else np.asarray(translation, dtype=float).reshape(3)
    full = rot @ flip
    v = v @ full.T + t
    v = v * UNITS_PER_MM[units]
    mesh = trimesh.Trimesh(np.array(v, dtype=float), np.array(f, dtype=np.int64), process=False)

    inv = np.eye(4)
    inv[:3, :3] = full.T
    inv[:3, 3] = -full.T @ t
    vals = _truth_values(spec)
    truth: dict[str, Any] = {
        "side": spec.side,
        "kind": kind,
        "units": units,
        "toes": spec.toes,
        **{k: _r2(val) for k, val in vals.items()},
        "transform": [[float(round(c, 12)) + 0.0 for c in row] for row in inv],
        "spec": {k: (_r2(val) if isinstance(val, float) else val) for k, val in asdict(spec).items()},
        "landmarks_mm": {k: [_r2(p[0]), _r2(p[1])] for k, p in foot_surfaces(spec).landmarks.items()},
        "anatomy_mm": {
            k: None if p is None else [_r2(p[0]), _r2(p[1])] for k, p in foot_surfaces(spec).anatomy.items()
        },
        "toes_captured": spec.toes,
        "frontal_angles_deg": {k: _r2(a) for k, a in foot_surfaces(spec).frontal_angles.items()},
        "contact_threshold_mm": CONTACT_THRESHOLD_MM,
        "noise_mm": float(noise_mm),
        "hole_fraction": float(hole_fraction),
        "upside_down": bool(upside_down),
        "spikes": bool(spikes),
        "seed": int(seed),
        **extra,
    }
    return mesh, truth


# ----------------------------------------------------------------------------- writers
def _write_stl(path: Path, v: np.ndarray, f: np.ndarray) -> None:
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    ln = np.linalg.norm(n, axis=1)
    ln[ln == 0] = 1.0
    n = n / ln[:, None]
    rec = np.zeros(len(f), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    rec["n"] = n
    rec["v"] = tri
    header = b"orthogen synthetic foot scan (orthogen.synth)".ljust(80, b" ")
    path.write_bytes(header + struct.pack("<I", len(f)) + rec.tobytes())


def _write_ply(path: Path, v: np.ndarray, f: np.ndarray) -> None:
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        "comment orthogen synthetic foot scan (orthogen.synth), units mm\n"
        f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii")
    fr = np.zeros(len(f), dtype=[("n", "u1"), ("i", "<i4", 3)])
    fr["n"] = 3
    fr["i"] = f
    path.write_bytes(header + v.astype("<f4").tobytes() + fr.tobytes())


def _write_obj(path: Path, v: np.ndarray, f: np.ndarray) -> None:
    lines = ["# orthogen synthetic foot scan (orthogen.synth), units mm"]
    lines += [f"v {a:.4f} {b:.4f} {c:.4f}" for a, b, c in v.tolist()]
    lines += [f"f {a} {b} {c}" for a, b, c in (f + 1).tolist()]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def _write_mesh(path: Path, mesh: trimesh.Trimesh) -> None:
    v = np.asarray(mesh.vertices, dtype=float)
    f = np.asarray(mesh.faces, dtype=np.int64)
    {".stl": _write_stl, ".ply": _write_ply, ".obj": _write_obj}[path.suffix](path, v, f)


def _yaw(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


#: The shipped samples in ``foot_scans/``: file name -> (FootSpec, synth_scan keyword arguments).
SAMPLES: dict[str, tuple[FootSpec, dict[str, Any]]] = {
    "synth_left_full_foot.stl": (
        FootSpec(side="left"),
        # scanner frame: toes toward -y, z up, floor 1 mm above z = 0, metres
        {"kind": "full_foot", "units": "m", "rotation": _yaw(-88.0), "translation": (62.0, 272.0, 1.0)},
    ),
    "synth_right_plantar_shell.obj": (
        FootSpec(side="right"),
        {"kind": "plantar_shell", "units": "mm", "rotation": _yaw(-4.0), "translation": (5.0, -42.0, 0.0)},
    ),
    "synth_left_impression.ply": (
        # a smaller foot with a high arch (arch index ~0.19)
        FootSpec(length_mm=245.0, ball_width_mm=95.0, heel_width_mm=62.0, arch_height_mm=19.0, side="left"),
        {"kind": "impression", "units": "mm", "spikes": True, "translation": (15.0, 62.0, 20.0), "seed": 3},
    ),
    "synth_right_full_foot_noisy.stl": (
        # a larger, flat foot (arch index ~0.27)
        FootSpec(length_mm=272.0, ball_width_mm=106.0, heel_width_mm=69.0, arch_height_mm=5.0, side="right"),
        {
            "kind": "full_foot",
            "units": "mm",
            "rotation": "random",
            "translation": (120.0, -35.0, 80.0),
            "noise_mm": 0.3,
            "hole_fraction": 0.02,
            "seed": 7,
        },
    ),
}


def write_sample_scans(folder: str | Path) -> list[Path]:
    """Write the shipped sample scans and a ``<name>.truth.json`` beside each.

    Parameters
    ----------
    folder : str or Path
        Output folder (created if missing).

    Returns
    -------
    list of Path
        The mesh files written (truth files sit beside them). Output is byte-for-byte
        deterministic.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (spec, kw) in SAMPLES.items():
        mesh, truth = synth_scan(spec, **kw)
        truth["file"] = name
        path = out / name
        _write_mesh(path, mesh)
        (out / f"{name}.truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m orthogen.synth OUTDIR`` writes the samples."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m orthogen.synth OUTDIR", file=sys.stderr)
        return 2
    for p in write_sample_scans(args[0]):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
