"""Measured foot + prescription + template geometry in, verified device out: the `design` job.

Stages, top to bottom, each a pure function of the one before:

1. regions — the device's parts placed from the foot's landmarks (:mod:`.regions`);
2. outline — the foot's footprint, trimmed to the shell length at its own met-head or sulcus
   line (:mod:`.template`);
3. balance — the foot turned into its balanced frontal position and set down on the
   footbed (:mod:`.balance`);
4. surface — the top the foot rests on: balanced plantar surface, toes brought down,
   shell, and each correction as a named field (:mod:`.corrections`);
5. construction — trimlines, rims, full-contact or shell underside, feathered and skived
   ends (:mod:`.construction`);
6. solid — one watertight solid (:mod:`.solid`);
7. verify — the clinician's intent measured back from the mesh; a device out of
   tolerance is refused (:mod:`.verify`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import shapely
from scipy import ndimage
from shapely.geometry import Polygon

from orthogen import __version__
from orthogen.device import construction as cons
from orthogen.device import corrections as corr
from orthogen.device.balance import (
    Balance,
    footbed,
    forefoot_down,
    heel_down,
    plan_balance,
    seat_on_footbed,
    twist,
)
from orthogen.device.regions import Regions, frontal_angle, ramp
from orthogen.device.solid import Solid, build_solid
from orthogen.device.template import (
    TemplateGeometry,
    end_line,
    extend_toes,
    foot_outline,
    template_geometry,
    toes_uninset,
    trim_to_length,
)
from orthogen.device.verify import Checks, Intent, check_intent, measure_device, read_surfaces, require_valid
from orthogen.errors import GeometryError, OrthogenError
from orthogen.foot.grid_polygon import cells_inside
from orthogen.foot.heightmap import QUARTER_LINE_FRACTION, Grid, sample
from orthogen.foot.measure_scan import MeasuredFoot, MeasureOptions, measure_scan
from orthogen.rx.limits import SHORT_LENGTHS, SHORT_SHELL_END_MM
from orthogen.rx.model import Prescription

LABEL_DEPTH_MM = 0.6
#: A given foot length or shoe size may differ this much (fraction) from a scan that has its toes.
LENGTH_AGREEMENT = 0.04
#: Margin of the device grid around the outline (mm).
GRID_MARGIN_MM = 12.0
#: The minimum thickness rule, stated one way everywhere (report, preview, clinician report).
MIN_THICKNESS_RULE = (
    f"no part thinner than {cons.MIN_THICKNESS_MM:g} mm (an engraved label may leave "
    f"{cons.MIN_THICKNESS_MM - LABEL_DEPTH_MM:g} mm under its letters)"
)


@dataclass(frozen=True)
class DeviceSurfaces:
    """The device's two height fields on ``grid`` (foot frame, mm) and its outline.

    ``fields`` are the named correction fields as applied (mm), ``footbed`` the shoe's
    footbed under the device, ``contact`` where the top follows the foot.
    """

    grid: Grid
    top: np.ndarray
    bottom: np.ndarray
    inside: np.ndarray
    outline: Polygon
    contact: Polygon
    footbed: np.ndarray
    fields: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Design:
    """A finished, verified device for one foot. ``vertices`` are in the output frame (mm)."""

    foot: MeasuredFoot
    prescription: Prescription
    geometry: TemplateGeometry
    regions: Regions
    balance: Balance
    surfaces: DeviceSurfaces
    solid: Solid
    checks: Checks
    intent: Intent
    x_shift_mm: float
    vertices: np.ndarray
    faces: np.ndarray
    label_text: str | None = None
    label_engraved: bool = False
    warnings: tuple[str, ...] = field(default=())

    def report(self) -> dict:
        """JSON-serialisable report: prescription as applied, foot, balance, device, intent, checks."""
        s = self.surfaces
        applied = {}
        inside = s.inside
        for name, f in s.fields.items():
            vals = f[inside]
            if vals.size and np.any(vals):
                applied[name] = {"max_mm": round(float(vals.max()), 3), "min_mm": round(float(vals.min()), 3)}
        sh = self.x_shift_mm
        r = self.regions
        return {
            "orthogen_version": __version__,
            "scan": self.foot.path,
            "side": self.foot.side,
            "prescription": self.prescription.as_applied(),
            "foot": self.foot.report(),
            "balance": self.balance.as_dict(),
            "device": {
                "frame": "mm, z up, lowest point at z=0, device back edge at x=0, y to the left",
                "construction": self.prescription.construction,
                "x_shift_from_foot_frame_mm": round(sh, 3),
                "triangles": len(self.faces),
                "volume_cm3": round(self.checks.volume_mm3 / 1000.0, 2),
                "min_thickness_rule": MIN_THICKNESS_RULE,
                "corrections_applied": applied,
                "landmarks_mm": {
                    "heel_centre": _pt(r.heel_centre, sh),
                    "met_head_1": _pt(r.met_head_1, sh),
                    "met_head_5": _pt(r.met_head_5, sh),
                    "arch_apex": _pt(r.arch_apex, sh),
                },
                "label": self.label_text,
                "label_engraved": bool(self.label_engraved),
                "label_depth_mm": LABEL_DEPTH_MM if self.label_engraved else 0.0,
            },
            "intent": self.intent.as_list(),
            "checks": self.checks.as_dict(),
            "warnings": list(self.warnings),
        }


def _pt(p, shift: float) -> list[float]:
    return [round(float(p[0]) + shift, 2), round(float(p[1]), 2)]


# ----------------------------------------------------------------------------- inputs


def foot_length_for_outline(
    foot: MeasuredFoot, rx: Prescription, toes_captured: bool
) -> tuple[float, list[str]]:
    """Foot length (mm) the device is made for, and notes.

    A scan whose toes were captured sets its own length: a ``foot_length_mm`` or shoe size that
    disagrees with it by more than 4 % is refused (naming both values), one that agrees is
    reported as checked. A scan without toes (an impression whose toes were not pressed in) is
    lengthened to a longer given foot length or shoe size.
    """
    measured = foot.measurements.foot_length_mm
    given, what = None, ""
    if rx.foot_length_mm is not None:
        given, what = float(rx.foot_length_mm), f"foot_length_mm = {rx.foot_length_mm:g}"
    elif rx.shoe_size is not None:
        given = float(rx.shoe_size.foot_length_mm)
        what = f"shoe_size {rx.shoe_size.system} {rx.shoe_size.size:g} (a {given:.0f} mm foot)"
    if given is None or foot.units.name == "scaled":
        return measured, []
    if toes_captured:
        if abs(given - measured) > LENGTH_AGREEMENT * measured:
            raise OrthogenError(
                f"{what} disagrees with the scanned foot, which is {measured:.0f} mm long with its toes "
                f"(more than {LENGTH_AGREEMENT:.0%} apart): check the scan's units or the value"
            )
        return measured, [f"{what} checked against the scanned foot ({measured:.0f} mm): agrees"]
    if given < measured * (1 - LENGTH_AGREEMENT):
        raise OrthogenError(
            f"{what} is shorter than the scanned foot ({measured:.0f} mm, toes not captured): check the value"
        )
    return max(given, measured), [
        f"toes not captured: the outline is lengthened from {measured:.0f} mm to {given:.0f} mm ({what})"
    ]


def regions_of(foot: MeasuredFoot, length_mm: float) -> Regions:
    """The device regions of a measured foot, from its landmarks (:mod:`orthogen.foot.anatomy`)."""
    a = foot.measurements.landmarks
    hx, hy = a.heel_centre
    p = foot.plantar
    x, y = p.grid.axes()
    i = int(np.clip(np.rint((hx - x[0]) / p.grid.spacing), 0, len(x) - 1))
    cols = np.flatnonzero(p.footprint[i])
    half = 0.5 * (y[cols[-1]] - y[cols[0]] + p.grid.spacing) if cols.size else 0.1 * length_mm
    mh1, mh5 = a.met_head_1, a.met_head_5
    return Regions.from_points(
        side=foot.side,
        heel_centre=(hx, hy),
        heel_half_width=half,
        met_head_1=mh1,
        met_head_5=mh5,
        sulcus=(float(a.sulcus_line_x(np.array(mh1[1]))), float(a.sulcus_line_x(np.array(mh5[1])))),
        arch_apex=a.arch_apex,
        length_mm=length_mm,
        met_heads=[a.met_head(k) for k in range(1, 6)],
    )


def toes_captured(foot: MeasuredFoot) -> bool:
    return bool(foot.measurements.landmarks.toes_captured)


def plantar_on_grid(foot: MeasuredFoot, grid: Grid, regions: Regions, geom: TemplateGeometry) -> np.ndarray:
    """The scanned plantar surface resampled on the device grid (mm): smoothed (more beyond the met
    heads, so toe clefts leave no ridges), extrapolated where unscanned, never below 0."""
    plantar = foot.plantar
    h = plantar.height
    valid = np.isfinite(h)
    idx = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    filled = h[tuple(idx)]
    s = plantar.grid.spacing
    fine = ndimage.gaussian_filter(filled, geom.smooth_mm / s, mode="nearest")
    coarse = ndimage.gaussian_filter(filled, geom.toe_smooth_mm / s, mode="nearest")
    X, Y = grid.mesh()
    gi = np.clip(plantar.grid.to_index(np.stack([X, Y], axis=-1)), 0, np.array(plantar.grid.shape) - 1)
    coords = [gi[..., 0], gi[..., 1]]
    a = ndimage.map_coordinates(fine, coords, order=1, mode="nearest")
    b = ndimage.map_coordinates(coarse, coords, order=1, mode="nearest")
    w = ramp(X, regions.met_line_x(Y) - 10.0, regions.met_line_x(Y) + 10.0)
    return np.maximum(a * (1.0 - w) + b * w, 0.0)


# ----------------------------------------------------------------------------- the design


def design_foot(foot: MeasuredFoot, rx: Prescription, geometry: TemplateGeometry) -> Design:
    """Design, build and verify the device for one measured foot. Raises OrthogenError (exit 2) when it
    cannot, naming the prescription key at fault; every error names the scan file."""
    try:
        return _design_foot(foot, rx, geometry)
    except OrthogenError as err:
        if err.path is None:
            raise err.with_path(foot.path) from None
        raise


def _design_foot(foot: MeasuredFoot, rx: Prescription, geom: TemplateGeometry) -> Design:
    warnings = list(foot.warnings) + rx.warnings()
    toes = toes_captured(foot)
    L, notes = foot_length_for_outline(foot, rx, toes)
    warnings += notes
    regions = regions_of(foot, L)
    side = foot.side

    # outline candidate: the foot's own footprint, toes added when missing, trimmed to length
    foot_poly = foot_outline(foot.plantar.outline, geom.side_inset_mm)
    if geom.side_inset_mm > 0:
        foot_poly = toes_uninset(foot_poly, foot_outline(foot.plantar.outline), regions)
    if L > foot.measurements.foot_length_mm + 1.0:
        foot_poly = extend_toes(foot_poly, regions, L)
    cut = end_line(rx.length, regions, SHORT_SHELL_END_MM + cons.END_MARGIN_MM)
    candidate = trim_to_length(foot_poly, cut)
    if candidate.is_empty or candidate.area < 1000.0:
        raise GeometryError(f"length = {rx.length}: the trimmed outline is empty or too small")
    b = candidate.bounds
    grid = Grid.covering(np.array(b[:2]), np.array(b[2:]), 1.0, margin=GRID_MARGIN_MM)
    X, Y = grid.mesh()

    # the corrections that do not depend on the foot's height, each a named field
    bed = footbed(grid, regions, rx.shoe_drop_mm)
    t0, t_ff, t_ext = cons.thicknesses(rx, geom)
    toe = regions.toe_weight(X, Y)
    w_ff = ramp(X, regions.met_line_x(Y) - 30.0, regions.met_line_x(Y))
    base = t0 + (t_ff - t0) * w_ff + (t_ext - t_ff) * toe
    lift = rx.heel_lift_mm if rx.heel_lift_side in ("both", side) else 0.0
    if lift != rx.heel_lift_mm:
        warnings.append(f"heel_lift_side = {rx.heel_lift_side}: no heel lift on this {side} foot")
    fields: dict[str, np.ndarray] = {"heel_lift": corr.heel_lift(X, Y, regions, lift)}
    accommodations = _accommodation_fields(X, Y, regions, rx, L)
    # a recess reaching into the thinner extension under the toes stops at the printable minimum there
    for key in ("first_mpj_cutout", "heel_spur_pocket"):
        if key in accommodations:
            floor_ = -(base - cons.MIN_THICKNESS_MM)
            accommodations[key] = np.where(
                toe > 0, np.maximum(accommodations[key], floor_), accommodations[key]
            )

    # balance: the foot turned to its prescribed frontal position and set on the footbed; the planes
    # are read on the surface as it will be (shell, lift), away from the accommodations
    excl = corr.accommodation_area(grid, regions, rx, L)
    seat = corr.seat_cells(grid, regions, excl)
    fore = regions.forefoot_band(grid, cons.forefoot_band_back(rx.length)) & ~excl
    P = plantar_on_grid(foot, grid, regions, geom)
    P = heel_down(forefoot_down(P, grid, regions, regions.forefoot_band(grid)), grid, regions)
    bal = plan_balance(
        P + base + fields["heel_lift"],
        grid,
        regions,
        rearfoot_post_deg=rx.rearfoot_post_deg,
        forefoot_post_deg=rx.forefoot_post_deg,
        balance_inversion_deg=rx.balance_inversion_deg,
        seat=seat,
        forefoot=fore,
    )
    B, g_rear, g_fore = seat_on_footbed(P + twist(grid, regions, bal), grid, regions, seat, fore)
    foot_ref = B.copy()  # the balanced foot on the footbed: the reference of heel lift
    B = B * (1.0 - toe)  # the toes brought down onto the footbed: never a slab under raised toes
    fields["arch_fill"] = corr.arch_fill(B, X, Y, regions, rx.arch_fill_mm)
    fields["medial_heel_skive"] = corr.medial_heel_skive(X, Y, regions, rx.medial_heel_skive_mm)
    F = bed + B + base + fields["heel_lift"] + fields["arch_fill"] + fields["medial_heel_skive"]

    # the prescribed arch height, then the trimlines: the medial edge rises arch_wrap_mm above the
    # foot's own medial quarter line, the lateral edge lateral_wall_mm above its lateral quarter line
    inside_c = cells_inside(candidate, grid)
    if rx.arch_height_mm is not None:
        fields["arch_height"] = corr.arch_height(
            F - bed, X, Y, grid, inside_c, regions, rx.arch_height_mm, floor=np.minimum(F - bed, t0)
        )
        F = F + fields["arch_height"]
    # what the arch fill and arch height did to the planes is turned back: a second, exact shear
    fields["balance_trim"] = _plane_correction(
        F - fields["medial_heel_skive"], grid, regions, bal, seat, fore
    )
    F = F + fields["balance_trim"]
    wall = rx.shell_thickness_mm if rx.construction == "shell" else geom.heel_wall_mm
    ms = regions.medial_sign
    trim = cons.trim_heights(
        X,
        Y,
        regions,
        heel_cup_mm=rx.heel_cup_depth_mm,
        heel_lift=fields["heel_lift"],
        edge_distance=ndimage.distance_transform_edt(inside_c) * grid.spacing,
        medial_edge_mm=cons.line_level(grid, F - bed, inside_c, ms, QUARTER_LINE_FRACTION)
        + geom.arch_wrap_mm
        + rx.medial_flange_mm,
        lateral_edge_mm=cons.line_level(grid, F - bed, inside_c, -ms, QUARTER_LINE_FRACTION)
        + geom.lateral_wall_mm
        + rx.lateral_flange_mm,
    )
    trim = np.maximum(trim, t0 + fields["heel_lift"] + 0.5 * wall + 1.5)
    plain = F
    fields.update(accommodations)
    F = F + sum(accommodations.values()) if accommodations else F
    # the toes (brought down) are covered to the footprint's edge: no trimline there
    trim = trim + toe * np.maximum(F - bed + 0.5 * wall + 0.5 - trim, 0.0)
    wall_zone = _behind(regions, grid, 25.0)
    outline = cons.device_outline(
        grid,
        F - bed - trim + 0.5 * wall,
        candidate,
        wall_zone,
        regions.centre_y(grid.axes()[0]),
        wall,
        inside_c,
    )
    if outline.polygon.is_empty or outline.polygon.area < 1000.0:
        raise GeometryError("the device outline came out empty: the scan's plantar surface is unusable")
    inside = cells_inside(outline.polygon, grid)
    # where the trimline was smoothed outward, the top stays at the rim's height, never above
    F = np.minimum(F, bed + trim)
    plain = np.minimum(plain, bed + trim)
    top, plain_top = cons.wall_tops(grid, outline, trim, bed, F, plain)

    # construction: underside, post, feathered / skived ends
    forefoot_w = ramp(X, regions.met_line_x(Y) - 30.0, regions.met_line_x(Y) - 10.0)
    skived = rx.length in SHORT_LENGTHS
    end_cap, side_cap = cons.edge_caps(grid, outline.polygon, cut, toe, forefoot_w, top - bed, skived, inside)
    cap = np.minimum(end_cap, side_cap)
    if rx.construction == "shell":
        # the extension lies on the footbed: its forefoot edges and a full or sulcus end feather down
        # from the top as a full-contact device's do (following the rim or the foot's rising side up,
        # the underside would curl the extension's edge 3-10 mm up off the floor); only a skived end
        # is ground from below
        top = np.minimum(top, bed + (side_cap if skived else cap))
        # a shell of its nominal thickness: the full shell behind the met heads, its extension beyond
        # (read on the top extended past the outline, so the underside runs smoothly into the cut)
        wide = cells_inside(outline.polygon.buffer(2.0 * grid.spacing), grid)
        (top_wide,) = cons.extend_outside(inside, top)
        under = np.maximum(cons.shell_underside(top_wide, wide, grid, t0), top - base)
        post = cons.rearfoot_post(grid, regions, bed, inside, under, bal.heel_seat_target_deg)
        bottom = np.maximum(np.maximum(np.minimum(under, post), bed), top - cap)
    else:
        bottom = bed.copy()
        top = np.minimum(top, bottom + cap)
        plain_top = np.maximum(np.minimum(plain_top, bottom + cap), bottom + cons.EDGE_THICKNESS_MM)
    # the device stands on its lowest point (a shell on a steep footbed may float at the ball)
    lowest = float(np.min(bottom[inside]))
    if lowest > 0.0:
        top, bottom, bed, plain_top, foot_ref = (a - lowest for a in (top, bottom, bed, plain_top, foot_ref))
    thick = top - bottom
    thin = inside & (thick < cons.MIN_THICKNESS_MM - 1e-6)
    if thin.any():
        raise GeometryError(_thin_reason(thin, fields, thick, rx))
    top = np.maximum(top, bottom + min(cons.EDGE_THICKNESS_MM, cons.MIN_THICKNESS_MM))
    top, bottom = cons.extend_outside(inside, top, bottom)
    surfaces = DeviceSurfaces(
        grid,
        top,
        bottom,
        inside,
        outline.polygon,
        outline.contact,
        bed,
        fields,
        {
            "support_offsets_mm": (round(g_rear, 3), round(g_fore, 3)),
            "wall_mm": wall,
            "shell_plus_cover_mm": t0,
        },
    )

    # the solid, its label, and what it must be
    label = _label_text(rx.label, side)
    box = _label_box(surfaces, regions) if label else None
    if label and box is None:
        warnings.append(f"label {label!r} not engraved: no flat, thick enough underside for it")
    label_z = float(sample(bottom, grid, np.array([regions.heel_centre]))[0]) if box else None
    solid = build_solid(grid, top, bottom, outline.polygon, label, LABEL_DEPTH_MM, box, label_z)
    surf = read_surfaces(solid.vertices, solid.faces, grid)  # the mesh read once for every check
    checks = measure_device(solid.vertices, solid.faces, grid, surf, solid)
    require_valid(checks, cons.MIN_THICKNESS_MM - (LABEL_DEPTH_MM if box else 0.0))
    intent = check_intent(
        solid.vertices,
        solid.faces,
        grid,
        foot,
        regions,
        bal,
        rx,
        geom,
        L,
        cut,
        foot_ref,
        bed,
        plain_top,
        surf,
        checks.volume_mm3,
    )
    intent.require()
    shift = -float(solid.vertices[:, 0].min())
    verts = solid.vertices + np.array([shift, 0.0, 0.0])
    return Design(
        foot=foot,
        prescription=rx,
        geometry=geom,
        regions=regions,
        balance=bal,
        surfaces=surfaces,
        solid=solid,
        checks=checks,
        intent=intent,
        x_shift_mm=shift,
        vertices=verts,
        faces=solid.faces,
        label_text=label,
        label_engraved=box is not None,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _plane_correction(z, grid: Grid, regions: Regions, bal: Balance, seat, fore) -> np.ndarray:
    """The shear that brings the heel seat and forefoot planes of ``z`` back to the balanced ones."""
    ms = regions.medial_sign
    now = replace(
        bal,
        heel_seat_captured_deg=frontal_angle(z, grid, seat, ms),
        forefoot_captured_deg=frontal_angle(z, grid, fore, ms),
    )
    if not (np.isfinite(now.heel_seat_captured_deg) and np.isfinite(now.forefoot_captured_deg)):
        return np.zeros_like(z)
    return twist(grid, regions, now, lift_only=True)


def _behind(regions: Regions, grid: Grid, before_mm: float) -> Polygon:
    """The half-plane behind the oblique line ``before_mm`` behind the met-head line (walls live there)."""
    x, y = grid.axes()
    y0, y1 = float(y[0]) - 50.0, float(y[-1]) + 50.0
    xa, xb = (float(regions.met_line_x(np.array(v))) - before_mm for v in (y0, y1))
    back = float(x[0]) - 50.0
    return Polygon([(back, y0), (xa, y0), (xb, y1), (back, y1)])


def _accommodation_fields(X, Y, regions: Regions, rx: Prescription, L: float) -> dict:
    out: dict[str, np.ndarray] = {}
    if rx.met_pad is not None:
        p = rx.met_pad
        out["met_pad"] = corr.met_pad(X, Y, regions, p.height_mm, p.length_mm, p.width_mm, p.offset_mm)
    if rx.met_bar is not None:
        p = rx.met_bar
        out["met_bar"] = corr.met_bar(X, Y, regions, p.height_mm, p.length_mm, p.offset_mm)
    if rx.first_mpj_cutout is not None:
        p = rx.first_mpj_cutout
        out["first_mpj_cutout"] = corr.first_mpj_cutout(X, Y, regions, p.depth_mm, p.radius_mm)
    if rx.heel_spur_pocket is not None:
        p = rx.heel_spur_pocket
        out["heel_spur_pocket"] = corr.heel_spur_pocket(
            X, Y, regions, p.depth_mm, p.radius_mm, p.offset_mm, p.medial_offset_mm
        )
    if rx.mortons_extension is not None:
        p = rx.mortons_extension
        end = L if p.to_hallux_tip else float(regions.sulcus[0])
        out["mortons_extension"] = corr.mortons_extension(X, Y, regions, p.thickness_mm, end)
    return out


def _label_text(label: str | None, side: str) -> str | None:
    """The engraved text: the prescribed label ending in the device's side letter (L or R)."""
    if not label:
        return None
    letter = "L" if side == "left" else "R"
    base = label.rstrip()
    for suffix in (" L", " R", "-L", "-R", "_L", "_R"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return f"{base} {letter}"


def _label_box(s: DeviceSurfaces, regions: Regions):
    """Where the label goes: the flat underside under the heel, if thick enough there."""
    X, Y = s.grid.mesh()
    hx, hy = regions.heel_centre
    x0, x1 = max(8.0, hx - 22.0), regions.heel_seat_end_x
    half = 0.45 * regions.heel_half_width
    box = (X >= x0) & (X <= x1) & (np.abs(Y - hy) <= half)
    if not box.any() or not s.inside[box].all():
        return None
    flat = np.abs(s.bottom - s.footbed) < 1e-6
    if not flat[box].all():
        return None
    if float((s.top - s.bottom)[box].min()) < cons.MIN_THICKNESS_MM + LABEL_DEPTH_MM:
        return None
    return (x0, hy - half, x1, hy + half)


def _thin_reason(thin: np.ndarray, fields: dict, thick: np.ndarray, rx: Prescription) -> str:
    worst = float(thick[thin].min())
    culprits = [k for k, f in fields.items() if np.any(f[thin] < 0)]
    keys = {
        "first_mpj_cutout": "first_mpj_cutout.depth_mm",
        "heel_spur_pocket": "heel_spur_pocket.depth_mm",
        "arch_height": "arch_height_mm",
        "arch_fill": "arch_fill_mm",
    }
    named = ", ".join(keys.get(c, c) for c in culprits) or "shell_thickness_mm"
    return (
        f"{named}: the device would be {max(worst, 0.0):.1f} mm thick in places; {MIN_THICKNESS_RULE} "
        f"(shell {rx.shell_thickness_mm:g} mm + top cover {rx.top_cover_mm:g} mm): reduce the recess or "
        "thicken the shell"
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
    """Measure a scan and design its device with its template's geometry."""
    foot = measure_scan(path, measure_options_from_rx(rx, options))
    return design_foot(foot, rx, template_geometry(rx.template))


__all__ = ["Design", "DeviceSurfaces", "design_foot", "design_scan", "measure_options_from_rx", "shapely"]
