"""The plantar surface as a height map in the standard frame, with the footprint.

Pure array functions. Input: the scan's vertices already in the standard frame
(mm, z up, floor z = 0). Output: :class:`PlantarSurface` – the lowest surface
height over a regular grid (1 mm by default), the footprint silhouette mask and
outline polygon, and the contact print. Holes and noise do not matter: the
surface is sampled (a z-buffer of the triangles), small gaps are filled and
isolated spikes removed with a median filter; nothing is repaired in 3D.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from shapely.geometry import Polygon

from orthogen.foot.heightmap import Grid, close_square, fill_gaps, lower_envelopes_by_facing, open_square

#: Sole cells at most this high above the floor count as touching it (the "ink print"), mm.
CONTACT_HEIGHT_MM = 3.0
#: For a non-weight-bearing capture the loaded print is simulated: soft tissue under load spreads
#: by about this much, so cells this close to the floor count as contact, mm.
CONTACT_HEIGHT_NWB_MM = 7.0
#: A capture is weight-bearing when at least this share of its footprint lies within 1 mm of the
#: floor (loaded heel and ball flatten on the plate; measured: real weight-bearing scans 0.73,
#: non-weight-bearing shells, foam boxes, imprints and phone scans 0.06-0.09).
WEIGHT_BEARING_FLAT_SHARE = 0.2
#: Impressions: cells within this distance below the rim are foam top / rim, not foot, mm.
RIM_MARGIN_MM = 3.0
#: The footprint is the silhouette of the foot up to this height above the floor (mm): higher
#: overhangs (malleoli, a leg stub, a lifted non-weight-bearing toe box) are not footprint.
FOOTPRINT_MAX_HEIGHT_MM = 35.0
#: A flange is flatter than this slope (rise over run) and covers at least this share of the scan.
FLANGE_MAX_SLOPE = 0.25
FLANGE_MIN_SHARE = 0.05
FLANGE_MIN_HEIGHT_MM = 10.0
#: A second footprint part at least this share of the largest one means two feet in one scan.
SECOND_PART_SHARE = 0.35
#: Gaps up to about this size (mm) inside the footprint are filled.
MAX_GAP_MM = 6.0


@dataclass(frozen=True)
class PlantarSurface:
    """Plantar height map in the standard frame.

    Attributes
    ----------
    grid : the xy grid (mm).
    height : (nx, ny) mm above the weight-bearing plane; NaN outside the footprint.
    footprint : (nx, ny) bool, the foot's silhouette seen from below (the insole outline's basis).
    contact : (nx, ny) bool, footprint cells within CONTACT_HEIGHT_MM of the floor.
    outline : shapely Polygon of the footprint, mm.
    weight_bearing : whether the capture was loaded (see WEIGHT_BEARING_FLAT_SHARE).
    contact_height_mm : the contact threshold used (CONTACT_HEIGHT_MM or CONTACT_HEIGHT_NWB_MM).
    """

    grid: Grid
    height: np.ndarray
    footprint: np.ndarray
    contact: np.ndarray
    outline: Polygon
    weight_bearing: bool
    contact_height_mm: float
    extent_x: tuple[float, float]  # rearmost and foremost scan point of the footprint, mm
    edge_y: (
        np.ndarray
    )  # (nx, 2) per grid column: min and max y of the footprint's scan points, mm (NaN: none)

    def shifted_x(self, dx: float) -> PlantarSurface:
        """The same surface moved by ``dx`` mm along x (grid, outline and extents)."""
        from dataclasses import replace

        from shapely import affinity

        g = Grid((self.grid.origin[0] + dx, self.grid.origin[1]), self.grid.spacing, self.grid.shape)
        return replace(
            self,
            grid=g,
            outline=affinity.translate(self.outline, xoff=dx),
            extent_x=(self.extent_x[0] + dx, self.extent_x[1] + dx),
        )

    def scaled(self, k: float) -> PlantarSurface:
        """The same surface scaled uniformly by ``k`` about the origin (masks unchanged)."""
        from dataclasses import replace

        from shapely import affinity

        g = Grid((self.grid.origin[0] * k, self.grid.origin[1] * k), self.grid.spacing * k, self.grid.shape)
        return replace(
            self,
            grid=g,
            height=self.height * k,
            outline=affinity.scale(self.outline, k, k, origin=(0, 0)),
            extent_x=(self.extent_x[0] * k, self.extent_x[1] * k),
            edge_y=self.edge_y * k,
        )

    @property
    def length_mm(self) -> float:
        """Heel back to toe tip along x, from the scan's own points (not rounded to cells)."""
        return float(self.extent_x[1] - self.extent_x[0])


