"""A one-page picture of a designed device, for a clinician to check at a glance.

Panels (output frame, mm: x from the heel toward the toes, y to the left, z up): the device's
thickness seen from above with the foot's landmarks (heel centre, met heads 1-5 and their
line, sulcus line, arch apex) and the foot's own outline; the medial profile along the
medial quarter line; the frontal heel section through the heel centre seen from behind
(viewer's right is -y: a left foot's medial side is on the right); and the clinical checks,
prescribed against measured, each marked pass or fail. There is no badge that could
disagree with a number: the title says "all checks passed" only when every row passed.

Drawn straight into an image (:mod:`orthogen.output.raster`: numpy colour maps, Pillow lines, text
and PNG), a few tens of milliseconds per picture; ``dpi`` scales the page (13 x 9 inches).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from orthogen.foot.heightmap import medial_line_profile, sample
from orthogen.output.export import atomic_write
from orthogen.output.raster import BLACK, WHITE, Canvas, Panel, colour_bar, colourise, grey, hex_rgb

if TYPE_CHECKING:
    from orthogen.device.design import Design

TOP_C, BOT_C, FILL_C = hex_rgb("#1f4e79"), hex_rgb("#555555"), hex_rgb("#9ecae1")
PASS_C, FAIL_C, SEAT_C = hex_rgb("#1a7f37"), hex_rgb("#cf222e"), hex_rgb("#d62728")
#: Page sizes in inches (at ``dpi`` pixels per inch).
PAGE_IN, PAIR_PAGE_IN = (13.0, 9.0), (14.0, 8.0)


def _thickness(d: Design) -> np.ndarray:
    s = d.surfaces
    return np.where(s.inside, s.top - s.bottom, np.nan)


def _rx_line(d: Design) -> str:
    rx, b = d.prescription, d.balance
    ff = "auto" if b.forefoot_post_auto else f"{b.forefoot_post_deg:+g}°"
    return (
        f"{rx.construction.replace('_', ' ')}, length {rx.length}, shell {rx.shell_thickness_mm:g} mm, "
        f"heel cup {rx.heel_cup_depth_mm:g} mm, rearfoot {rx.rearfoot_post_deg:+g}°, forefoot {ff}, "
        f"inversion {rx.balance_inversion_deg:g}°, heel lift {rx.heel_lift_mm:g} mm"
    )


def _head(d: Design) -> str:
    ok = not d.intent.failed
    state = "all checks passed" if ok else f"{len(d.intent.failed)} checks FAILED"
    return f"{Path(d.foot.path).name} — {d.foot.side} foot — template {d.prescription.template} — {state}"


def _draw_top(c: Canvas, name: str, box, d: Design, vmax: float) -> Panel:
    """Thickness seen from above (y up on the page: +y is the foot's left), landmarks and outlines."""
    s, r, sh = d.surfaces, d.regions, d.x_shift_mm
    x, y = s.grid.axes()
    h = s.grid.spacing / 2
    x0, y0, x1, y1 = s.outline.bounds
    p = Panel(c, name, box, (x0 + sh - 5.0, x1 + sh + 5.0), (y0 - 14.0, y1 + 14.0), equal=True)
    rgb, ok = colourise(_thickness(d), 0.0, vmax)
    p.image(rgb, ok, (x[0] - h + sh, x[-1] + h + sh, y[0] - h, y[-1] + h))
    fx, fy = d.foot.plantar.outline.exterior.xy
    p.line(np.asarray(fx) + sh, fy, grey(0.55), 0.8, dash=(1.5, 2.5))
    ox, oy = s.outline.exterior.xy
    p.line(np.asarray(ox) + sh, oy, BLACK, 1.2)
    ys = np.linspace(min(r.met_head_1[1], r.met_head_5[1]), max(r.met_head_1[1], r.met_head_5[1]), 30)
    p.line(r.met_arc_x(ys) + sh, ys, WHITE, 1.0, dash=(5.0, 3.0))
    p.line(r.sulcus_x(ys) + sh, ys, WHITE, 0.8, dash=(1.5, 2.5))
    for k, (px, py) in enumerate(r.met_heads, start=1):
        p.marker(px + sh, py, "o", 6, WHITE)
        p.text(px + sh, py, str(k), 7, dx=-6.0, anchor="rm", fill=WHITE)
    for label, pt, m in (("heel centre", r.heel_centre, "P"), ("arch apex", r.arch_apex, "^")):
        p.marker(pt[0] + sh, pt[1], m, 9, WHITE)
        p.text(pt[0] + sh, pt[1], label, 7, dx=6.0, dy=7.0, anchor="ls", fill=WHITE)
    xm = (x0 + x1) / 2 + sh
    for label, sign in (("medial", r.medial_sign), ("lateral", -r.medial_sign)):
        yy, anchor = ((y1 + 3.0), "md") if sign > 0 else ((y0 - 3.0), "ma")
        p.text(xm, yy, label, 10, anchor=anchor, bold=True)
    p.frame("x (mm, heel → toes)", "y (mm, + = left)")
    return p


def _draw_side(c: Canvas, box, d: Design) -> Panel:
    """Top and bottom along the device's medial quarter line."""
    s, r, sh = d.surfaces, d.regions, d.x_shift_mm
    x, _ = s.grid.axes()
    lx, ly, top = medial_line_profile(s.top, s.grid, s.inside, r.medial_sign, (x[0], x[-1]))
    bot = sample(s.bottom, s.grid, np.column_stack([lx, ly]))
    xo = lx + sh
    zmax = float(np.nanmax(top)) if np.isfinite(top).any() else 10.0
    p = Panel(c, "profile", box, (float(xo.min()) - 5.0, float(xo.max()) + 5.0), (-1.0, zmax + 8.0))
    p.frame("x (mm, heel → toes)", "z (mm)", grid=True)
    p.fill_between(xo, bot, top, FILL_C)
    p.line(xo, top, TOP_C, 1.5)
    p.line(xo, bot, BOT_C, 1.0)
    for label, xv in (
        ("heel", r.heel_centre[0]),
        ("arch apex", r.arch_apex[0]),
        ("1st met head", r.met_head_1[0]),
    ):
        p.line([xv + sh, xv + sh], [-1.0, zmax + 8.0], grey(0.6), 0.6, dash=(1.5, 2.5))
        p.text(xv + sh, zmax + 2.0, label, 7, anchor="md", fill=grey(0.3))
    p.label(0.5, 1.0, "medial profile (medial quarter line)", 9, anchor="md")
    x_leg, y_leg = p.box[2] - c.px(6), p.box[1] + c.px(8)
    for n, (label, col) in enumerate((("top (foot side)", TOP_C), ("underside", BOT_C))):
        yy = y_leg + n * c.px(13)
        c.draw.line([(x_leg - c.px(20), yy), (x_leg - c.px(4), yy)], fill=col, width=max(1, round(c.px(1.5))))
        c.text((x_leg - c.px(24), yy), label, 7, anchor="rm", panel="profile.legend")
    return p


def _draw_heel(c: Canvas, name: str, box, d: Design) -> Panel:
    """Frontal section through the heel centre seen from behind: +y (the foot's left) on the viewer's left."""
    s, r = d.surfaces, d.regions
    hx, hy = r.heel_centre
    x, y = s.grid.axes()
    i = int(np.clip(np.rint((hx - x[0]) / s.grid.spacing), 0, len(x) - 1))
    ys = y[s.inside[i]]
    if ys.size == 0:
        ys = np.array([hy - 1.0, hy + 1.0])
    pts = np.column_stack([np.full_like(ys, hx), ys])
    top, bot = sample(s.top, s.grid, pts), sample(s.bottom, s.grid, pts)
    zt = float(np.nanmax(top)) if np.isfinite(top).any() else 10.0
    # inverted x: seen from behind, +y on the left
    p = Panel(c, name, box, (float(ys.max()) + 6.0, float(ys.min()) - 6.0), (-1.0, zt + 14.0), equal=True)
    p.fill_between(ys, bot, top, FILL_C)
    p.line(ys, top, TOP_C, 1.5)
    p.line(ys, bot, BOT_C, 1.0)
    seat = next((i for i in d.intent.items if i.key.startswith("heel seat")), None)
    zc = float(sample(s.top, s.grid, np.array([r.heel_centre]))[0])
    if seat is not None and np.isfinite(seat.measured) and np.isfinite(zc):
        yy = hy + np.array([-1.0, 1.0]) * 0.5 * r.heel_half_width
        p.line(
            yy, zc + np.tan(np.radians(seat.measured)) * r.medial_sign * (yy - hy), SEAT_C, 1.2, dash=(5, 3)
        )
        p.label(
            0.5, 0.97,
            f"heel seat {seat.measured:+.1f}° against the floor (prescribed {seat.prescribed:+.1f}°)",
            8, anchor="ma", fill=PASS_C if seat.passed else FAIL_C,
        )  # fmt: skip
    for label, sign in (("medial", r.medial_sign), ("lateral", -r.medial_sign)):
        ye, anchor = (ys.max(), "ld") if sign > 0 else (ys.min(), "rd")  # +y is drawn on the left
        p.text(ye, zt + 2.0, label, 9, anchor=anchor, bold=True)
    p.frame("y (mm), seen from behind", "z (mm)")
    p.label(0.5, 1.0, f"heel section at x = {hx + d.x_shift_mm:.0f} mm", 9, anchor="md")
    return p


def check_rows(d: Design) -> list:
    """The clinical checks shown on the picture: every pass/fail check, plus arch height and volume."""
    return [i for i in d.intent.items if i.kind != "info" or i.key.startswith(("arch", "volume"))]


def _draw_checks(c: Canvas, box, d: Design) -> None:
    """The clinical checks: prescribed, measured, pass or fail, one row each."""
    x0, y0, x1, y1 = box
    Panel(c, "checks", box, (0.0, 1.0), (0.0, 1.0))
    c.text((x0, y0), "clinical checks (measured on the mesh)", 9, bold=True, panel="checks")
    rows = check_rows(d)
    step = min(c.px(20), (y1 - y0 - c.px(24)) / max(len(rows), 1))
    for n, it in enumerate(rows):
        yy = y0 + c.px(24) + n * step
        mark, col = ("pass", PASS_C) if it.passed else ("FAIL", FAIL_C)
        if it.kind == "info":
            mark, col = ("info", grey(0.4))
        want = {"max": "≤ ", "min": "≥ "}.get(it.kind, "")
        want = "" if it.kind == "info" or not np.isfinite(it.prescribed) else f"{want}{it.prescribed:.1f}"
        c.text((x0, yy), mark, 7, fill=col, bold=True, panel="checks")
        value = f"{want}  {it.measured:.1f} {it.unit}"
        left = x0 + 0.09 * (x1 - x0)
        key = _fitted(c, it.key, 7, x1 - c.text_width(value, 7) - c.px(10) - left)
        c.text((left, yy), key, 7, panel="checks")
        c.text((x1, yy), value, 7, anchor="ra", fill=col if it.kind != "info" else BLACK, panel="checks")


def _fitted(c: Canvas, text: str, pt: float, room: float) -> str:
    """``text``, shortened with an ellipsis to fit ``room`` pixels (never running under its value)."""
    if c.text_width(text, pt) <= room:
        return text
    while len(text) > 1 and c.text_width(text + "…", pt) > room:
        text = text[:-1]
    return text.rstrip(" ,(") + "…"


def _title(c: Canvas, lines: list[str], pt: float) -> None:
    w = c.size[0]
    for n, line in enumerate(lines):
        c.text((w / 2, c.px(8) + n * c.px(18)), line, pt, anchor="ma", panel="title")


def preview_picture(design: Design, dpi: int = 100, title: str | None = None) -> Canvas:
    """Top view with landmarks, medial profile, heel section and the clinical checks, on one page."""
    scale = dpi / 100.0
    c = Canvas(round(PAGE_IN[0] * dpi), round(PAGE_IN[1] * dpi), scale)
    _title(c, (title or f"{_head(design)}\n{_rx_line(design)}").split("\n"), 10)
    vmax = float(np.nanmax(_thickness(design)))
    s = c.px
    _draw_top(c, "top", (s(75), s(58), s(1190), s(470)), design, vmax)
    colour_bar(c, "colourbar", (s(1205), s(90), s(1222), s(440)), vmax, "thickness (mm)")
    _draw_side(c, (s(75), s(560), s(450), s(840)), design)
    _draw_heel(c, "heel", (s(545), s(560), s(880), s(840)), design)
    _draw_checks(c, (s(920), s(545), s(1285), s(880)), design)
    return c


def pair_picture(
    left_design: Design, right_design: Design, dpi: int = 100, title: str | None = None
) -> Canvas:
    """Both feet side by side (left foot on the left): top views on one colour scale, and heel sections."""
    pair = [left_design, right_design]
    if {d.foot.side for d in pair} == {"left", "right"}:
        pair.sort(key=lambda d: d.foot.side != "left")
    vmax = float(max(np.nanmax(_thickness(d)) for d in pair))
    scale = dpi / 100.0
    c = Canvas(round(PAIR_PAGE_IN[0] * dpi), round(PAIR_PAGE_IN[1] * dpi), scale)
    s = c.px
    _title(c, [title or "device pair, seen from above and heel sections seen from behind"], 11)
    for col, d in enumerate(pair):
        left = s(75 + col * 640)
        name = f"top{col}"
        for n, line in enumerate((_head(d), _rx_line(d))):
            c.text((left + s(270), s(34) + n * s(13)), line, 6.5, anchor="ma", panel=f"{name}.title")
        _draw_top(c, name, (left, s(70), left + s(540), s(420)), d, vmax)
        _draw_heel(c, f"heel{col}", (left + s(40), s(490), left + s(500), s(750)), d)
    colour_bar(c, "colourbar", (s(1335), s(90), s(1350), s(400)), vmax, "thickness (mm)")
    return c


def preview_png(design: Design, dpi: int = 100) -> bytes:
    """The preview of one device as PNG bytes; deterministic for the same design."""
    return preview_picture(design, dpi).png()


def pair_png(left_design: Design, right_design: Design, dpi: int = 100) -> bytes:
    """The pair picture as PNG bytes; deterministic for the same designs."""
    return pair_picture(left_design, right_design, dpi).png()


def write_preview(path: str | Path, design: Design, dpi: int = 100) -> Path:
    """Write the preview PNG of one device atomically; returns the path."""
    data = preview_png(design, dpi)
    return atomic_write(path, lambda p: p.write_bytes(data))
