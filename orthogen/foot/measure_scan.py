"""Scan in, measured foot in the standard frame out: the `measure` job, free of any CLI.

``measure_scan`` chains the stages top to bottom: scan_io → classify (units) →
align (frame and kind) → plantar (height map, footprint) → measure (side,
measurements), and collects the warnings a clinician should read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from orthogen import __version__
from orthogen.errors import OrthogenError, ScanError
from orthogen.foot.align import Alignment, align_scan
from orthogen.foot.anatomy import ARCH_INDEX_TOE_CUT, ARCH_LINE_FRACTION, FLAT_AI, HIGH_ARCH_AI
from orthogen.foot.classify import (
    EXTENT_RANGE_MM,
    KINDS,
    OPEN_THRESHOLD,
    Units,
    boundary_edges,
    detect_units,
    openness,
    robust_extent,
    taubin_smooth,
)
from orthogen.foot.measure import CONFIDENT_SIDE, Measurements, SideCall, detect_side, measure
from orthogen.foot.plantar import PlantarSurface, extract_plantar
from orthogen.scan import Scan, load_scan

#: A measured foot must be this long (mm) to be taken as a foot at all.
FOOT_LENGTH_LIMITS_MM = (90.0, 380.0)
#: A foot length the user gives (--foot-length, foot_length_mm) must lie in this range, mm.
FOOT_LENGTH_GIVEN_MM = (100.0, 350.0)
#: Given and measured foot length may differ this much (fraction) before a warning.
FOOT_LENGTH_TOLERANCE = 0.04
#: Plantar roughness (mm RMS) above which the scan is called noisy.
NOISY_RMS_MM = 0.5


@dataclass(frozen=True)
class MeasureOptions:
    """What the user told us about the scan (``None``/"auto" = detect)."""

    units: str | None = None
    side: str | None = None
    kind: str | None = None
    foot_length_mm: float | None = None
    grid_mm: float = 1.0


@dataclass(frozen=True)
class MeasuredFoot:
    """Everything known about one scanned foot, in the standard frame."""

    path: str
    scan: Scan
    units: Units
    alignment: Alignment
    kind: str
    kind_source: str
    side: str
    side_call: SideCall
    side_source: str
    plantar: PlantarSurface
    measurements: Measurements
    vertices: np.ndarray  # standard frame, mm
    warnings: tuple[str, ...] = field(default=())

    def report(self) -> dict:
        """The JSON-serialisable measurement report (keys documented in docs/measurements.md)."""
        m = self.measurements.as_dict()
        lm = m.pop("landmarks")
        toes = m.pop("toes_captured")
        return {
            "file": self.path,
            "orthogen_version": __version__,
            "side": self.side,
            "side_confidence": self.side_call.confidence,
            "side_source": self.side_source,
            "side_detected": self.side_call.side,
            "side_cues_mm": self.side_call.cues,
            "units": self.units.name,
            "units_source": self.units.source,
            "scale_to_mm": round(self.units.scale_to_mm, 9),
            "scan_kind": self.kind,
            "scan_kind_source": self.kind_source,
            "vertices": len(self.scan.vertices),
            "faces": len(self.scan.faces),
            **m,
            "weight_bearing": self.plantar.weight_bearing,
            "contact_height_mm": self.plantar.contact_height_mm,
            "toes_captured": toes,
            "landmarks_mm": lm,
            "transform_to_standard_frame": np.round(self.alignment.matrix @ _scale4(self.units), 9).tolist(),
            "definitions": {
                "frame": "mm, z up, floor z=0, x from heel back toward toes, y to the left; left medial = -y",
                "foot_type": f"arch_index <= {HIGH_ARCH_AI} high, >= {FLAT_AI} flat, else normal "
                "(Cavanagh & Rodgers 1987)",
                "arch_index": f"contact print without toes (x <= {ARCH_INDEX_TOE_CUT} L) in thirds; "
                "middle/total",
                "arch_height_mm": f"max plantar clearance along the medial line {ARCH_LINE_FRACTION:.0%} "
                "of the width in from the medial edge, x in 30-62 % L",
                "contact": f"footprint cells within {self.plantar.contact_height_mm} mm of the floor",
                "landmarks_mm": "standard frame (x, y) mm of each anatomical landmark found on this foot, "
                "with a confidence 0-1 and how it was found (orthogen.foot.anatomy); null: not captured",
            },
            "warnings": list(self.warnings),
        }


def _scale4(units: Units) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] *= units.scale_to_mm
    return m


def _analyse(v_mm: np.ndarray, faces: np.ndarray, kind: str, grid_mm: float):
    if kind == "full_foot" or (kind == "auto" and openness(v_mm, faces) <= OPEN_THRESHOLD):
        # closed foot surfaces (handheld and phone captures are the noisy ones) are denoised;
        # open height-field scans are not: smoothing would drag their steep walls outward
        v_mm = taubin_smooth(v_mm, faces)
    alignment = align_scan(v_mm, faces, kind)
    vs = alignment.apply(v_mm)
    plantar = extract_plantar(vs, faces, grid_mm, alignment.open_surface)
    # put the heel back exactly at x = 0 by the final footprint's own points
    dx = plantar.extent_x[0]
    if dx != 0.0:
        alignment = replace(alignment, translation=alignment.translation - np.array([dx, 0.0, 0.0]))
        vs = vs - np.array([dx, 0.0, 0.0])
        plantar = plantar.shifted_x(-dx)
    return alignment, vs, plantar


def roughness_mm(plantar: PlantarSurface) -> float:
    """RMS of the plantar map minus its 2 mm Gaussian smoothing, inside the footprint (mm)."""
    from scipy import ndimage

    from orthogen.foot.heightmap import smooth

    inner = ndimage.binary_erosion(plantar.footprint, iterations=max(1, round(5 / plantar.grid.spacing)))
    if not inner.any():
        return 0.0
    s = smooth(plantar.height, plantar.footprint, 2.0 / plantar.grid.spacing)
    return float(np.sqrt(np.nanmean((plantar.height - s)[inner] ** 2)))


def measure_scan(path: str | Path, options: MeasureOptions | None = None) -> MeasuredFoot:
    """Load, classify, align and measure one foot scan. Raises ScanError for unusable input.

    Every error raised names the scan file.
    """
    try:
        return _measure_scan(str(path), options or MeasureOptions())
    except OrthogenError as err:
        if err.path is None:
            raise type(err)(err.problem, str(path)) from None
        raise


def _measure_scan(path: str, opt: MeasureOptions) -> MeasuredFoot:
    fl = opt.foot_length_mm
    if fl is not None and not (np.isfinite(fl) and FOOT_LENGTH_GIVEN_MM[0] <= fl <= FOOT_LENGTH_GIVEN_MM[1]):
        lo, hi = FOOT_LENGTH_GIVEN_MM
        raise OrthogenError(f"--foot-length {fl:g} mm is out of range (allowed {lo:g} to {hi:g} mm)", path)
    scan = load_scan(path)
    if opt.kind not in (None, "auto") and opt.kind not in KINDS:
        raise ScanError(f"unknown scan kind {opt.kind!r} (allowed: auto, {', '.join(KINDS)})", path)
    kind_in = opt.kind or "auto"
    units = detect_units(scan.vertices, path, opt.units, scan.units_hint, opt.foot_length_mm is not None)
    if units.name != "scaled":
        size = robust_extent(scan.vertices) * units.scale_to_mm
        lo, hi = EXTENT_RANGE_MM
        if not lo <= size <= hi:
            raise ScanError(
                f"in {units.name} the scan is {size:.0f} mm long, no foot size ({lo:.0f}-{hi:.0f} mm "
                "including a leg stub or a box rim): check --units or give --foot-length MM",
                path,
            )
    warnings: list[str] = []
    if units.name == "scaled":
        # unscaled scan: scale until the measured foot length is the given one (thresholds are in mm,
        # so the length is not exactly proportional to the scale; two or three rounds settle it)
        target = float(opt.foot_length_mm)
        s = target / robust_extent(scan.vertices)
        alignment, vs, plantar = _analyse(scan.vertices * s, scan.faces, kind_in, opt.grid_mm)
        s *= target / plantar.length_mm
        alignment, vs, plantar = _analyse(scan.vertices * s, scan.faces, kind_in, opt.grid_mm)
        k = target / plantar.length_mm  # within a percent of 1: finish with an exact uniform scale
        s *= k
        alignment = replace(alignment, translation=alignment.translation * k)
        vs = vs * k
        plantar = plantar.scaled(k)
        units = Units("scaled", s, "foot_length")
        warnings.append(
            f"scan has no real-world scale: scaled so the foot is {target:g} mm long (--foot-length)"
        )
    else:
        v_mm = scan.vertices * units.scale_to_mm
        alignment, vs, plantar = _analyse(v_mm, scan.faces, kind_in, opt.grid_mm)
    length = plantar.length_mm
    lo, hi = FOOT_LENGTH_LIMITS_MM
    if not lo <= length <= hi:
        raise ScanError(
            f"measured foot length {length:.0f} mm (units {units.name}) is not a foot's "
            f"({lo:.0f}-{hi:.0f} mm): check --units or give --foot-length MM",
            path,
        )
    if opt.foot_length_mm is not None and units.name != "scaled":
        if abs(length - opt.foot_length_mm) > FOOT_LENGTH_TOLERANCE * opt.foot_length_mm:
            warnings.append(
                f"given foot length {opt.foot_length_mm:g} mm differs from the scan's {length:.0f} mm "
                "(scan without toes, or wrong units?); measurements use the scan"
            )
    _require_foot_shape(plantar, path)
    side_call = detect_side(plantar)
    side, side_source = side_call.side, "detected"
    if opt.side not in (None, "auto"):
        if opt.side not in ("left", "right"):
            raise ScanError(f"unknown side {opt.side!r} (allowed: auto, left, right)", path)
        if opt.side != side_call.side and side_call.confidence >= CONFIDENT_SIDE:
            warnings.append(
                f"--side {opt.side} disagrees with the geometry, which looks like a {side_call.side} foot "
                f"(confidence {side_call.confidence:.2f}); using {opt.side}"
            )
        side, side_source = opt.side, "given"
    elif side_call.confidence < CONFIDENT_SIDE:
        warnings.append(
            f"side detection is unsure ({side_call.side}, confidence {side_call.confidence:.2f}): "
            "check it or pass --side"
        )
    m = measure(plantar, side)
    warnings += _quality_warnings(scan, alignment, plantar, units)
    return MeasuredFoot(
        path=path,
        scan=scan,
        units=units,
        alignment=alignment,
        kind=alignment.kind,
        kind_source="detected" if kind_in == "auto" else "given",
        side=side,
        side_call=side_call,
        side_source=side_source,
        plantar=plantar,
        measurements=m,
        vertices=vs,
        warnings=tuple(warnings),
    )


#: A footprint's length over its widest width: feet are 2.2-3.3 (children ~2.4, narrow adults ~3.2).
FOOT_ASPECT_LIMITS = (1.5, 4.5)  # 1.5: toeless impressions of wide feet (0.8 L over 0.42 L = 1.9)
#: A foot's heel is narrower than its ball (about 0.6-0.8 of it); a box or a cylinder is not.
MAX_HEEL_TO_BALL = 0.95
#: The heel of every foot reaches the floor it stands on (measured: real and synthetic scans within
#: 0.3 mm in the rear 3-15 % of the length); an egg or a rounded blob does not.
HEEL_FLOOR_MAX_MM = 3.0


def _require_foot_shape(plantar: PlantarSurface, path: str) -> None:
    """Refuse a scan whose footprint is no foot (a sphere, a box, a cylinder of foot size)."""
    x, _ = plantar.grid.axes()
    cols = plantar.footprint.any(axis=1)
    widths = plantar.footprint.sum(axis=1) * plantar.grid.spacing
    length = plantar.length_mm
    width = float(widths.max()) if cols.any() else 0.0
    aspect = length / width if width > 0 else float("inf")
    lo, hi = FOOT_ASPECT_LIMITS
    if not lo <= aspect <= hi:
        raise ScanError(
            f"footprint is {length:.0f} x {width:.0f} mm (length/width {aspect:.2f}); a foot's is "
            f"{lo}-{hi}: this does not look like a foot scan",
            path,
        )
    xs = x[cols]
    X, _ = plantar.grid.mesh()
    heel = plantar.footprint & (X >= xs.min() + 0.03 * length) & (X <= xs.min() + 0.15 * length)
    heel_low = float(np.nanmin(np.where(heel, plantar.height, np.nan))) if heel.any() else np.inf
    if heel_low > HEEL_FLOOR_MAX_MM:
        raise ScanError(
            f"the heel does not reach the floor (its lowest point is {heel_low:.0f} mm up, a foot's "
            f"within {HEEL_FLOOR_MAX_MM:g} mm): this does not look like a foot scan",
            path,
        )
    rear = widths[cols][xs <= xs.min() + 0.25 * length].max()
    front = widths[cols][xs >= xs.min() + 0.55 * length].max()
    if rear > MAX_HEEL_TO_BALL * front:
        raise ScanError(
            f"footprint is as wide at the heel ({rear:.0f} mm) as at the ball ({front:.0f} mm); "
            "a foot narrows to the heel: this does not look like a foot scan",
            path,
        )


def _quality_warnings(scan: Scan, alignment: Alignment, plantar: PlantarSurface, units: Units) -> list[str]:
    out: list[str] = []
    if not plantar.weight_bearing:
        out.append(
            "non-weight-bearing capture (the sole is not flattened on a floor): the contact print is "
            f"simulated at {plantar.contact_height_mm:g} mm, so arch index, Chippaux-Smirak index and "
            "foot type are estimates"
        )
    if alignment.kind == "full_foot":
        n_open = len(boundary_edges(scan.faces))
        if n_open:
            out.append(f"scan surface is not closed ({n_open} open edges); gaps in the sole were filled")
        if not plantar.weight_bearing and units.source == "detected":
            out.append(
                "full-foot scan that is not weight-bearing (e.g. phone photogrammetry): its scale is "
                f"not verified; check the foot length ({plantar.length_mm:.0f} mm) against a tracing "
                "or pass --foot-length"
            )
    if alignment.kind == "impression":
        out.append(
            "impression: toes are often not pressed into the foam; if the foot length is short, "
            "pass --foot-length for the insole outline"
        )
    rough = roughness_mm(plantar)
    if rough > NOISY_RMS_MM:
        out.append(f"noisy scan: plantar roughness {rough:.1f} mm RMS (smoothed for measurement)")
    return out
