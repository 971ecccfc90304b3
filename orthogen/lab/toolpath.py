"""Toolpaths for a blank: roughing in z-levels, ball-end finishing raster, profile cut with tabs.

Everything is in the blank's frame (mm; origin at the blank's corner, z = 0 on its top, the parts'
flat bottoms on z = -T). The tool heights come from opencamlib's drop-cutter over the parts' top
triangles (:mod:`orthogen.lab.dropcutter`), so no tool position cuts below the design:

* **roughing** (flat mill): raster lines ``step_over`` x diameter apart; each z-level cuts where
  material is left, the tool riding ``stock_mm`` above the design where that is higher than the level;
* **finishing** (ball mill): raster lines along x, ``2 sqrt(2 R h - h^2)`` apart for the scallop
  target ``h`` on the flat, with part lines added half-way wherever the ball swept along them
  leaves more than ``h`` + 0.05 mm off the design (on the simulation's cells); linked zig-zag;
* **profile** (flat mill): around each outline (climb, clockwise), stepping down to the blank's
  bottom; the last passes below the tab height lift over ``tabs`` holding tabs.

The result is a sequence of moves per operation; :mod:`orthogen.lab.gcode` writes it out.
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import LinearRing, Polygon, box
from shapely.ops import unary_union

from orthogen.foot.heightmap import Grid, envelopes
from orthogen.lab.dropcutter import WORKERS, DropCutter, sample_polyline, simplify, staircase
from orthogen.lab.finishing import finishing, intervals, line_ys
from orthogen.lab.mill_data import Feeds, MillOptions, Tool
from orthogen.lab.moves import (
    CLEAR_MM,
    FEED,
    PLUNGE,
    ROUGH_STEP_SLOPE,
    SIMPLIFY_MM,
    Moves,
    Operation,
    Toolpath,
)

#: Roughing samples every this many mm, refined where the chord would eat half the stock.
ROUGH_SAMPLE_MM = 2.0


def roughing(
    dc: DropCutter, region: Polygon, tool: Tool, feeds: Feeds, floor_z: float, safe_z: float, stock: float
) -> Operation:
    """Z-level roughing over ``region`` (tool centres) with ``dc`` (flat tool grown by the stock)."""
    _, ylo, _, yhi = region.bounds
    ys = line_ys(ylo, yhi, feeds.step_over * tool.diameter_mm)
    segs = [(y, a, b) for y in ys for a, b in intervals(region, y)]
    paths = sample_polyline(
        dc,
        [np.array([a, y]) for y, a, _ in segs],
        [np.array([b, y]) for y, _, b in segs],
        ROUGH_SAMPLE_MM,
        stock / 2,
        np.inf,
        ROUGH_SAMPLE_MM / 4,
    )
    paths = [staircase(p, ROUGH_STEP_SLOPE) for p in paths]
    n_levels = max(int(np.ceil(-floor_z / feeds.step_down_mm - 1e-9)), 1)
    levels = np.maximum(-feeds.step_down_mm * np.arange(1, n_levels + 1), floor_z)
    moves = Moves(safe_z)
    for k, level in enumerate(levels):
        above = 0.0 if k == 0 else float(levels[k - 1])
        for j, path in enumerate(paths):
            p = path if j % 2 == 0 else path[::-1]
            todo = p[:, 2] < above - 1e-6
            if not todo.any():
                continue
            # runs of samples with material at this level, one sample beyond each end
            grow = todo | np.r_[todo[1:], False] | np.r_[False, todo[:-1]]
            edges = np.flatnonzero(np.diff(np.r_[0, grow.astype(np.int8), 0]))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                run = p[a:b].copy()
                run[:, 2] = np.maximum(run[:, 2], level)
                run = simplify(run, SIMPLIFY_MM)
                moves.enter(run[0], max(above, run[0, 2]) + CLEAR_MM)
                moves.add(run[1:], FEED)
    return moves.operation(
        "roughing", tool, feeds, {"levels_mm": [round(float(z), 3) for z in levels], "lines": len(ys)}
    )


def _ring_with_tabs(ring: np.ndarray, tabs: int, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Ring points (closed, first = last) with tab boundaries inserted, and an in-tab flag per point."""
    seg = np.linalg.norm(np.diff(ring, axis=0), axis=1)
    s = np.r_[0.0, np.cumsum(seg)]
    perim = s[-1]
    centres = (np.arange(tabs) + 0.5) * perim / max(tabs, 1)
    bounds = np.concatenate([centres - half, centres + half]) if tabs else np.zeros(0)
    s_all = np.unique(np.concatenate([s, bounds]))
    pts = np.column_stack([np.interp(s_all, s, ring[:, 0]), np.interp(s_all, s, ring[:, 1])])
    in_tab = np.zeros(len(s_all), bool)
    for c in centres:
        in_tab |= np.abs(s_all - c) <= half + 1e-9
    return pts, in_tab


