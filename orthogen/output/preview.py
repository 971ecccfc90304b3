"""A one-page picture of a designed device, for a clinician to check at a glance.

Three panels (output frame, mm: x from the heel toward the toes, y to the left,
z up): the device thickness seen from above, the medial profile along the
medial quarter line, and the frontal heel section through the heel centre seen
from behind. Seen from behind the viewer's right is -y, so a left foot's medial
side (-y) is on the right and a right foot's (+y) on the left. matplotlib is
imported lazily and used without pyplot (no global state, no display).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from orthogen.foot.anatomy import ARCH_LINE_FRACTION, ARCH_RANGE
from orthogen.foot.heightmap import sample
from orthogen.output.export import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from orthogen.device.design import Design

CMAP = "viridis"
TOP_C, BOT_C, FILL_C = "#1f4e79", "#555555", "#9ecae1"


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
    rx = d.prescription
    return (
        f"length {rx.length}, shell {rx.shell_thickness_mm:g} mm, heel cup {rx.heel_cup_depth_mm:g} mm, "
        f"rearfoot post {rx.rearfoot_post_deg:+g}°, forefoot post {rx.forefoot_post_deg:+g}°, "
        f"heel lift {rx.heel_lift_mm:g} mm"
    )


def _head(d: Design) -> str:
    return f"{Path(d.foot.path).name} — {d.foot.side} foot — template {d.prescription.template}"


def _medial_line(d: Design) -> tuple[np.ndarray, np.ndarray]:
    """x (foot frame) and y of the medial quarter line, ¼ of the local width in from the medial edge."""
    s, ms = d.surfaces, d.outline.medial_sign
    x, y = s.grid.axes()
    ins = s.inside
    cols = ins.any(axis=1)
    jmin = np.argmax(ins, axis=1)
    jmax = ins.shape[1] - 1 - np.argmax(ins[:, ::-1], axis=1)
    y_med = np.where(ms > 0, y[jmax], y[jmin])
    y_lat = np.where(ms > 0, y[jmin], y[jmax])
    yl = y_med - ms * ARCH_LINE_FRACTION * np.abs(y_med - y_lat)
    return x[cols], yl[cols]


def _heel_section(d: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y, top and bottom across the outline at the heel centre's x."""
    s = d.surfaces
    hx = d.outline.heel_centre[0]
    x, y = s.grid.axes()
    i = int(np.clip(np.rint((hx - x[0]) / s.grid.spacing), 0, len(x) - 1))
    ys = y[s.inside[i]]
    pts = np.column_stack([np.full_like(ys, hx), ys])
    return ys, sample(s.top, s.grid, pts), sample(s.bottom, s.grid, pts)


