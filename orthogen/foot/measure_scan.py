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
from orthogen.errors import Hint, OrthogenError, ScanError
from orthogen.foot.align import Alignment, align_scan
from orthogen.foot.anatomy import ARCH_INDEX_TOE_CUT, ARCH_LINE_FRACTION, FLAT_AI, HIGH_ARCH_AI
from orthogen.foot.capture import (
    CaptureChecks,
    calibrated_side,
    require_foot_shape,
    require_one_body,
    require_resolution,
    require_single_surface,
    require_whole_foot,
)
from orthogen.foot.classify import (
    EXTENT_RANGE_MM,
    KINDS,
    LONG_SCAN_FACTOR,
    OPEN_THRESHOLD,
    Units,
    boundary_edges,
    detect_units,
    openness,
    robust_extent,
    taubin_smooth,
    vector_area,
)
from orthogen.foot.measure import CONFIDENT_SIDE, Measurements, SideCall, detect_side, measure
from orthogen.foot.plantar import PlantarSurface, extract_plantar
from orthogen.rx.limits import FOOT_LENGTH_RANGE_MM
from orthogen.scan import Scan, load_scan

#: A measured foot must be this long (mm) to be taken as a foot: toeless captures of the smallest feet
#: from 90 mm, up to the longest foot a prescription allows plus 2 % of measuring tolerance.
FOOT_LENGTH_LIMITS_MM = (90.0, FOOT_LENGTH_RANGE_MM[1] * 1.02)
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
    #: make the device for ``side`` from a scan of the other foot (the prescription's ``mirror``)
    mirror: bool = False
    #: how messages name where ``side`` came from, e.g. "side: left in rx.yaml" (default "--side left")
    side_source: str | None = None
    #: refuse an unsure side detection when no side is given (a device needs the right foot)
    require_side: bool = False


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
    mirrored: bool = False  # the scan was mirrored (y -> -y) to make the device for the other foot
    capture: CaptureChecks | None = None

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
            "mirrored": self.mirrored,
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
            "capture_checks": self.capture.as_dict() if self.capture is not None else None,
            "warnings": list(self.warnings),
        }


def _scale4(units: Units) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] *= units.scale_to_mm
    return m


def _analyse(v_mm: np.ndarray, faces: np.ndarray, kind: str, grid_mm: float, rim: np.ndarray):
    ratio = va = None
    if kind == "auto":
        va = vector_area(v_mm, faces)  # worked out once: openness and the up direction both use it
        ratio = openness(v_mm, faces, va)
    if kind == "full_foot" or (ratio is not None and ratio <= OPEN_THRESHOLD):
        # closed foot surfaces (handheld and phone captures are the noisy ones) are denoised;
        # open height-field scans are not: smoothing would drag their steep walls outward
        v_mm, ratio, va = taubin_smooth(v_mm, faces), None, None
    alignment = align_scan(v_mm, faces, kind, open_ratio=ratio, rim=rim, va=va)
    vs = alignment.apply(v_mm)
    plantar = extract_plantar(vs, faces, grid_mm, alignment.open_surface)
    # put the heel back exactly at x = 0 by the final footprint's own points
    dx = plantar.extent_x[0]
    if dx != 0.0:
        alignment = replace(alignment, translation=alignment.translation - np.array([dx, 0.0, 0.0]))
        vs = vs - np.array([dx, 0.0, 0.0])
        plantar = plantar.shifted_x(-dx)
    return alignment, vs, plantar


#: Cell (mm) of the coarse copy an unscaled scan's scale is estimated on: a third of a dense scan's
#: faces, and a length within 0.05 % of the full scan's (the 100k-face imprint).
SCALE_ESTIMATE_CELL_MM = 1.5


