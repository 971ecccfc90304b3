#!/usr/bin/env python
"""Render plantar maps of the real foot scans for marking anatomical landmarks by hand.

    python tools/render_plantar.py                         # every scan of SCANS -> /tmp/marks_png
    python tools/render_plantar.py aetrex/dupontgu_left.stl --crop ball:160:230:-60:10
    python tools/render_plantar.py --marks tests/fixtures/landmarks_marked.json   # draw the marks
    python tools/render_plantar.py --lift MARKS.json -o tests/fixtures/landmarks_marked.json
    python tools/render_plantar.py --rebase tests/fixtures/landmarks_marked.json -o NEW.json

Each scan is measured with orthogen's own pipeline (``measure_scan``); everything is drawn in the
standard frame (mm, x from the heel back toward the toes, y to the left, seen from above, so a left
foot's medial side is at the bottom and a right foot's at the top). Per scan ``<stem>_*.png``:

* ``maps``: (1) plantar height map, hillshade and 1 mm contours; (2) Laplacian of the 2 mm-smoothed
  height (red = bowl, a local low such as a met head or the heel pad; blue = ridge, a crease going up
  into the foot such as the toe sulcus); (3) the footprint outline over the low-height bands (contact
  area at 0.5 / 1 / 2 / 3 / 5 / 8 mm) with the scan points' medial and lateral edges; all on a mm grid.
* ``views`` (closed full-foot scans only): the foot seen from above, horizontal sections of the mesh
  at 1-30 mm (contact edge, toe and MPJ bulges when the sole is pressed flat), medial and lateral views.
* ``frontal`` / ``sagittal``: sections of the height map across / along the foot (through the marks
  when drawing marks; ``--x`` / ``--y`` choose them), and the footprint half-widths along x.
* ``heel``, ``arch``, ``fore`` (and any ``--crop``): zoomed height (0.5 mm contours), Laplacian, local
  relief (height minus its 8 mm smoothing: met heads and toe pads low, creases high) and height bands
  or mesh sections, on a 1 mm grid.

``--marks FILE`` draws a marks file (``tests/fixtures/landmarks_marked.json`` layout) on every picture:
filled dots at ``marks_std`` and crosses where ``marks_scan`` lands through today's alignment; the
sections then run through the marks. ``--lift`` writes the fixture from hand marks (standard frame,
x y per mark): each mark is lifted onto the plantar surface (z from the height map) and mapped back
through the inverse of the measure report's transform into the scan file's own coordinates.
``--rebase`` does the reverse after an intended alignment change: marks_std from marks_scan.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED = ROOT.parent / "shared" / "foot_scans"

#: The scans marked, with the measure options they need (polycron has no scale: 250 mm given).
SCANS: dict[str, dict] = {
    "aetrex/dupontgu_left.stl": {"units": None, "foot_length_mm": None},
    "aetrex/dupontgu_right.stl": {"units": None, "foot_length_mm": None},
    "techmed3d/verdier_right_plantar.obj": {"units": None, "foot_length_mm": None},
    "foambox/seraph_a_left.ply": {"units": None, "foot_length_mm": None},
    "foambox/seraph_a_left.scan": {"units": None, "foot_length_mm": None},
    "foambox/seraph_a_right.ply": {"units": None, "foot_length_mm": None},
    "foambox/seraph_a_right.scan": {"units": None, "foot_length_mm": None},
    "imprint/polycron_left.ply": {"units": None, "foot_length_mm": 250.0},
    "phone/kotak_mobile1.stl": {"units": None, "foot_length_mm": None},
}

#: Landmark names in fixture order, with the short label drawn on the maps and a colour.
LANDMARKS: dict[str, tuple[str, str]] = {
    "heel_centre": ("HC", "#d62728"),
    "arch_apex": ("AA", "#ff7f0e"),
    "met_head_1": ("M1", "#1f77b4"),
    "met_head_5": ("M5", "#17becf"),
    "mpj_1": ("J1", "#9467bd"),
    "mpj_5": ("J5", "#e377c2"),
    "sulcus_medial": ("SM", "#2ca02c"),
    "sulcus_lateral": ("SL", "#bcbd22"),
    "hallux_tip": ("HT", "#8c564b"),
}

#: Smoothing (mm) before the Laplacian: below it the scanner's noise dominates.
LAPLACE_SIGMA_MM = 2.0
#: Colour range of the height map (mm) when a box holds no footprint cell.
HEIGHT_CLIP_MM = 25.0


# ---------------------------------------------------------------------------
# measuring and map arithmetic
# ---------------------------------------------------------------------------


def measure(rel: str, options: dict | None = None):
    """``measure_scan`` of ``SHARED/rel`` with the scan's measure options (dict as in SCANS)."""
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan

    opt = SCANS.get(rel, {}) if options is None else options
    return measure_scan(
        SHARED / rel, MeasureOptions(units=opt.get("units"), foot_length_mm=opt.get("foot_length_mm"))
    )


