"""A one-page picture of a designed device, for a clinician to check at a glance.

Panels (output frame, mm: x from the heel toward the toes, y to the left, z up): the device's
thickness seen from above with the foot's landmarks (heel centre, met heads 1-5 and their
line, sulcus line, arch apex) and the foot's own outline; the medial profile along the
medial quarter line; the frontal heel section through the heel centre seen from behind
(viewer's right is -y: a left foot's medial side is on the right); and the clinical checks,
prescribed against measured, each marked pass or fail. There is no badge that could
disagree with a number: the title says "all checks passed" only when every row passed.
matplotlib is imported lazily and used without pyplot.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from orthogen.foot.heightmap import medial_line_profile, sample
from orthogen.output.export import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from orthogen.device.design import Design

CMAP = "viridis"
TOP_C, BOT_C, FILL_C = "#1f4e79", "#555555", "#9ecae1"
PASS_C, FAIL_C = "#1a7f37", "#cf222e"


def _new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


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


def _draw_top(ax: Axes, d: Design, vmax: float | None = None):
    """Thickness seen from above (y up on the page: +y is the foot's left); returns the image."""
    s, r, sh = d.surfaces, d.regions, d.x_shift_mm
    x, y = s.grid.axes()
    h = s.grid.spacing / 2
    extent = (x[0] - h + sh, x[-1] + h + sh, y[0] - h, y[-1] + h)
    im = ax.imshow(
        np.ma.masked_invalid(_thickness(d).T),
        origin="lower",
        extent=extent,
        cmap=CMAP,
        vmin=0.0,
        vmax=vmax,
        interpolation="nearest",
    )
    fx, fy = d.foot.plantar.outline.exterior.xy
    ax.plot(np.asarray(fx) + sh, fy, color="0.55", lw=0.8, ls=":", label="foot")
    ox, oy = s.outline.exterior.xy
    ax.plot(np.asarray(ox) + sh, oy, color="k", lw=1.2)
    ys = np.linspace(min(r.met_head_1[1], r.met_head_5[1]), max(r.met_head_1[1], r.met_head_5[1]), 30)
    ax.plot(r.met_arc_x(ys) + sh, ys, color="w", lw=1.0, ls="--")
    ax.plot(r.sulcus_x(ys) + sh, ys, color="w", lw=0.8, ls=":")
    for k, (px, py) in enumerate(r.met_heads, start=1):
        ax.plot(px + sh, py, "o", ms=4, mfc="w", mec="k", mew=0.6)
        ax.text(px + sh - 3.0, py, str(k), ha="right", va="center", fontsize=7, color="w")
    for name, p, m in (("heel centre", r.heel_centre, "P"), ("arch apex", r.arch_apex, "^")):
        ax.plot(p[0] + sh, p[1], m, ms=7, mfc="w", mec="k", mew=0.7)
        ax.annotate(name, (p[0] + sh, p[1]), (4, 5), textcoords="offset points", fontsize=7, color="w")
    x0, y0, x1, y1 = s.outline.bounds
    xm = (x0 + x1) / 2 + sh
    for name, sign in (("medial", r.medial_sign), ("lateral", -r.medial_sign)):
        yy = (y1 + 3.0) if sign > 0 else (y0 - 3.0)
        ax.text(xm, yy, name, ha="center", va="bottom" if sign > 0 else "top", fontsize=10, weight="bold")
    ax.set_xlim(x0 + sh - 5.0, x1 + sh + 5.0)
    ax.set_ylim(y0 - 14.0, y1 + 14.0)
    ax.set_aspect("equal")
    ax.set_xlabel("x (mm, heel → toes)")
    ax.set_ylabel("y (mm, + = left)")
    ax.set_title(
        f"{d.foot.side} foot from above: thickness; ○ met heads 1-5 (dashed: their line, dotted: sulcus), "
        "grey dotted: the foot",
        fontsize=8,
    )
    return im


def _draw_side(ax: Axes, d: Design) -> None:
    """Top and bottom along the device's medial quarter line."""
    s, r, sh = d.surfaces, d.regions, d.x_shift_mm
    x, _ = s.grid.axes()
    lx, ly, top = medial_line_profile(s.top, s.grid, s.inside, r.medial_sign, (x[0], x[-1]))
    bot = sample(s.bottom, s.grid, np.column_stack([lx, ly]))
    xo = lx + sh
    ax.fill_between(xo, bot, top, color=FILL_C, lw=0)
    ax.plot(xo, top, color=TOP_C, lw=1.5, label="top (foot side)")
    ax.plot(xo, bot, color=BOT_C, lw=1.0, label="underside")
    for name, xv in (
        ("heel", r.heel_centre[0]),
        ("arch apex", r.arch_apex[0]),
        ("1st met head", r.met_head_1[0]),
    ):
        ax.axvline(xv + sh, color="0.6", lw=0.6, ls=":")
        ax.text(xv + sh, float(np.nanmax(top)) + 2.0, name, ha="center", fontsize=7, color="0.3")
    ax.set_ylim(-1.0, float(np.nanmax(top)) + 8.0)
    ax.set_xlabel("x (mm, heel → toes)")
    ax.set_ylabel("z (mm)")
    ax.set_title("medial profile (medial quarter line)", fontsize=9)
    ax.legend(loc="upper right", fontsize=7)
    ax.grid(alpha=0.3)


def _draw_heel(ax: Axes, d: Design) -> None:
    """Frontal section through the heel centre seen from behind: +y (the foot's left) on the viewer's left."""
    s, r = d.surfaces, d.regions
    hx, hy = r.heel_centre
    x, y = s.grid.axes()
    i = int(np.clip(np.rint((hx - x[0]) / s.grid.spacing), 0, len(x) - 1))
    ys = y[s.inside[i]]
    pts = np.column_stack([np.full_like(ys, hx), ys])
    top, bot = sample(s.top, s.grid, pts), sample(s.bottom, s.grid, pts)
    ax.fill_between(ys, bot, top, color=FILL_C, lw=0)
    ax.plot(ys, top, color=TOP_C, lw=1.5)
    ax.plot(ys, bot, color=BOT_C, lw=1.0)
    seat = next((i for i in d.intent.items if i.key.startswith("heel seat")), None)
    zc = float(sample(s.top, s.grid, np.array([r.heel_centre]))[0])
    if seat is not None and np.isfinite(seat.measured) and np.isfinite(zc):
        yy = hy + np.array([-1.0, 1.0]) * 0.5 * r.heel_half_width
        ax.plot(
            yy,
            zc + np.tan(np.radians(seat.measured)) * r.medial_sign * (yy - hy),
            color="C3",
            lw=1.2,
            ls="--",
        )
        ax.text(
            0.5,
            0.97,
            f"heel seat {seat.measured:+.1f}° against the floor (prescribed {seat.prescribed:+.1f}°)",
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=8,
            color="C3",
        )
    zt = float(np.nanmax(top)) if top.size else 10.0
    for name, sign in (("medial", r.medial_sign), ("lateral", -r.medial_sign)):
        ye, ha = (ys.max(), "left") if sign > 0 else (ys.min(), "right")
        ax.text(ye, zt + 2.0, name, ha=ha, va="bottom", fontsize=9, weight="bold")
    ax.set_xlim(ys.max() + 6.0, ys.min() - 6.0)  # inverted: seen from behind, +y on the left
    ax.set_ylim(-1.0, zt + 14.0)
    ax.set_aspect("equal")
    ax.set_xlabel("y (mm), seen from behind")
    ax.set_ylabel("z (mm)")
    ax.set_title(f"heel section at x = {hx + d.x_shift_mm:.0f} mm", fontsize=9)


def _draw_checks(ax: Axes, d: Design) -> None:
    """The clinical checks: prescribed, measured, pass or fail, one row each."""
    ax.axis("off")
    rows = [i for i in d.intent.items if i.kind != "info" or i.key.startswith(("arch", "volume"))]
    ax.text(
        0.0,
        1.0,
        "clinical checks (measured on the mesh)",
        fontsize=9,
        weight="bold",
        va="top",
        transform=ax.transAxes,
    )
    step = min(0.065, 0.93 / max(len(rows), 1))
    for n, it in enumerate(rows):
        yy = 0.93 - n * step
        mark, col = ("pass", PASS_C) if it.passed else ("FAIL", FAIL_C)
        if it.kind == "info":
            mark, col = ("info", "0.4")
        want = {"max": "≤ ", "min": "≥ "}.get(it.kind, "")
        want = "" if it.kind == "info" or not np.isfinite(it.prescribed) else f"{want}{it.prescribed:.1f}"
        ax.text(0.0, yy, mark, color=col, fontsize=7, weight="bold", va="top", transform=ax.transAxes)
        ax.text(0.09, yy, it.key[:52], fontsize=7, va="top", transform=ax.transAxes)
        ax.text(
            1.0,
            yy,
            f"{want}  {it.measured:.1f} {it.unit}",
            fontsize=7,
            va="top",
            ha="right",
            color=col if it.kind != "info" else "k",
            transform=ax.transAxes,
        )


def preview_figure(design: Design, title: str | None = None) -> Figure:
    """Top view with landmarks, medial profile, heel section and the clinical checks, in one figure."""
    fig = _new_figure((13.0, 9.0))
    gs = fig.add_gridspec(2, 3, height_ratios=[1.1, 1.0])
    ax_top = fig.add_subplot(gs[0, :])
    im = _draw_top(ax_top, design)
    fig.colorbar(im, cax=ax_top.inset_axes((1.02, 0.0, 0.02, 1.0)), label="thickness (mm)")
    _draw_side(fig.add_subplot(gs[1, 0]), design)
    _draw_heel(fig.add_subplot(gs[1, 1]), design)
    _draw_checks(fig.add_subplot(gs[1, 2]), design)
    fig.suptitle(title or f"{_head(design)}\n{_rx_line(design)}", fontsize=10)
    return fig


def pair_figure(left_design: Design, right_design: Design, title: str | None = None) -> Figure:
    """Both feet side by side (left foot on the left): top views on one colour scale, and heel sections."""
    pair = [left_design, right_design]
    if {d.foot.side for d in pair} == {"left", "right"}:
        pair.sort(key=lambda d: d.foot.side != "left")
    vmax = float(max(np.nanmax(_thickness(d)) for d in pair))
    fig = _new_figure((14.0, 8.0))
    axes = fig.subplots(2, 2, height_ratios=[1.3, 1.0])
    for col, d in enumerate(pair):
        im = _draw_top(axes[0, col], d, vmax=vmax)
        axes[0, col].set_title(f"{_head(d)}\n{_rx_line(d)}", fontsize=7)
        _draw_heel(axes[1, col], d)
    fig.colorbar(im, ax=axes[0, :].tolist(), label="thickness (mm)", shrink=0.8)
    fig.suptitle(title or "device pair, seen from above and heel sections seen from behind", fontsize=11)
    return fig


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """PNG bytes of a figure, with no software/time metadata (same figure, same bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def preview_png(design: Design, dpi: int = 100) -> bytes:
    """The preview of one device as PNG bytes; deterministic for the same design."""
    return figure_png(preview_figure(design), dpi)


def pair_png(left_design: Design, right_design: Design, dpi: int = 100) -> bytes:
    """The pair figure as PNG bytes; deterministic for the same designs."""
    return figure_png(pair_figure(left_design, right_design), dpi)


def write_preview(path: str | Path, design: Design, dpi: int = 100) -> Path:
    """Write the preview PNG of one device atomically; returns the path."""
    data = preview_png(design, dpi)
    return atomic_write(path, lambda p: p.write_bytes(data))