def cluster_decimate(
    vertices: np.ndarray, faces: np.ndarray, cell_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """A coarse copy of a mesh: the vertices in each cube of ``cell_mm`` merged into their mean, the faces
    that collapse dropped. Returns (vertices (k, 3), faces (j, 3)); a mesh coarser than the cell is
    returned nearly as it is."""
    q = np.floor(np.asarray(vertices, float) / cell_mm).astype(np.int64)
    q -= q.min(axis=0)
    n = q.max(axis=0) + 1
    _, inv = np.unique((q[:, 0] * n[1] + q[:, 1]) * n[2] + q[:, 2], return_inverse=True)
    inv = inv.reshape(-1)
    count = np.bincount(inv)
    v = np.column_stack([np.bincount(inv, weights=vertices[:, k]) / count for k in range(3)])
    f = inv[faces]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])
    return v, f[keep]


def _coarse_length(v_mm: np.ndarray, faces: np.ndarray, kind: str, grid_mm: float, rim: np.ndarray) -> float:
    """Foot length (mm) of a scan measured on its coarse copy (:data:`SCALE_ESTIMATE_CELL_MM`); on the
    scan itself when the copy cannot be measured."""
    cv, cf = cluster_decimate(v_mm, faces, SCALE_ESTIMATE_CELL_MM)
    try:
        return _analyse(cv, cf, kind, grid_mm, boundary_edges(cf))[2].length_mm
    except OrthogenError:
        return _analyse(v_mm, faces, kind, grid_mm, rim)[2].length_mm


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
    """Load, classify, align, check and measure one foot scan. Raises ScanError for unusable input.

    Every error raised names the scan file.
    """
    try:
        return _measure_scan(str(path), options or MeasureOptions())
    except OrthogenError as err:
        if err.path is None:
            raise err.with_path(str(path)) from None
        raise


