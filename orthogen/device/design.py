"""Measured foot + prescription in, verified device out: the `design` job, free of any CLI.

Stages, top to bottom: template (fit the outline to the foot, trim it to the
shell length) → corrections (top and bottom height fields, each correction a
named field) → solid (grid solid ∩ outline prism) → verify (checks read back
from the mesh; a failing device is refused) → placement in the output frame
(insole's back edge at x = 0, lowest point z = 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orthogen import __version__
from orthogen.device.corrections import MIN_THICKNESS_MM, DeviceSurfaces, build_surfaces
from orthogen.device.solid import Solid, build_solid
from orthogen.device.template import FittedOutline, TemplateGeometry, fit_outline, load_geometry, trim_length
from orthogen.device.verify import Checks, Probe, measure_device, require_valid
from orthogen.errors import GeometryError, OrthogenError
from orthogen.foot.anatomy import (
    ARCH_LINE_FRACTION,
    ARCH_RANGE,
    BALL_RANGE,
    FOREFOOT_BAND,
    SHORT_SHELL_FOREFOOT_BAND_MM,
)
from orthogen.foot.measure_scan import MeasuredFoot, MeasureOptions, measure_scan
from orthogen.rx.limits import SHORT_SHELL_END_MM
from orthogen.rx.model import Prescription
from orthogen.rx.templates import load_template

LABEL_DEPTH_MM = 0.6


@dataclass(frozen=True)
class Design:
    """A finished, verified device for one foot. ``vertices`` are in the output frame (mm)."""

    foot: MeasuredFoot
    prescription: Prescription
    outline: FittedOutline
    surfaces: DeviceSurfaces
    solid: Solid
    checks: Checks
    x_shift_mm: float
    vertices: np.ndarray
    faces: np.ndarray
    label_engraved: bool = False
    warnings: tuple[str, ...] = field(default=())

    def report(self) -> dict:
        """JSON-serialisable report: prescription as applied, measurements, corrections, checks."""
        s = self.surfaces
        hx, hy = self.outline.heel_centre
        applied = {}
        for name, f in s.fields.items():
            if not np.any(f):
                continue
            vals = f[s.inside]
            applied[name] = {"max_mm": round(float(vals.max()), 3), "min_mm": round(float(vals.min()), 3)}
        return {
            "orthogen_version": __version__,
            "scan": self.foot.path,
            "side": self.foot.side,
            "prescription": self.prescription.as_applied(),
            "foot": self.foot.report(),
            "device": {
                "frame": "mm, z up, bottom at z=0, insole back edge at x=0, y to the left",
                "x_shift_from_foot_frame_mm": round(self.x_shift_mm, 3),
                "outline_foot_length_mm": round(self.outline.length_mm, 2),
                "triangles": len(self.faces),
                "min_thickness_allowed_mm": MIN_THICKNESS_MM,
                "corrections_applied": applied,
                "heel_centre_mm": [round(hx + self.x_shift_mm, 2), round(hy, 2)],
                "label_engraved": bool(self.label_engraved),
                "label_depth_mm": LABEL_DEPTH_MM if self.label_engraved else 0.0,
            },
            "checks": self.checks.as_dict(),
            "warnings": list(self.warnings),
        }


def foot_length_for_outline(foot: MeasuredFoot, rx: Prescription) -> tuple[float, list[str]]:
    """Foot length (mm) the outline is scaled to, and warnings.

    An explicit ``foot_length_mm`` wins (the clinician measured it). A shoe size is used only
    when the scan is clearly shorter than it (toes not captured, as in many impressions);
    otherwise the scan's own length is used.
    """
    measured = foot.measurements.foot_length_mm
    if rx.foot_length_mm is not None:
        warn = []
        if abs(rx.foot_length_mm - measured) > 0.04 * measured and foot.units.name != "scaled":
            warn.append(
                f"foot_length_mm = {rx.foot_length_mm:g} differs from the scanned foot ({measured:.0f} mm); "
                "the outline uses the prescribed length"
            )
        return float(rx.foot_length_mm), warn
    if rx.shoe_size is not None:
        shoe = rx.shoe_size.foot_length_mm
        if measured < 0.95 * shoe:
            return float(shoe), [
                f"scan is {measured:.0f} mm long, shorter than shoe size {rx.shoe_size.system} "
                f"{rx.shoe_size.size:g} ({shoe:.0f} mm): toes not captured? the outline uses the shoe size"
            ]
    return measured, []


def _probe(outline: FittedOutline, foot: MeasuredFoot, device_end_x: float) -> Probe:
    """Where the checks read the device: heel seat, met-head band, arch line (foot frame, mm)."""
    L = outline.length_mm
    fx = (FOREFOOT_BAND[0] * L, FOREFOOT_BAND[1] * L)
    back, front = SHORT_SHELL_FOREFOOT_BAND_MM
    if device_end_x - front < fx[1]:  # short shells: the last 12 mm before the shell's end
        fx = (device_end_x - back, device_end_x - front)
    return Probe(
        heel_centre=outline.heel_centre,
        heel_half_width=outline.heel_half_width,
        ball_centre=outline.ball_centre,
        ball_half_width=outline.ball_half_width,
        forefoot_x=fx,
        medial_sign=outline.medial_sign,
        arch_x=(ARCH_RANGE[0] * L, ARCH_RANGE[1] * L),
        arch_line_fraction=ARCH_LINE_FRACTION,
        heel_seat_half_length=0.07 * L,
        ball_x=(BALL_RANGE[0] * L, min(BALL_RANGE[1] * L, device_end_x)),
    )


def _label_box(s: DeviceSurfaces, outline: FittedOutline, depth: float):
    """Where the label goes: under the lateral midfoot, if thick enough there."""
    L = outline.length_mm
    x0, x1 = 0.30 * L, 0.55 * L
    yc = float(outline.centre_y(0.42 * L))
    hw = float(outline.half_width(0.42 * L))
    ys = sorted([yc, yc - outline.medial_sign * 0.55 * hw])
    X, Y = s.grid.mesh()
    box = (X >= x0) & (X <= x1) & (Y >= ys[0]) & (Y <= ys[1])
    if not (box & s.inside).any():
        return None
    if float((s.top - s.bottom)[box & s.inside].min()) < MIN_THICKNESS_MM + depth:
        return None
    return (x0, ys[0], x1, ys[1])


def design_foot(foot: MeasuredFoot, rx: Prescription, grid_mm: float = 1.0) -> Design:
    """Design, build and verify the device for one measured foot. Raises GeometryError when it cannot.

    Every error raised names the scan file.
    """
    try:
        return _design_foot(foot, rx, grid_mm)
    except OrthogenError as err:
        if err.path is None:
            raise type(err)(err.problem, foot.path) from None
        raise


def _design_foot(foot: MeasuredFoot, rx: Prescription, grid_mm: float) -> Design:
    template = load_template(rx.template)
    geom: TemplateGeometry = load_geometry(template, f"templates/{rx.template}.yaml")
    warnings = list(foot.warnings) + rx.warnings()
    L, w = foot_length_for_outline(foot, rx)
    warnings += w
    outline = fit_outline(geom, foot.measurements, foot.side, L)
    device_outline = trim_length(outline, rx.length, foot.measurements, SHORT_SHELL_END_MM)
    if device_outline.is_empty or device_outline.area < 1000.0:
        raise GeometryError(f"length = {rx.length}: the trimmed outline is empty or too small")
    device_end_x = float(device_outline.bounds[2])
    probe = _probe(outline, foot, device_end_x)
    surfaces = build_surfaces(
        foot.plantar, foot.measurements, outline, device_outline, geom, rx, probe, grid_mm
    )
    label_box = None
    if rx.label:
        label_box = _label_box(surfaces, outline, LABEL_DEPTH_MM)
        if label_box is None:
            warnings.append(
                f"label {rx.label!r} not engraved: the shell is too thin or too small where it goes"
            )
    solid = build_solid(
        surfaces.grid, surfaces.top, surfaces.bottom, device_outline, rx.label, LABEL_DEPTH_MM, label_box
    )
    checks = measure_device(solid.vertices, solid.faces, probe, surfaces.grid)
    require_valid(checks, MIN_THICKNESS_MM - (LABEL_DEPTH_MM if label_box else 0.0))
    if rx.arch_height_mm is not None and abs(checks.arch_peak_height_mm - rx.arch_height_mm) > 1.0:
        raise GeometryError(
            f"arch_height_mm = {rx.arch_height_mm:g}: the device's arch peak came out at "
            f"{checks.arch_peak_height_mm:.1f} mm; refusing a device that misses the prescription"
        )
    shift = -float(solid.vertices[:, 0].min())
    verts = solid.vertices + np.array([shift, 0.0, 0.0])
    return Design(
        foot=foot,
        prescription=rx,
        outline=outline,
        surfaces=surfaces,
        solid=solid,
        checks=checks,
        x_shift_mm=shift,
        vertices=verts,
        faces=solid.faces,
        label_engraved=label_box is not None,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def measure_options_from_rx(rx: Prescription, overrides: MeasureOptions | None = None) -> MeasureOptions:
    """Scan options from the prescription, with command-line values taking precedence."""
    o = overrides or MeasureOptions()

    def pick(cli, rxv):
        return cli if cli not in (None, "auto") else (None if rxv == "auto" else rxv)

    return MeasureOptions(
        units=pick(o.units, rx.units),
        side=pick(o.side, rx.side),
        kind=pick(o.kind, rx.scan_kind),
        foot_length_mm=o.foot_length_mm if o.foot_length_mm is not None else rx.foot_length_mm,
        grid_mm=o.grid_mm,
    )


def design_scan(path: str | Path, rx: Prescription, options: MeasureOptions | None = None) -> Design:
    """Measure a scan and design its device."""
    foot = measure_scan(path, measure_options_from_rx(rx, options))
    return design_foot(foot, rx)