def transform(foot) -> np.ndarray:
    """The 4x4 scan-file -> standard-frame transform exactly as the measure report states it."""
    return np.asarray(foot.report()["transform_to_standard_frame"], float)


def smooth_nan(h: np.ndarray, sigma_cells: float) -> np.ndarray:
    """Gaussian smoothing of a map with NaNs (normalised convolution); NaN stays NaN."""
    from scipy import ndimage

    ok = np.isfinite(h)
    num = ndimage.gaussian_filter(np.where(ok, h, 0.0), sigma_cells)
    den = ndimage.gaussian_filter(ok.astype(float), sigma_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(ok, out, np.nan)


def laplacian(plantar, sigma_mm: float = LAPLACE_SIGMA_MM) -> np.ndarray:
    """Laplacian (1/mm) of the smoothed plantar height; + = bowl (local low), - = ridge."""
    from scipy import ndimage

    s = plantar.grid.spacing
    h = smooth_nan(plantar.height, sigma_mm / s)
    filled = np.where(np.isfinite(h), h, np.nanmax(h))
    lap = ndimage.laplace(filled) / (s * s)
    inner = ndimage.binary_erosion(np.isfinite(h), iterations=2)
    return np.where(inner, lap, np.nan)


def filled_height(plantar) -> np.ndarray:
    """The height map with every NaN cell given its nearest footprint cell's height."""
    from scipy import ndimage

    h = plantar.height
    _, idx = ndimage.distance_transform_edt(~np.isfinite(h), return_indices=True)
    return h[tuple(idx)]


def height_at(plantar, xy: np.ndarray) -> np.ndarray:
    """Plantar height (mm) at points ``xy`` (k, 2), bilinear; off the footprint: the nearest cell's."""
    from scipy import ndimage

    ij = plantar.grid.to_index(np.atleast_2d(xy))
    return ndimage.map_coordinates(filled_height(plantar), ij.T, order=1, mode="nearest")


def lift(foot, marks_std: dict) -> dict:
    """Marks (x, y) in the standard frame -> (x, y, z) in the scan file's coordinates."""
    m_inv = np.linalg.inv(transform(foot))
    out = {}
    for name, p in marks_std.items():
        if p is None:
            out[name] = None
            continue
        z = float(height_at(foot.plantar, np.array([p[:2]]))[0])
        q = m_inv @ np.array([p[0], p[1], z, 1.0])
        out[name] = [float(f"{c:.9g}") for c in q[:3]]
    return out


def to_std(foot, marks_scan: dict) -> dict:
    """Marks (x, y, z) in scan-file coordinates -> (x, y) in today's standard frame."""
    m = transform(foot)
    out = {}
    for name, p in marks_scan.items():
        out[name] = None if p is None else [float(c) for c in (m @ np.array([*p, 1.0]))[:2]]
    return out


# ---------------------------------------------------------------------------
# drawing
# ---------------------------------------------------------------------------


def _extent(grid) -> tuple[float, float, float, float]:
    x, y = grid.axes()
    s = grid.spacing / 2
    return (x[0] - s, x[-1] + s, y[0] - s, y[-1] + s)


def _mm_grid(ax, box, major: float, minor: float) -> None:
    """Labelled major ticks and a light minor grid every ``minor`` mm inside ``box`` (x0, x1, y0, y1)."""
    x0, x1, y0, y1 = box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xticks(np.arange(np.ceil(x0 / major) * major, x1 + 1e-9, major))
    ax.set_yticks(np.arange(np.ceil(y0 / major) * major, y1 + 1e-9, major))
    ax.set_xticks(np.arange(np.ceil(x0 / minor) * minor, x1 + 1e-9, minor), minor=True)
    ax.set_yticks(np.arange(np.ceil(y0 / minor) * minor, y1 + 1e-9, minor), minor=True)
    ax.grid(which="minor", color="k", lw=0.25, alpha=0.18)
    ax.grid(which="major", color="k", lw=0.6, alpha=0.45)
    ax.tick_params(labelsize=7, top=True, right=True, labeltop=True, labelright=True)
    ax.tick_params(axis="x", labelrotation=90)
    ax.set_aspect("equal")


def _draw_height(ax, plantar, box, contour_step: float = 1.0) -> None:
    """Hillshaded height map; colours span the 2-90th percentile of the heights inside ``box``."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LightSource, Normalize

    h = plantar.height
    X, Y = plantar.grid.mesh()
    inside = np.isfinite(h) & (X >= box[0]) & (X <= box[1]) & (Y >= box[2]) & (Y <= box[3])
    lo, hi = np.percentile(h[inside], [2, 90]) if inside.any() else (0.0, HEIGHT_CLIP_MM)
    hi = max(hi, lo + 2.0)
    filled = np.where(np.isfinite(h), h, hi)
    ls = LightSource(azdeg=315, altdeg=35)
    rgb = ls.shade(
        np.clip(filled, lo, hi).T,
        cmap=plt.get_cmap("turbo"),
        norm=Normalize(lo, hi),
        blend_mode="soft",
        vert_exag=3.0,
        dx=plantar.grid.spacing,
        dy=plantar.grid.spacing,
    )
    rgb[~np.isfinite(h).T] = 1.0
    ax.imshow(rgb, origin="lower", extent=_extent(plantar.grid), interpolation="nearest")
    top = min(float(np.nanmax(h)), 40.0)
    levels = np.arange(0.0, top + contour_step, contour_step)
    cs = ax.contour(X, Y, h, levels=levels, colors="k", linewidths=0.3, alpha=0.6)
    ax.clabel(cs, levels=[lv for lv in levels if lv % 5 == 0 and lv > 0], fontsize=6, fmt="%g")
    _outline(ax, plantar)
    _mm_grid(ax, box, 10 if contour_step >= 1 else 5, 5 if contour_step >= 1 else 1)


def _draw_laplacian(ax, plantar, lap, box, fig=None) -> None:
    lim = float(np.nanpercentile(np.abs(lap), 97)) or 1.0
    im = ax.imshow(
        lap.T,
        origin="lower",
        extent=_extent(plantar.grid),
        cmap="RdBu_r",
        vmin=-lim,
        vmax=lim,
        interpolation="nearest",
    )
    X, Y = plantar.grid.mesh()
    h = plantar.height
    ax.contour(X, Y, h, levels=np.arange(0, 41, 2.0), colors="k", linewidths=0.25, alpha=0.45)
    _outline(ax, plantar)
    if fig is not None:
        fig.colorbar(im, ax=ax, shrink=0.8, pad=0.01, label="Laplacian 1/mm: + bowl (low), - ridge")
    major = 10 if box[1] - box[0] > 150 else 5
    _mm_grid(ax, box, major, 5 if major == 10 else 1)


def _draw_contact(ax, plantar, box) -> None:
    X, Y = plantar.grid.mesh()
    h = plantar.height
    bands = [0, 0.5, 1, 2, 3, 5, 8, 12, 20, 41]
    ax.contourf(X, Y, h, levels=bands, cmap="magma", alpha=0.85)
    ax.contour(X, Y, h, levels=bands[1:-1], colors="k", linewidths=0.3)
    _outline(ax, plantar, lw=1.6)
    x, _ = plantar.grid.axes()
    ey = plantar.edge_y
    ax.plot(x, ey[:, 0], color="c", lw=0.8)
    ax.plot(x, ey[:, 1], color="c", lw=0.8)
    _mm_grid(ax, box, 10, 5)


def _outline(ax, plantar, lw: float = 1.0) -> None:
    ox, oy = plantar.outline.exterior.xy
    ax.plot(ox, oy, color="k", lw=lw)


def _medial_label(ax, foot, box) -> None:
    medial_top = foot.side == "right"
    y = box[3] if medial_top else box[2]
    ax.text(
        box[0] + 2,
        y,
        f"{foot.side.upper()} foot: MEDIAL this edge",
        va="top" if medial_top else "bottom",
        fontsize=8,
        color="darkred",
        bbox={"fc": "w", "alpha": 0.7, "lw": 0},
    )


def _draw_marks(ax, marks: dict | None, check: dict | None = None, size: float = 40) -> None:
    for name, (label, colour) in LANDMARKS.items():
        p = (marks or {}).get(name)
        if p is not None:
            ax.scatter([p[0]], [p[1]], s=size, c=colour, edgecolors="w", linewidths=0.8, zorder=5)
            ax.annotate(
                label,
                (p[0], p[1]),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=8,
                color=colour,
                weight="bold",
                zorder=6,
                bbox={"fc": "w", "alpha": 0.6, "lw": 0, "pad": 0.5},
            )
        q = (check or {}).get(name)
        if q is not None:
            ax.scatter([q[0]], [q[1]], s=size * 1.5, c="k", marker="x", linewidths=0.9, zorder=6)


def _foot_box(plantar, pad: float = 4.0) -> tuple[float, float, float, float]:
    b = plantar.outline.bounds
    return (b[0] - pad, b[2] + pad, b[1] - pad, b[3] + pad)


def render_maps(foot, stem: str, out: Path, marks=None, check=None) -> Path:
    import matplotlib.pyplot as plt

    p = foot.plantar
    box = _foot_box(p)
    w = (box[1] - box[0]) / 25.4 * 0.62
    h = (box[3] - box[2]) / 25.4 * 0.62
    fig, axes = plt.subplots(3, 1, figsize=(w + 1.5, 3 * h + 2.4), constrained_layout=True)
    _draw_height(axes[0], p, box)
    axes[0].set_title(f"{stem}: plantar height (mm above floor), 1 mm contours, hillshade", fontsize=9)
    _draw_laplacian(axes[1], p, laplacian(p), box, fig)
    axes[1].set_title(f"Laplacian of the height smoothed {LAPLACE_SIGMA_MM:g} mm", fontsize=9)
    _draw_contact(axes[2], p, box)
    axes[2].set_title(
        "footprint outline (black) and scan-point edges (cyan) over height bands 0.5/1/2/3/5/8/12/20 mm",
        fontsize=9,
    )
    for ax in axes:
        _medial_label(ax, foot, box)
        _draw_marks(ax, marks, check)
    path = out / f"{stem}_maps.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _depth_image(ax, v, faces, axes_idx, depth_idx, lower: bool, box, spacing: float = 0.5) -> None:
    """Shaded depth image of a mesh seen along one axis (first surface hit from that side)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LightSource, Normalize

    from orthogen.foot.heightmap import Grid, envelopes

    w = v[:, [*axes_idx, depth_idx]].copy()
    if lower:
        w[:, 2] = -w[:, 2]  # the surface nearest the viewer on the low side = highest of the negated
    g = Grid.covering(np.array([box[0], box[2]]), np.array([box[1], box[3]]), spacing)
    _, hi = envelopes(w, faces, g)
    d = hi  # nearness to the viewer: shaded as a height
    ok = np.isfinite(d)
    lo_, top = (np.nanpercentile(d, 1), np.nanpercentile(d, 99)) if ok.any() else (0, 1)
    ls = LightSource(azdeg=315, altdeg=40)
    rgb = ls.shade(
        np.where(ok, d, lo_).T,
        cmap=plt.get_cmap("cividis"),
        norm=Normalize(lo_, top),
        blend_mode="soft",
        vert_exag=2.0,
        dx=spacing,
        dy=spacing,
    )
    rgb[~ok.T] = 1.0
    ax.imshow(rgb, origin="lower", extent=_extent(g), interpolation="nearest")
    X, Y = g.mesh()
    ax.contour(
        X, Y, d, levels=np.arange(np.floor(lo_ / 5) * 5, top + 5, 5.0), colors="k", linewidths=0.3, alpha=0.5
    )


#: Heights (mm) of the horizontal mesh sections drawn in the views: the contact edge, the ball's
#: sides, the toes' and the forefoot's dorsum.
SLICE_HEIGHTS_MM = (1, 3, 6, 10, 15, 20, 25, 30)


def _slices(ax, v, faces, heights=SLICE_HEIGHTS_MM) -> None:
    """Horizontal sections of the mesh at ``heights`` (mm), coloured low (dark) to high (yellow)."""
    import matplotlib.pyplot as plt
    import trimesh

    mesh = trimesh.Trimesh(v, faces, process=False)
    colours = plt.get_cmap("viridis")(np.linspace(0, 1, len(heights)))
    for c, z in zip(colours, heights, strict=True):
        sec = mesh.section(plane_origin=[0, 0, z], plane_normal=[0, 0, 1])
        if sec is None:
            continue
        for k, e in enumerate(sec.discrete):
            ax.plot(e[:, 0], e[:, 1], color=c, lw=0.9, label=f"z = {z:g} mm" if k == 0 else None)
    ax.legend(fontsize=6, loc="upper left", ncols=4)


def render_views(foot, stem: str, out: Path, marks=None, zcut: float = 70.0) -> Path:
    """Closed (full-foot) scans: from above, horizontal sections, from the medial and lateral side.

    The dorsal view is the upper surface of the mesh below ``zcut`` mm (the leg stub cut off): toes
    and the MPJ bulges show there and in the sections even when the sole is pressed flat.
    """
    import matplotlib.pyplot as plt

    p = foot.plantar
    v = foot.vertices
    faces = foot.scan.faces
    f = faces[(v[faces][:, :, 2] < zcut).all(axis=1)]
    box = _foot_box(p)
    zbox = (box[0], box[1], -2.0, zcut)
    medial_low = foot.side == "left"
    w = (box[1] - box[0]) / 25.4 * 0.62
    h = (box[3] - box[2]) / 25.4 * 0.62
    hz = (zcut + 2) / 25.4 * 0.62
    fig, axes = plt.subplots(
        4,
        1,
        figsize=(w + 1.5, 2 * h + 2 * hz + 3.2),
        constrained_layout=True,
        gridspec_kw={"height_ratios": [h, h, hz, hz]},
    )
    _depth_image(axes[0], v, f, (0, 1), 2, lower=False, box=box)
    _outline(axes[0], p)
    axes[0].set_title(
        f"{stem}: seen from above (upper surface below z = {zcut:g} mm), 5 mm contours", fontsize=9
    )
    _slices(axes[1], v, faces)
    axes[1].set_title("horizontal sections of the mesh", fontsize=9)
    for ax in axes[:2]:
        _mm_grid(ax, box, 10, 2)
        _medial_label(ax, foot, box)
        _draw_marks(ax, marks)
    for ax, low, name in ((axes[2], medial_low, "medial"), (axes[3], not medial_low, "lateral")):
        _depth_image(ax, v, f, (0, 2), 1, lower=low, box=zbox)
        _mm_grid(ax, zbox, 10, 5)
        ax.set_title(f"seen from the {name} side (x right, z up); 5 mm depth contours", fontsize=9)
        for key, mk in (marks or {}).items():
            if mk is not None:
                lab, col = LANDMARKS[key]
                ax.axvline(mk[0], color=col, lw=0.8, alpha=0.8)
                ax.text(mk[0], zcut - 3, lab, color=col, fontsize=7, rotation=90, va="top")
    path = out / f"{stem}_views.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: Local relief: the height minus its smoothing over this many mm; met heads and toe pads (about
#: 15-25 mm across) show as lows, the sulcus and toe clefts as highs.
RELIEF_SIGMA_MM = 8.0


def relief(plantar, sigma_mm: float = RELIEF_SIGMA_MM) -> np.ndarray:
    """Plantar height minus its Gaussian smoothing over ``sigma_mm`` (mm); NaN off the footprint."""
    s = plantar.grid.spacing
    return smooth_nan(plantar.height, 1.0 / s) - smooth_nan(plantar.height, sigma_mm / s)


def _draw_relief(ax, plantar, box, fig=None) -> None:
    from scipy import ndimage

    r = relief(plantar)
    inner = ndimage.binary_erosion(plantar.footprint, iterations=max(1, round(4 / plantar.grid.spacing)))
    r = np.where(inner, r, np.nan)
    lim = float(np.nanpercentile(np.abs(r), 95)) or 1.0
    im = ax.imshow(
        r.T,
        origin="lower",
        extent=_extent(plantar.grid),
        cmap="PuOr_r",
        vmin=-lim,
        vmax=lim,
        interpolation="nearest",
    )
    X, Y = plantar.grid.mesh()
    ax.contour(X, Y, r, levels=np.arange(-5, 5.01, 0.25), colors="k", linewidths=0.25, alpha=0.5)
    _outline(ax, plantar)
    if fig is not None:
        fig.colorbar(im, ax=ax, shrink=0.8, pad=0.01, label=f"relief vs {RELIEF_SIGMA_MM:g} mm smoothing, mm")
    major = 10 if box[1] - box[0] > 150 else 5
    _mm_grid(ax, box, major, 5 if major == 10 else 1)


def render_crop(foot, stem: str, out: Path, name: str, box, marks=None, check=None) -> Path:
    """A zoomed box (x0, x1, y0, y1 mm): height, Laplacian, local relief (and mesh sections)."""
    import matplotlib.pyplot as plt

    p = foot.plantar
    scale = 7.0 / max(box[1] - box[0], box[3] - box[2])  # the larger side of a panel is 7 in
    w = (box[1] - box[0]) * scale
    h = (box[3] - box[2]) * scale
    full = foot.kind == "full_foot"
    fig, axes = plt.subplots(2, 2, figsize=(2 * w + 3.0, 2 * h + 1.6), constrained_layout=True)
    axes = axes.ravel()
    _draw_height(axes[0], p, box, contour_step=0.5)
    axes[0].set_title(f"{stem} {name}: height, 0.5 mm contours", fontsize=9)
    _draw_laplacian(axes[1], p, laplacian(p), box, fig)
    axes[1].set_title("Laplacian (+ bowl red, - ridge blue), 2 mm contours", fontsize=9)
    _draw_relief(axes[2], p, box, fig)
    axes[2].set_title("local relief (low = prominence toward the floor), 0.25 mm contours", fontsize=9)
    if full:
        _slices(axes[3], foot.vertices, foot.scan.faces)
        _outline(axes[3], p, lw=0.5)
        axes[3].set_title("horizontal sections of the mesh", fontsize=9)
    else:
        _draw_contact(axes[3], p, box)
        axes[3].set_title("height bands 0.5/1/2/3/5/8/12/20 mm, outline", fontsize=9)
    _mm_grid(axes[3], box, 5, 1)
    for ax in axes:
        _medial_label(ax, foot, box)
        _draw_marks(ax, marks, check, size=60)
    path = out / f"{stem}_{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _section_marks(ax, p, marks: dict, axis: int, at: float, horiz: int) -> None:
    for name, v in marks.items():
        if abs(v[axis] - at) <= 1.5:
            lab, col = LANDMARKS[name]
            z = float(height_at(p, np.array([v]))[0])
            ax.scatter([v[horiz]], [z], c=col, s=30, zorder=5)
            ax.annotate(lab, (v[horiz], z), xytext=(3, 3), textcoords="offset points", color=col, fontsize=8)


def render_sections(foot, stem: str, out: Path, xs=None, ys=None, marks=None) -> list[Path]:
    """Frontal sections at ``xs`` and sagittal sections at ``ys`` (mm), footprint edges along x.

    Written as ``<stem>_frontal.png`` and ``<stem>_sagittal.png``; heights 0-25 mm (walls clipped).
    """
    import matplotlib.pyplot as plt

    p = foot.plantar
    gx, gy = p.grid.axes()
    length = p.length_mm
    b = p.outline.bounds
    marks = {k: v for k, v in (marks or {}).items() if v is not None}
    if xs is None:
        xs = sorted({round(v[0]) for v in marks.values()}) or [
            round(f * length) for f in (0.08, 0.12, 0.16, 0.35, 0.42, 0.5, 0.6, 0.66, 0.72, 0.78, 0.84, 0.9)
        ]
    if ys is None:
        ys = sorted({round(v[1]) for v in marks.values()}) or list(
            np.arange(np.ceil(b[1] / 10 + 0.5) * 10, b[3] - 4, 10)
        )
    zmax = 25.0
    paths = []
    nf = len(xs)
    fig, axes = plt.subplots(
        (nf + 1) // 2, 2, figsize=(16, 2.6 * ((nf + 1) // 2) + 0.5), constrained_layout=True, squeeze=False
    )
    for k, x in enumerate(xs):
        ax = axes.ravel()[k]
        i = int(np.clip(round(p.grid.to_index(np.array([[x, 0.0]]))[0, 0]), 0, len(gx) - 1))
        ax.plot(gy, p.height[i], color="k", lw=1)
        ax.fill_between(gy, 0, p.height[i], color="0.85")
        _section_marks(ax, p, marks, 0, gx[i], 1)
        ax.set_title(
            f"{stem} frontal section x = {gx[i]:.0f} mm ({gx[i] / length:.0%} L); "
            f"{'medial right' if foot.side == 'right' else 'medial left'}",
            fontsize=8,
        )
        _section_axes(ax, (b[1] - 3, b[3] + 3), zmax, "y mm")
    for ax in axes.ravel()[nf:]:
        ax.set_visible(False)
    paths.append(out / f"{stem}_frontal.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    ns = len(ys)
    fig, axes = plt.subplots(ns + 1, 1, figsize=(16, 1.6 * ns + 2.5), constrained_layout=True, squeeze=False)
    for k, y in enumerate(ys):
        ax = axes[k, 0]
        j = int(np.clip(round(p.grid.to_index(np.array([[0.0, y]]))[0, 1]), 0, len(gy) - 1))
        ax.plot(gx, p.height[:, j], color="k", lw=1)
        ax.fill_between(gx, 0, p.height[:, j], color="0.85")
        _section_marks(ax, p, marks, 1, gy[j], 0)
        ax.set_title(f"{stem} sagittal section y = {gy[j]:.0f} mm", fontsize=8)
        _section_axes(ax, (b[0] - 3, b[2] + 3), zmax, "x mm")
    ax = axes[ns, 0]
    cols = p.footprint.any(axis=1)
    lo_cell = np.where(cols, gy[np.argmax(p.footprint, axis=1)], np.nan)
    hi_cell = np.where(cols, gy[len(gy) - 1 - np.argmax(p.footprint[:, ::-1], axis=1)], np.nan)
    mid = np.nanmean([np.nanmax(hi_cell), np.nanmin(lo_cell)])
    # both edges as distance from the foot's mid line, outward positive: bulges point up
    ax.plot(gx, hi_cell - mid, color="r", lw=1, label=f"max-y edge - {mid:.0f} mm")
    ax.plot(gx, mid - lo_cell, color="b", lw=1, label=f"{mid:.0f} mm - min-y edge")
    for key, v in marks.items():
        lab, col = LANDMARKS[key]
        d = v[1] - mid if v[1] > mid else mid - v[1]
        ax.scatter([v[0]], [d], c=col, s=30, zorder=5)
        ax.annotate(lab, (v[0], d), xytext=(3, 3), textcoords="offset points", color=col, fontsize=8)
    ax.set_ylim(20, np.nanmax([hi_cell - mid, mid - lo_cell]) + 3)
    ax.set_xlim(b[0] - 3, b[2] + 3)
    ax.set_title("footprint half-widths along x from the mid line (bulges = MPJ prominences)", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_xticks(np.arange(0, gx[-1] + 1, 10))
    ax.set_xticks(np.arange(0, gx[-1] + 1, 2), minor=True)
    ax.set_yticks(np.arange(20, 80, 5))
    ax.set_yticks(np.arange(20, 80, 1), minor=True)
    ax.grid(which="major", alpha=0.5)
    ax.grid(which="minor", alpha=0.15)
    ax.tick_params(labelsize=7)
    paths.append(out / f"{stem}_sagittal.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)
    return paths


def _section_axes(ax, xlim, zmax: float, xlabel: str) -> None:
    ax.set_xlim(*xlim)
    ax.set_ylim(-1, zmax)
    ax.set_xticks(np.arange(np.ceil(xlim[0] / 10) * 10, xlim[1], 10))
    ax.set_xticks(np.arange(np.ceil(xlim[0] / 2) * 2, xlim[1], 2), minor=True)
    ax.set_yticks(np.arange(0, zmax + 1, 5))
    ax.set_yticks(np.arange(0, zmax + 1, 1), minor=True)
    ax.grid(which="major", alpha=0.5)
    ax.grid(which="minor", alpha=0.15)
    ax.set_xlabel(xlabel, fontsize=7)
    ax.tick_params(labelsize=7)


def stem_of(rel: str) -> str:
    return rel.replace("/", "_").replace(".", "_")


def default_crops(plantar) -> dict[str, tuple[float, float, float, float]]:
    """Heel, arch and forefoot boxes (x0, x1, y0, y1 mm) from the footprint's own extent."""
    b = plantar.outline.bounds
    length = plantar.length_mm
    y0, y1 = b[1] - 3, b[3] + 3
    return {
        "heel": (b[0] - 3, b[0] + 0.32 * length, y0, y1),
        "arch": (b[0] + 0.25 * length, b[0] + 0.68 * length, y0, y1),
        "fore": (b[0] + 0.55 * length, b[2] + 3, y0, y1),
    }


# ---------------------------------------------------------------------------
# fixture writing
# ---------------------------------------------------------------------------


def dumps(data: dict) -> str:
    """JSON with one line per number list (points, matrix rows), so the fixture diffs and reads well."""
    import re

    text = json.dumps(data, indent=1)
    return (
        re.sub(
            r"\[\s*([-+0-9.eE,\s]+?)\s*\]",
            lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
            text,
        )
        + "\n"
    )


def lift_file(src: Path, dst: Path) -> None:
    """Write the fixture: marks_std (+ confidence, notes) of ``src`` lifted into scan coordinates."""
    data = json.loads(src.read_text())
    out = {"about": data.get("about", ""), "scans": {}}
    order = [r for r in SCANS if r in data["scans"]] + [r for r in data["scans"] if r not in SCANS]
    for rel in order:
        entry = data["scans"][rel]
        opts = entry.get("measure_options") or SCANS.get(rel, {"units": None, "foot_length_mm": None})
        foot = measure(rel, opts)
        marks_std = {k: entry["marks_std"].get(k) for k in LANDMARKS}
        out["scans"][rel] = {
            "measure_options": {"units": opts.get("units"), "foot_length_mm": opts.get("foot_length_mm")},
            "side": entry.get("side", foot.side),
            "transform_to_standard_frame": transform(foot).tolist(),
            "marks_std": {
                k: None if v is None else [round(float(c), 1) for c in v[:2]] for k, v in marks_std.items()
            },
            "marks_scan": lift(foot, marks_std),
            "confidence": {k: entry["confidence"].get(k) for k in LANDMARKS},
            "notes": {k: entry["notes"].get(k) for k in LANDMARKS},
        }
        if "same_capture_as" in entry:
            out["scans"][rel]["same_capture_as"] = entry["same_capture_as"]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(dumps(out))
    print(f"wrote {dst} ({len(out['scans'])} scans)")


def rebase_file(src: Path, dst: Path) -> None:
    """Recompute marks_std (and the stored transform) from marks_scan under today's alignment."""
    data = json.loads(src.read_text())
    for rel, entry in data["scans"].items():
        foot = measure(rel, entry["measure_options"])
        new = to_std(foot, entry["marks_scan"])
        for k, v in new.items():
            old = entry["marks_std"].get(k)
            if v is not None and old is not None:
                print(f"{rel} {k}: moved {np.hypot(v[0] - old[0], v[1] - old[1]):.2f} mm")
        entry["marks_std"] = {k: None if v is None else [round(c, 1) for c in v] for k, v in new.items()}
        entry["transform_to_standard_frame"] = transform(foot).tolist()
    data["about"] = data.get("about", "") + f" Rebased on {_dt.date.today().isoformat()}."
    dst.write_text(dumps(data))
    print(f"wrote {dst}")


# ---------------------------------------------------------------------------


def _parse_crop(text: str) -> tuple[str, tuple[float, float, float, float]]:
    name, *vals = text.split(":")
    if len(vals) == 2:
        return name, (float(vals[0]), float(vals[1]), float("nan"), float("nan"))
    if len(vals) != 4:
        raise argparse.ArgumentTypeError("--crop NAME:X0:X1[:Y0:Y1]")
    return name, tuple(float(v) for v in vals)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scans", nargs="*", help="paths under ../shared/foot_scans (default: all of SCANS)")
    ap.add_argument("--out", default="/tmp/marks_png", help="folder for the PNGs")
    ap.add_argument("--marks", help="marks file to draw (fixture layout)")
    ap.add_argument("--crop", action="append", type=_parse_crop, default=[], help="NAME:X0:X1[:Y0:Y1] mm")
    ap.add_argument("--x", type=float, action="append", help="frontal section at this x (mm), repeatable")
    ap.add_argument("--y", type=float, action="append", help="sagittal section at this y (mm), repeatable")
    ap.add_argument(
        "--only", choices=["maps", "views", "sections", "crops"], action="append", help="what to draw"
    )
    ap.add_argument("--lift", help="hand marks (fixture layout, marks_std filled) to lift into -o")
    ap.add_argument("--rebase", help="fixture whose marks_std to recompute from marks_scan into -o")
    ap.add_argument("-o", "--output", help="fixture file written by --lift / --rebase")
    a = ap.parse_args(argv)
    if a.lift or a.rebase:
        if not a.output:
            ap.error("--lift / --rebase need -o FILE")
        (lift_file if a.lift else rebase_file)(Path(a.lift or a.rebase), Path(a.output))
        return 0
    import matplotlib

    matplotlib.use("Agg")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    marks_data = json.loads(Path(a.marks).read_text())["scans"] if a.marks else {}
    rels = a.scans or (list(marks_data) if marks_data else list(SCANS))
    what = set(a.only or ["maps", "views", "sections", "crops"])
    for rel in rels:
        entry = marks_data.get(rel, {})
        foot = measure(rel, entry.get("measure_options"))
        stem = stem_of(rel)
        marks = entry.get("marks_std")
        check = to_std(foot, entry["marks_scan"]) if entry.get("marks_scan") else None
        p = foot.plantar
        b = p.outline.bounds
        print(
            f"{rel}: {foot.side}, L {p.length_mm:.1f} mm, x {b[0]:.0f}..{b[2]:.0f}, y {b[1]:.0f}..{b[3]:.0f}"
        )
        if "maps" in what:
            print("  ", render_maps(foot, stem, out, marks, check))
        if "views" in what and foot.kind == "full_foot":
            print("  ", render_views(foot, stem, out, marks))
        if "sections" in what:
            print("  ", render_sections(foot, stem, out, a.x, a.y, marks))
        if "crops" in what:
            crops = default_crops(p) if not a.crop else {}
            b = p.outline.bounds
            for name, box in a.crop:
                crops[name] = box if np.isfinite(box[2]) else (box[0], box[1], b[1] - 3, b[3] + 3)
            for name, box in crops.items():
                print("  ", render_crop(foot, stem, out, name, box, marks, check))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