def _draw_top(ax: Axes, d: Design, vmax: float | None = None):
    """Thickness seen from above (y up on the page: +y is the foot's left); returns the image."""
    s, ms, sh = d.surfaces, d.outline.medial_sign, d.x_shift_mm
    x, y = s.grid.axes()
    h = s.grid.spacing / 2
    extent = (x[0] - h + sh, x[-1] + h + sh, y[0] - h, y[-1] + h)
    t = np.ma.masked_invalid(_thickness(d).T)
    im = ax.imshow(t, origin="lower", extent=extent, cmap=CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
    polys = getattr(s.outline, "geoms", [s.outline])
    for p in polys:
        ox, oy = p.exterior.xy
        ax.plot(np.asarray(ox) + sh, oy, color="k", lw=1.2)
    x0, y0, x1, y1 = s.outline.bounds
    lx, ly = _medial_line(d)
    ax.plot(lx + sh, ly, color="w", lw=0.8, ls="--")
    hx = d.outline.heel_centre[0] + sh
    ax.axvline(hx, color="w", lw=0.8, ls=":")
    xm = (x0 + x1) / 2 + sh
    for name, sign in (("medial", ms), ("lateral", -ms)):
        yy = (y1 + 3.0) if sign > 0 else (y0 - 3.0)
        ax.text(xm, yy, name, ha="center", va="bottom" if sign > 0 else "top", fontsize=10, weight="bold")
    ax.text(x0 + sh, y0 - 3.0, "heel", ha="left", va="top", fontsize=8)
    ax.text(x1 + sh, y0 - 3.0, "toes", ha="right", va="top", fontsize=8)
    ax.set_xlim(x0 + sh - 5.0, x1 + sh + 5.0)
    ax.set_ylim(y0 - 14.0, y1 + 14.0)
    ax.set_aspect("equal")
    ax.set_xlabel("x (mm, heel → toes)")
    ax.set_ylabel("y (mm, + = left)")
    ax.set_title(
        f"{d.foot.side} foot from above: thickness (dashed: medial quarter line, dotted: heel section)",
        fontsize=9,
    )
    return im


def _draw_side(ax: Axes, d: Design) -> None:
    """Top and bottom along the medial quarter line, with the arch peak and heel-cup rim annotated."""
    s, c, sh = d.surfaces, d.checks, d.x_shift_mm
    lx, ly = _medial_line(d)
    pts = np.column_stack([lx, ly])
    top, bot = sample(s.top, s.grid, pts), sample(s.bottom, s.grid, pts)
    xo = lx + sh
    ax.fill_between(xo, bot, top, color=FILL_C, lw=0)
    ax.plot(xo, top, color=TOP_C, lw=1.5, label="top")
    ax.plot(xo, bot, color=BOT_C, lw=1.0, label="bottom")
    L = d.outline.length_mm
    arch = (lx >= ARCH_RANGE[0] * L) & (lx <= ARCH_RANGE[1] * L) & np.isfinite(top)
    rim = c.heel_cup_rim_height_mm
    if arch.any():
        k = int(np.argmax(np.where(arch, top, -np.inf)))
        ty = top[k] + 8.0
        if np.isfinite(rim) and abs(ty - rim) < 5.0:  # keep clear of the heel-cup rim label
            ty = rim + 6.0
        ax.annotate(
            f"arch peak {c.arch_peak_height_mm:.1f} mm",
            (xo[k], top[k]),
            (xo[k], ty),
            ha="center",
            fontsize=9,
            arrowprops={"arrowstyle": "->", "lw": 0.8},
        )
    if np.isfinite(rim):
        ax.plot([xo.min(), xo.min() + 25.0], [rim, rim], color="C3", lw=1.2, ls="--")
        ax.text(xo.min() + 1.0, rim + 1.5, f"heel cup rim {rim:.1f} mm", va="bottom", fontsize=9, color="C3")
    zt = np.nanmax(np.append(top, rim if np.isfinite(rim) else 0.0))
    ax.set_ylim(min(0.0, float(np.nanmin(bot))) - 1.0, zt + 14.0)
    ax.set_xlabel("x (mm, heel → toes)")
    ax.set_ylabel("z (mm)")
    ax.set_title("medial profile (medial quarter line)", fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)


def _draw_heel(ax: Axes, d: Design) -> None:
    """Frontal section through the heel centre seen from behind: +y (the foot's left) on the viewer's left."""
    ms, c, rx = d.outline.medial_sign, d.checks, d.prescription
    hy = d.outline.heel_centre[1]
    ys, top, bot = _heel_section(d)
    ax.fill_between(ys, bot, top, color=FILL_C, lw=0)
    ax.plot(ys, top, color=TOP_C, lw=1.5)
    ax.plot(ys, bot, color=BOT_C, lw=1.0)
    zc = float(sample(d.surfaces.top, d.surfaces.grid, np.array([d.outline.heel_centre]))[0])
    a = c.rearfoot_frontal_angle_deg
    if np.isfinite(a) and np.isfinite(zc):
        yy = hy + np.array([-1.0, 1.0]) * 0.5 * d.outline.heel_half_width
        ax.plot(yy, zc + np.tan(np.radians(a)) * ms * (yy - hy), color="C3", lw=1.2, ls="--", zorder=3)
    zt = float(np.nanmax(top)) if top.size else 10.0
    for name, sign in (("medial", ms), ("lateral", -ms)):  # +y edge is on the viewer's left
        ye, ha = (ys.max(), "left") if sign > 0 else (ys.min(), "right")
        ax.text(ye, zt + 2.0, name, ha=ha, va="bottom", fontsize=10, weight="bold")
    ax.text(
        0.5,
        0.97,
        f"rearfoot post prescribed {rx.rearfoot_post_deg:+.1f}°\n"
        f"measured heel seat {a:+.1f}° (+ = medial up)",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=9,
        color="C3",
    )
    ax.set_xlim(ys.max() + 6.0, ys.min() - 6.0)  # inverted: seen from behind, +y on the left
    ax.set_ylim(min(0.0, float(np.nanmin(bot))) - 1.0, zt + 22.0)
    ax.set_aspect("equal")
    ax.set_xlabel("y (mm), seen from behind")
    ax.set_ylabel("z (mm)")
    ax.set_title(
        f"{d.foot.side} heel section at x = {d.outline.heel_centre[0] + d.x_shift_mm:.0f} mm", fontsize=9
    )


def preview_figure(design: Design, title: str | None = None) -> Figure:
    """Top view of the thickness, medial profile and heel section of one device, in one figure."""
    fig = _new_figure((12.0, 8.0))
    gs = fig.add_gridspec(2, 3, height_ratios=[1.0, 1.0])
    ax_top = fig.add_subplot(gs[0, :])
    im = _draw_top(ax_top, design)
    fig.colorbar(im, cax=ax_top.inset_axes((1.02, 0.0, 0.02, 1.0)), label="thickness (mm)")
    _draw_side(fig.add_subplot(gs[1, :2]), design)
    _draw_heel(fig.add_subplot(gs[1, 2]), design)
    fig.suptitle(title or f"{_head(design)}\n{_rx_line(design)}", fontsize=11)
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
        axes[0, col].set_title(f"{_head(d)}\n{_rx_line(d)}", fontsize=8)
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