def despike(heights: np.ndarray, size: int = 3) -> np.ndarray:
    """Median-filter a height map with NaNs: removes single-cell spikes (laser outliers) both ways."""
    valid = np.isfinite(heights)
    if not valid.any():
        return heights.copy()
    fill = np.nanmedian(heights)
    med = ndimage.median_filter(np.where(valid, heights, fill), size=size, mode="nearest")
    out = np.where(valid, med, np.nan)
    return out


#: A hole in the sole of a closed scan lets the view from below reach the inside of the dorsum: cells
#: this much above the surrounding sole (grey opening over SEE_THROUGH_WINDOW_MM) are holes, mm.
SEE_THROUGH_JUMP_MM = 8.0
SEE_THROUGH_WINDOW_MM = 15.0
#: ...only this far inside the covered area, so the foot's own rising sides are never taken for holes, mm.
SEE_THROUGH_INSET_MM = 8.0


def remove_see_through(heights: np.ndarray, spacing: float) -> np.ndarray:
    """Set to NaN the cells where the view from below went through a hole in the sole.

    Such cells sit far above their neighbourhood's grey opening (a hole up to
    SEE_THROUGH_WINDOW_MM across becomes a plateau at the dorsum's height);
    only cells well inside the covered area are considered.
    """
    valid = np.isfinite(heights)
    if not valid.any():
        return heights
    big = np.nanmax(heights) + 100.0
    h = np.where(valid, heights, big)
    size = max(3, round(SEE_THROUGH_WINDOW_MM / spacing) | 1)
    opened = ndimage.grey_opening(h, size=(size, size))
    interior = ndimage.distance_transform_edt(valid) * spacing >= SEE_THROUGH_INSET_MM
    holes = interior & (h - opened > SEE_THROUGH_JUMP_MM)
    if not holes.any():
        return heights
    holes = ndimage.binary_dilation(holes, iterations=1) & valid
    return np.where(holes, np.nan, heights)


def sole_envelope(down: np.ndarray, up: np.ndarray) -> np.ndarray:
    """The lowest surface per cell (mm) without what is seen through holes in the sole.

    ``down`` and ``up`` are the lowest surfaces facing down and up (:func:`lower_envelopes_by_facing`).
    The sole is the facing that is lowest in most cells (down for a closed scan wound outwards, either
    for an open shell or an inverted impression). Where the other facing is lowest and the sole's
    facing is missing or more than SEE_THROUGH_JUMP_MM higher, the view went through a hole to the
    inside of the foot (a dorsum or side wall seen from within): those cells are NaN, for the gap
    filling to close from the sole around them. A triangle or two of flipped winding in the sole
    itself lies next to the sole's height and is kept.
    """
    lowest = np.fmin(down, up)
    d, u = np.nan_to_num(down, nan=np.inf), np.nan_to_num(up, nan=np.inf)
    down_first, up_first = np.count_nonzero(d < u), np.count_nonzero(u < d)
    sole, other = (d, u) if down_first >= up_first else (u, d)
    with np.errstate(invalid="ignore"):  # inf - inf where neither facing covers the cell
        inside = (other < sole) & (sole - other > SEE_THROUGH_JUMP_MM)
    return np.where(inside, np.nan, lowest)


def vertex_envelope(vertices: np.ndarray, grid: Grid) -> np.ndarray:
    """Quick lower envelope from vertices alone (min z per cell); NaN where no vertex. For rough passes."""
    ij = np.floor(grid.to_index(vertices[:, :2]) + 0.5).astype(np.int64)
    nx, ny = grid.shape
    ok = (ij[:, 0] >= 0) & (ij[:, 0] < nx) & (ij[:, 1] >= 0) & (ij[:, 1] < ny)
    out = np.full(nx * ny, np.inf)
    np.minimum.at(out, ij[ok, 0] * ny + ij[ok, 1], vertices[ok, 2])
    out[~np.isfinite(out)] = np.nan
    return out.reshape(nx, ny)