def _measure_scan(path: str, opt: MeasureOptions) -> MeasuredFoot:
    fl = opt.foot_length_mm
    if fl is not None and not (np.isfinite(fl) and FOOT_LENGTH_GIVEN_MM[0] <= fl <= FOOT_LENGTH_GIVEN_MM[1]):
        lo, hi = FOOT_LENGTH_GIVEN_MM
        raise OrthogenError(
            f"the given foot length {fl:g} mm is out of range (allowed {lo:g} to {hi:g} mm)", path
        )
    if opt.side not in (None, "auto", "left", "right"):
        raise ScanError(f"unknown side {opt.side!r} (allowed: auto, left, right)", path)
    scan = load_scan(path)
    if opt.kind not in (None, "auto") and opt.kind not in KINDS:
        raise ScanError(f"unknown scan kind {opt.kind!r} (allowed: auto, {', '.join(KINDS)})", path)
    kind_in = opt.kind or "auto"
    units = detect_units(scan.vertices, path, opt.units, scan.units_hint, opt.foot_length_mm is not None)
    resolution = 0.0
    if units.name != "scaled":
        _require_scan_size(robust_extent(scan.vertices) * units.scale_to_mm, units)
        resolution = require_resolution(scan.vertices, units.scale_to_mm)
    require_one_body(scan.vertices, scan.faces)
    rim = boundary_edges(scan.faces)  # the open edges, worked out once for every stage
    warnings: list[str] = []
    if units.name == "scaled":
        # unscaled scan: scale until the measured foot length is the given one (thresholds are in mm,
        # so the length is not exactly proportional to the scale): the scale is estimated on a coarse
        # copy of the scan, the scan measured once at it, then brought to the exact length
        target = float(opt.foot_length_mm)
        s = target / robust_extent(scan.vertices)
        s *= target / _coarse_length(scan.vertices * s, scan.faces, kind_in, opt.grid_mm, rim)
        alignment, vs, plantar = _analyse(scan.vertices * s, scan.faces, kind_in, opt.grid_mm, rim)
        k = target / plantar.length_mm  # within a percent of 1: finish with an exact uniform scale
        s *= k
        alignment = replace(alignment, translation=alignment.translation * k)
        vs = vs * k
        plantar = plantar.scaled(k)
        units = Units("scaled", s, "foot_length")
        resolution = require_resolution(scan.vertices, s)
        warnings.append(
            f"scan has no real-world scale: scaled so the foot is {target:g} mm long (the given foot length)"
        )
    else:
        v_mm = scan.vertices * units.scale_to_mm
        alignment, vs, plantar = _analyse(v_mm, scan.faces, kind_in, opt.grid_mm, rim)
    length = plantar.length_mm
    lo, hi = FOOT_LENGTH_LIMITS_MM
    if not lo <= length <= hi:
        raise ScanError(
            f"measured foot length {length:.0f} mm (units {units.name}) is not a foot's "
            f"({lo:.0f}-{FOOT_LENGTH_RANGE_MM[1]:.0f} mm)",
            path,
            Hint("check the units, or give the measured foot length", ("units", "foot_length_mm")),
        )
    if opt.foot_length_mm is not None and units.name != "scaled":
        if abs(length - opt.foot_length_mm) > FOOT_LENGTH_TOLERANCE * opt.foot_length_mm:
            warnings.append(
                f"given foot length {opt.foot_length_mm:g} mm differs from the scan's {length:.0f} mm "
                "(scan without toes, or wrong units?); measurements use the scan"
            )
    checks = _capture_checks(vs, scan.faces, plantar, alignment.kind, resolution, rim)
    side_call = calibrated_side(detect_side(plantar))
    side, side_source, mirrored = side_call.side, "detected", False
    if opt.side in ("left", "right"):
        mirrored = _mirror_needed(opt, side_call)
        if mirrored:
            seen = side_call
            vs = vs * _MIRROR
            rotation, translation = _MIRROR_M @ alignment.rotation, alignment.translation * _MIRROR
            alignment = replace(alignment, rotation=rotation, translation=translation)
            plantar = extract_plantar(vs, scan.faces[:, ::-1], opt.grid_mm, alignment.open_surface)
            dx = plantar.extent_x[0]  # the heel back at x = 0 again, by the mirrored footprint's points
            vs, plantar = vs - np.array([dx, 0.0, 0.0]), plantar.shifted_x(-dx)
            alignment = replace(alignment, translation=alignment.translation - np.array([dx, 0.0, 0.0]))
            side_call = calibrated_side(detect_side(plantar))
            warnings.append(
                f"mirrored: the scan shows a {seen.side} foot (confidence {seen.confidence:.2f}); it was "
                f"mirrored to make the device for the {opt.side} foot (mirror: true)"
            )
        side, side_source = opt.side, "given"
    elif side_call.confidence < CONFIDENT_SIDE and opt.require_side:
        raise ScanError(
            f"cannot tell which foot this is (the geometry leans {side_call.side}, confidence "
            f"{side_call.confidence:.2f}, below {CONFIDENT_SIDE:g})",
            hint=Hint("give the side", ("side",)),
        )
    elif side_call.confidence < CONFIDENT_SIDE:
        warnings.append(
            f"side detection is unsure ({side_call.side}, confidence {side_call.confidence:.2f}): "
            "check it and give the side (--side, or side: in the prescription)"
        )
    m = measure(plantar, side)
    warnings += _quality_warnings(scan, alignment, plantar, units, len(rim))
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
        mirrored=mirrored,
        capture=checks,
    )


_MIRROR = np.array([1.0, -1.0, 1.0])
_MIRROR_M = np.diag(_MIRROR)