def profile(
    outlines: list[Polygon],
    tops: list[float],
    tool: Tool,
    feeds: Feeds,
    bottom_z: float,
    tab_top_z: float,
    options: MillOptions,
    safe_z: float,
) -> Operation:
    """Cut each outline free (climb, clockwise) down to ``bottom_z``, over tabs up to ``tab_top_z``."""
    moves = Moves(safe_z)
    half = options.tab_width_mm / 2 + tool.radius
    tab_count = []
    for outline, top in zip(outlines, tops, strict=True):
        ring = np.asarray(outline.buffer(tool.radius, quad_segs=16).exterior.coords)
        if LinearRing(ring).is_ccw:
            ring = ring[::-1]  # clockwise around the part: climb milling with a clockwise spindle
        start = int(np.argmin(ring[:-1, 0]))
        ring = np.vstack([ring[start:-1], ring[:start], ring[start : start + 1]])
        perim = float(np.sum(np.linalg.norm(np.diff(ring, axis=0), axis=1)))
        tabs = min(options.tabs, int(perim / (4 * half)))  # tabs take at most half the perimeter
        pts, in_tab = _ring_with_tabs(ring, tabs, half)
        tab_count.append(tabs)
        z_start = min(top + options.stock_mm, 0.0)
        n = max(int(np.ceil((z_start - bottom_z) / feeds.step_down_mm - 1e-9)), 1)
        levels = np.maximum(z_start - feeds.step_down_mm * np.arange(1, n + 1), bottom_z)
        moves.enter(np.r_[pts[0], levels[0]], z_start + CLEAR_MM)
        for k, z in enumerate(levels):
            if k:
                moves.add(np.r_[pts[0], z], PLUNGE)
            if z >= tab_top_z or not tabs:
                moves.add(np.column_stack([pts[1:], np.full(len(pts) - 1, z)]), FEED)
                continue
            zt = np.where(in_tab, tab_top_z, z)
            for i in range(1, len(pts)):
                if zt[i] > zt[i - 1]:  # reach the tab's start low, then step up onto it
                    moves.add(np.r_[pts[i], zt[i - 1]], FEED)
                    moves.add(np.r_[pts[i], zt[i]], PLUNGE)
                elif zt[i] < zt[i - 1]:  # step down where the tab ends, then go on low
                    moves.add(np.r_[pts[i - 1], zt[i]], PLUNGE)
                    moves.add(np.r_[pts[i], zt[i]], FEED)
                else:
                    moves.add(np.r_[pts[i], zt[i]], FEED)
    return moves.operation("profile", tool, feeds, {"tabs": tab_count, "tab_top_mm": round(tab_top_z, 3)})


def build_toolpath(
    triangles: np.ndarray,
    outlines: list[Polygon],
    tops: list[float],
    size: tuple[float, float, float],
    tools: dict[str, Tool],
    material: str,
    options: MillOptions,
    safe_z: float,
) -> Toolpath:
    """All operations for one blank.

    Parameters
    ----------
    triangles : (m, 3, 3) up-facing triangles of every part, blank frame (mm).
    outlines : each part's outline polygon, blank frame.
    tops : each part's highest point (blank z, mm).
    size : blank (length, width, thickness), mm.
    tools : ``rough``, ``finish`` and ``profile`` tools.
    """
    length, width, thick = size
    bottom = -thick
    centres = box(0.0, 0.0, length, width)  # tool centres stay over the blank
    rb, rr = tools["finish"].radius, tools["rough"].radius
    shape = unary_union(outlines)
    fin_region = shape.buffer(rb).intersection(centres)
    rough_region = shape.buffer(2 * rb + 1.0).intersection(centres)
    grid = Grid.covering(np.array(fin_region.bounds[:2]), np.array(fin_region.bounds[2:]), 1.0)
    faces = np.arange(3 * len(triangles)).reshape(-1, 3)
    top = envelopes(triangles.reshape(-1, 3), faces, grid)[1]
    # the drop-cutter's floor (and the tabs' top) stays under the thinnest part of every top surface
    floor_z = bottom + min(options.tab_height_mm, 0.8 * (float(np.nanmin(top)) - bottom))
    feeds = {op: t.feeds(material) for op, t in tools.items()}
    with DropCutter(triangles, "flat", rr, floor_z, offset=options.stock_mm, workers=WORKERS) as dc:
        rough = roughing(dc, rough_region, tools["rough"], feeds["rough"], floor_z, safe_z, options.stock_mm)
        dropped = dc.points_dropped
    fin, fin_dropped = finishing(
        triangles,
        outlines,
        floor_z,
        fin_region,
        tools["finish"],
        feeds["finish"],
        options.scallop_mm,
        options.sample_mm,
        options.sim_cell_mm,
        safe_z,
    )
    dropped += fin_dropped
    prof = profile(outlines, tops, tools["profile"], feeds["profile"], bottom, floor_z, options, safe_z)
    return Toolpath((rough, fin, prof), safe_z, floor_z, floor_z, dropped)
