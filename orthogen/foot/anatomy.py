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
SULCUS_START = 0.62
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
    from orthogen.foot.anatomy_search import detect  # the searches import the constants above

    return detect(plantar, side)