def _require_scan_size(size_mm: float, units: Units) -> None:
    """Refuse a scan whose size in the known units is no foot's (with a leg stub or a box rim)."""
    lo, hi = EXTENT_RANGE_MM
    if size_mm > LONG_SCAN_FACTOR * hi:
        raise ScanError(
            f"in {units.name} the scan is {size_mm:.0f} mm long, no foot size ({lo:.0f}-{hi:.0f} mm "
            "including a leg stub or a box rim)",
            hint=Hint(
                "check its units, or give the measured foot length if it is unscaled",
                ("units", "foot_length_mm"),
            ),
        )
    if size_mm > hi:
        raise ScanError(
            f"in {units.name} the scan is {size_mm:.0f} mm long, longer than a foot with a leg stub or a box "
            f"rim (at most {hi:.0f} mm; the whole leg?): crop the scan to the foot and ankle",
            hint=Hint("or check its units", ("units",)),
        )
    if size_mm < lo:
        raise ScanError(
            f"in {units.name} the scan is {size_mm:.0f} mm long, too small for a foot (at least {lo:.0f} mm)",
            hint=Hint(
                "check its units, or give the measured foot length if it is unscaled",
                ("units", "foot_length_mm"),
            ),
        )


def _capture_checks(
    vs: np.ndarray, faces: np.ndarray, plantar: PlantarSurface, kind: str, resolution: float, rim: np.ndarray
) -> CaptureChecks:
    """The checks of :mod:`orthogen.foot.capture`, in the order that gives the clearest message."""
    heel_to_ball = require_foot_shape(plantar)
    heel, front, rear_end, front_end = require_whole_foot(vs, faces, plantar, kind, rim)
    doubled = require_single_surface(vs, faces, plantar)
    return CaptureChecks(
        resolution,
        heel_to_ball,
        heel,
        front,
        rear_end.share,
        front_end.share,
        rear_end.line_rms_mm,
        front_end.line_rms_mm,
        doubled,
    )


def _mirror_needed(opt: MeasureOptions, call: SideCall) -> bool:
    """Whether to mirror the scan for the side the user named; raises when the side contradicts the scan.

    A side that contradicts a confident detection is refused unless ``mirror`` asks for a device for
    the other foot; ``mirror`` on a scan confidently of the named side is refused too (it would make
    the device for the wrong foot). With an unsure detection the user's word is taken.
    """
    named = opt.side_source or f"--side {opt.side}"
    confident = call.confidence >= CONFIDENT_SIDE
    how_sure = f"confidence {call.confidence:.2f}"
    if not opt.mirror:
        if confident and call.side != opt.side:
            raise ScanError(
                f"{named} contradicts the scan: the geometry shows a {call.side} foot ({how_sure}); check "
                "the scan and the side",
                hint=Hint(
                    f"or, to make a mirrored device for the {opt.side} foot from this scan, ask for it",
                    ("mirror=true",),
                ),
            )
        return False
    if confident and call.side == opt.side:
        raise ScanError(
            f"mirror = true makes the device for the {opt.side} foot from a scan of the other foot, but the "
            f"scan shows a {call.side} foot already ({how_sure}): remove mirror, or check the side"
        )
    return True


def _quality_warnings(
    scan: Scan, alignment: Alignment, plantar: PlantarSurface, units: Units, n_open: int
) -> list[str]:
    out: list[str] = []
    if not plantar.weight_bearing:
        out.append(
            "non-weight-bearing capture (the sole is not flattened on a floor): the contact print is "
            f"simulated at {plantar.contact_height_mm:g} mm, so arch index, Chippaux-Smirak index and "
            "foot type are estimates"
        )
    if alignment.kind == "full_foot":
        if n_open:
            out.append(f"scan surface is not closed ({n_open} open edges); gaps in the sole were filled")
        if not plantar.weight_bearing and units.source == "detected":
            out.append(
                "full-foot scan that is not weight-bearing (e.g. phone photogrammetry): its scale is "
                f"not verified; check the foot length ({plantar.length_mm:.0f} mm) against a tracing "
                "or give the measured one (--foot-length, or foot_length_mm)"
            )
    if alignment.kind == "impression":
        out.append(
            "impression: toes are often not pressed into the foam; if the foot length is short, "
            "give the measured one for the insole outline (--foot-length, or foot_length_mm)"
        )
    rough = roughness_mm(plantar)
    if rough > NOISY_RMS_MM:
        out.append(f"noisy scan: plantar roughness {rough:.1f} mm RMS (smoothed for measurement)")
    return out