def vertices_in_mask(vertices: np.ndarray, mask: np.ndarray, grid: Grid) -> np.ndarray:
    """Boolean (n,): which vertices lie over a True cell of ``mask``."""
    ij = np.floor(grid.to_index(vertices[:, :2]) + 0.5).astype(np.int64)
    ok = (ij[:, 0] >= 0) & (ij[:, 0] < mask.shape[0]) & (ij[:, 1] >= 0) & (ij[:, 1] < mask.shape[1])
    out = np.zeros(len(vertices), bool)
    out[ok] = mask[ij[ok, 0], ij[ok, 1]]
    return out


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a boolean mask."""
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n <= 1:
        return mask.copy()
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


def rim_surface(heights: np.ndarray, grid: Grid) -> np.ndarray:
    """An impression's rim (foam top, or the crest of the box walls) as a fitted plane, mm.

    The highest 15 % of the cells are taken as rim, a plane is fitted to them by
    least squares and refitted twice without cells more than 2 mm off it, so a
    tilted or slightly uneven foam top is followed. Returns the plane's height
    over every cell (nx, ny).
    """
    X, Y = grid.mesh()
    ok = np.isfinite(heights)
    if ok.sum() < 10:
        return np.full(heights.shape, np.inf)
    sel = ok & (heights >= np.percentile(heights[ok], 85))
    coef = np.zeros(3)
    for _ in range(3):
        a = np.column_stack([X[sel], Y[sel], np.ones(sel.sum())])
        coef, *_ = np.linalg.lstsq(a, heights[sel], rcond=None)
        plane = coef[0] * X + coef[1] * Y + coef[2]
        keep = sel & (np.abs(heights - plane) < 2.0)
        if keep.sum() < 10:
            break
        sel = keep
    return coef[0] * X + coef[1] * Y + coef[2]


def flange_cells(heights: np.ndarray, grid: Grid) -> np.ndarray:
    """Cells of a flat flange around a cavity (an imprint's foam top, a foam box's surface).

    A flange lies on the fitted rim plane (within RIM_MARGIN_MM), is flat (slope under
    FLANGE_MAX_SLOPE) and reaches the outer border of the scanned area. It is judged from the
    geometry alone, so a scan whose faces are wound the other way is read the same. Returns an
    all-False mask when the flat part is under FLANGE_MIN_SHARE of the scan (no flange).
    """
    valid = np.isfinite(heights)
    none = np.zeros_like(valid)
    if valid.sum() < 50:
        return none
    rim = rim_surface(heights, grid)
    if np.nanmedian(rim[valid]) - np.nanpercentile(heights, 1) < FLANGE_MIN_HEIGHT_MM:
        return none  # a "rim" this close to the floor is the sole itself, not a foam top
    filled = np.where(valid, heights, np.nanmedian(heights))
    gx, gy = np.gradient(filled, grid.spacing)
    flat = np.hypot(gx, gy) < FLANGE_MAX_SLOPE
    cand = valid & flat & (np.abs(heights - rim) < RIM_MARGIN_MM)
    border = valid & ~ndimage.binary_erosion(valid, iterations=2)
    lab, n = ndimage.label(cand, structure=np.ones((3, 3)))
    if n == 0:
        return none
    touching = np.zeros(n + 1, bool)  # the labels of the parts that reach the border
    touching[lab[border & cand]] = True
    touching[0] = False
    flange = touching[lab]
    if flange.sum() < FLANGE_MIN_SHARE * valid.sum():
        return none
    # and the crest where the flange turns down into the cavity (within the rim band)
    crest = ndimage.binary_dilation(flange, iterations=3) & (np.abs(heights - rim) < RIM_MARGIN_MM)
    return flange | crest


def footprint_mask(heights: np.ndarray, grid: Grid, open_surface: bool = True) -> np.ndarray:
    """Footprint silhouette from a (despiked) lower-envelope height map.

    Covered cells up to FOOTPRINT_MAX_HEIGHT_MM above the floor and, on open scans, not on a
    flange (see :func:`flange_cells`), small gaps closed, holes filled, thin slivers opened away, the
    largest component kept.
    """
    spacing = grid.spacing
    mask = np.isfinite(heights) & (np.nan_to_num(heights, nan=np.inf) <= FOOTPRINT_MAX_HEIGHT_MM)
    if open_surface:  # a closed foot has no foam around it
        mask &= ~flange_cells(heights, grid)
    r = max(1, round(MAX_GAP_MM / 2 / spacing))
    mask = ndimage.binary_fill_holes(close_square(mask, r))
    mask = open_square(mask, max(1, round(1.5 / spacing)))
    lab, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n > 1:
        sizes = np.sort(np.bincount(lab.ravel())[1:])[::-1]
        if sizes[1] >= SECOND_PART_SHARE * sizes[0]:
            from orthogen.errors import ScanError

            raise ScanError(
                f"the scan holds {int(np.sum(sizes >= SECOND_PART_SHARE * sizes[0]))} foot-sized parts "
                "side by side (two feet?): give one foot per file"
            )
    return largest_component(mask)


def mask_outline(mask: np.ndarray, grid: Grid) -> Polygon:
    """The outline polygon (mm) of a boolean cell mask: the union of its cells, simplified to 0.25 mm."""
    from shapely import box

    ii, jj = np.nonzero(mask)
    if ii.size == 0:
        return Polygon()
    # merge runs of cells along y into rectangles, then union: fast and exact on the cell boundary
    s = grid.spacing
    x, y = grid.axes()
    key = ii * (mask.shape[1] + 1) + jj
    breaks = np.flatnonzero(np.diff(key) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [ii.size]]) - 1
    boxes = box(x[ii[starts]] - s / 2, y[jj[starts]] - s / 2, x[ii[ends]] + s / 2, y[jj[ends]] + s / 2)
    poly = shapely.union_all(boxes)
    if poly.geom_type != "Polygon":
        poly = max(poly.geoms, key=lambda p: p.area)
    return Polygon(poly.exterior).simplify(0.25 * s)


def extract_plantar(
    vertices: np.ndarray,
    faces: np.ndarray,
    spacing: float = 1.0,
    open_surface: bool = True,
) -> PlantarSurface:
    """Plantar surface of a scan already in the standard frame.

    Parameters
    ----------
    vertices : (n, 3) mm, standard frame (floor z = 0).
    faces : (m, 3) int.
    spacing : grid cell size, mm (1 mm or finer).
    """
    lo = vertices[:, :2].min(axis=0)
    hi = vertices[:, :2].max(axis=0)
    grid = Grid.covering(lo, hi, spacing, margin=2 * spacing)
    raw = remove_see_through(sole_envelope(*lower_envelopes_by_facing(vertices, faces, grid)), spacing)
    h = despike(fill_gaps(raw, max(1, round(SEE_THROUGH_WINDOW_MM / spacing))))
    foot = footprint_mask(h, grid, open_surface)
    height = np.where(foot, h, np.nan)
    # cells of the footprint with no surface (closed-over gaps) get their neighbours' height
    height = fill_gaps(height, max(1, round(2 * MAX_GAP_MM / spacing)))
    height = np.where(foot, height, np.nan)
    hv = np.nan_to_num(height, nan=np.inf)
    loaded = bool(np.count_nonzero(foot & (hv <= 1.0)) >= WEIGHT_BEARING_FLAT_SHARE * np.count_nonzero(foot))
    threshold = CONTACT_HEIGHT_MM if loaded else CONTACT_HEIGHT_NWB_MM
    contact = foot & (hv <= threshold)
    sel = vertices_in_mask(vertices, foot, grid) & (vertices[:, 2] <= FOOTPRINT_MAX_HEIGHT_MM)
    X, _ = grid.mesh()
    cells = (float(X[foot].min() - spacing / 2), float(X[foot].max() + spacing / 2))
    extent = cells
    if sel.sum() >= 100:  # dense scans: the points themselves are sub-cell exact
        pts = (float(vertices[sel, 0].min()), float(vertices[sel, 0].max()))
        if pts[1] - pts[0] >= cells[1] - cells[0] - 2 * spacing:  # coarse meshes: corners may miss the mask
            extent = pts
    edge_y = column_edges(vertices[sel], grid)
    return PlantarSurface(
        grid, height, foot, contact, mask_outline(foot, grid), loaded, threshold, extent, edge_y
    )


def column_edges(points: np.ndarray, grid: Grid) -> np.ndarray:
    """Per grid column (x bin), the min and max y of ``points`` (k, 2+); NaN for empty columns."""
    nx = grid.shape[0]
    i = np.floor(grid.to_index(points[:, :2])[:, 0] + 0.5).astype(np.int64)
    ok = (i >= 0) & (i < nx)
    lo = np.full(nx, np.inf)
    hi = np.full(nx, -np.inf)
    np.minimum.at(lo, i[ok], points[ok, 1])
    np.maximum.at(hi, i[ok], points[ok, 1])
    out = np.column_stack([lo, hi])
    out[~np.isfinite(out)] = np.nan
    return out
