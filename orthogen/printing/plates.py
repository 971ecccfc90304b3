"""Bed fit and plate packing: devices turned in the plane and placed on as few plates as fit.

A device lies flat (its underside on the bed); it may only turn about z and move, never be mirrored.
Its footprint is the union of its upward-facing triangles seen from above (for orthogen's height-field
solids this is exactly the device outline). Packing works on a raster of the bed (RASTER_MM cells):
each footprint, widened by half the gap plus half a cell diagonal, is rasterised once per angle, and
the free positions for it are found with one FFT correlation against the plate's occupied cells, so
disjoint rasters guarantee at least GAP_MM between devices. The chosen placement fills the plate from
the front (lowest back edge first), trying every ANGLE_STEP_DEG. The result is checked exactly with
the footprint polygons: inside the bed by BED_MARGIN_MM, and at least GAP_MM apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity, contains_xy
from shapely.geometry import Polygon

from orthogen.errors import OrthogenError
from orthogen.printing.printers import Printer

#: Devices on one plate stay at least this far apart (mm), and this far inside the bed's edge (mm;
#: the slicer's skirt runs 2 mm outside the objects).
GAP_MM = 6.0
BED_MARGIN_MM = 3.0
RASTER_MM = 1.0
ANGLE_STEP_DEG = 5.0


@dataclass(frozen=True)
class Placed:
    """One device on a plate: turned by ``angle_deg`` about the origin of its own coordinates, then
    moved by (dx, dy) mm; ``footprint`` is where it then lies on the bed (mm)."""

    name: str
    angle_deg: float
    dx: float
    dy: float
    footprint: Polygon


@dataclass(frozen=True)
class Plate:
    """Devices placed on one printer's bed."""

    printer: Printer
    placed: tuple[Placed, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.placed)

    def min_gap_mm(self) -> float:
        """The smallest distance between two devices' footprints (inf for one device)."""
        fps = [p.footprint for p in self.placed]
        gaps = [fps[i].distance(fps[j]) for i in range(len(fps)) for j in range(i + 1, len(fps))]
        return float(min(gaps)) if gaps else float("inf")

    def as_dict(self) -> dict:
        return {
            "printer": self.printer.name,
            "bed_mm": [self.printer.width_mm, self.printer.depth_mm],
            "objects": [
                {
                    "name": p.name,
                    "angle_deg": round(p.angle_deg, 2),
                    "offset_mm": [round(p.dx, 2), round(p.dy, 2)],
                }
                for p in self.placed
            ],
            "min_gap_mm": None if len(self.placed) < 2 else round(self.min_gap_mm(), 2),
        }


def footprint_of(vertices: np.ndarray, faces: np.ndarray) -> Polygon:
    """The device seen from above (mm): the union of its upward-facing triangles, one polygon."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)]
    nz = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2]
    up = tri[nz > 1e-9][:, :, :2]
    if not len(up):
        raise OrthogenError("the device has no upward-facing surface to lie flat with")
    union = shapely.union_all(shapely.polygons(up)).buffer(0)
    parts = [union] if union.geom_type == "Polygon" else list(getattr(union, "geoms", []))
    main = max(parts, key=lambda p: p.area)
    return Polygon(main.exterior).simplify(0.05)


def _extent(fp: Polygon) -> tuple[float, float]:
    x0, y0, x1, y1 = fp.bounds
    return x1 - x0, y1 - y0


def _size_text(fp: Polygon) -> str:
    rect = fp.minimum_rotated_rectangle
    c = np.asarray(rect.exterior.coords)
    sides = sorted(np.hypot(*np.diff(c[:3], axis=0).T), reverse=True)
    return f"{sides[0]:.0f} x {sides[1]:.0f} mm"


def _angles() -> np.ndarray:
    return np.arange(0.0, 360.0, ANGLE_STEP_DEG)


def fit_on_bed(name: str, footprint: Polygon, height_mm: float, printer: Printer) -> Placed:
    """Where one device lies alone on the bed: as designed (along x) when it fits, otherwise turned to
    the angle that leaves most room, centred. OrthogenError (exit 2) when it fits at no angle."""
    check_height(name, height_mm, printer)
    w, d = printer.width_mm - 2 * BED_MARGIN_MM, printer.depth_mm - 2 * BED_MARGIN_MM
    best = None
    for a in np.arange(0.0, 180.0, 0.5):
        ew, ed = _extent(affinity.rotate(footprint, a, origin=(0, 0)))
        room = min(w - ew, d - ed)
        if room >= 0 and (best is None or (a == 0.0) or room > best[1] + 1e-9):
            best = (a, room)
            if a == 0.0:
                break
    if best is None:
        raise OrthogenError(
            f"{name}: the device ({_size_text(footprint)}) does not fit {printer.text()} at any angle in "
            f"the plane (keeping {BED_MARGIN_MM:g} mm from the edge): use a larger printer"
        )
    rot = affinity.rotate(footprint, best[0], origin=(0, 0))
    x0, y0, x1, y1 = rot.bounds
    dx = printer.width_mm / 2 - (x0 + x1) / 2
    dy = printer.depth_mm / 2 - (y0 + y1) / 2
    return Placed(name, float(best[0]), float(dx), float(dy), affinity.translate(rot, dx, dy))


def check_height(name: str, height_mm: float, printer: Printer) -> None:
    if height_mm > printer.height_mm:
        raise OrthogenError(
            f"{name}: the device is {height_mm:.0f} mm high, more than the {printer.height_mm:g} mm that "
            f"{printer.text()} can print"
        )


def _raster(poly: Polygon, radius: float) -> tuple[np.ndarray, float, float]:
    """Cells (RASTER_MM) whose centres lie within ``radius`` of ``poly``; the raster's corner (mm)."""
    x0, y0, x1, y1 = poly.bounds
    kx0 = np.floor((x0 - radius) / RASTER_MM) * RASTER_MM
    ky0 = np.floor((y0 - radius) / RASTER_MM) * RASTER_MM
    nx = int(np.ceil((x1 + radius - kx0) / RASTER_MM)) + 1
    ny = int(np.ceil((y1 + radius - ky0) / RASTER_MM)) + 1
    cx = kx0 + (np.arange(nx) + 0.5) * RASTER_MM
    cy = ky0 + (np.arange(ny) + 0.5) * RASTER_MM
    X, Y = np.meshgrid(cx, cy, indexing="ij")
    return contains_xy(poly.buffer(radius, quad_segs=8), X, Y), float(kx0), float(ky0)


@dataclass(frozen=True)
class _Pose:
    """A footprint turned by ``angle`` (about the origin), rasterised with the packing radius;
    ``spectrum`` is the conjugate FFT of its raster on the plate's occupancy grid."""

    angle: float
    footprint: Polygon
    cells: np.ndarray
    x0: float  # the raster's corner (mm)
    y0: float
    spectrum: np.ndarray


def _poses(footprint: Polygon, printer: Printer, shape: tuple[int, int]) -> list[_Pose]:
    """Every ANGLE_STEP_DEG pose of ``footprint`` that fits the bed's usable area."""
    from scipy import fft

    r = GAP_MM / 2 + RASTER_MM * np.sqrt(0.5)
    out = []
    for a in _angles():
        rot = affinity.rotate(footprint, a, origin=(0, 0))
        ew, ed = _extent(rot)
        if ew <= printer.width_mm - 2 * BED_MARGIN_MM and ed <= printer.depth_mm - 2 * BED_MARGIN_MM:
            cells, x0, y0 = _raster(rot, r)
            spec = np.conj(fft.rfft2(cells.astype(np.float64), s=shape))
            out.append(_Pose(float(a), rot, cells, x0, y0, spec))
    return out


class _PlateState:
    """Occupied bed cells of one plate being filled (the bed's raster plus a rim for the gap)."""

    def __init__(self, printer: Printer):
        self.printer = printer
        self.rim = int(np.ceil((GAP_MM / 2 + RASTER_MM) / RASTER_MM)) + 1
        self.nx = int(np.ceil(printer.width_mm / RASTER_MM)) + 2 * self.rim
        self.ny = int(np.ceil(printer.depth_mm / RASTER_MM)) + 2 * self.rim
        self.occ = np.zeros((self.nx, self.ny))
        self.placed: list[Placed] = []
        self._spectrum: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.nx, self.ny

    def free_area(self) -> float:
        used = sum(p.footprint.area for p in self.placed)
        return self.printer.width_mm * self.printer.depth_mm - used

    def best_spot(self, name: str, poses: list[_Pose]) -> Placed | None:
        """The placement with the lowest back edge (then leftmost) over all poses, or None."""
        from scipy import fft

        m, rim = BED_MARGIN_MM, self.rim
        if self.placed and self._spectrum is None:
            self._spectrum = fft.rfft2(self.occ)
        best = None
        for pose in poses:
            bx0, by0, bx1, by1 = pose.footprint.bounds
            k = pose.cells
            # an offset p (cells) puts raster cell a on occupancy cell p + a: translation
            # (p - rim) * RASTER - x0; the footprint must stay inside the bed's margin
            pmin = int(np.ceil((m + pose.x0 - bx0) / RASTER_MM)) + rim
            pmax = int(np.floor((self.printer.width_mm - m + pose.x0 - bx1) / RASTER_MM)) + rim
            qmin = int(np.ceil((m + pose.y0 - by0) / RASTER_MM)) + rim
            qmax = int(np.floor((self.printer.depth_mm - m + pose.y0 - by1) / RASTER_MM)) + rim
            pmin, qmin = max(pmin, 0), max(qmin, 0)
            pmax, qmax = min(pmax, self.nx - k.shape[0]), min(qmax, self.ny - k.shape[1])
            if pmax < pmin or qmax < qmin:
                continue
            if self.placed:
                # circular correlation: exact for offsets whose raster stays inside the grid
                corr = fft.irfft2(self._spectrum * pose.spectrum, s=self.shape)
                free = corr[pmin : pmax + 1, qmin : qmax + 1] < 0.5
            else:
                free = np.ones((pmax - pmin + 1, qmax - qmin + 1), bool)
            if not free.any():
                continue
            qi = int(np.argmax(free.any(axis=0)))  # lowest back edge first, then leftmost
            pi = int(np.argmax(free[:, qi]))
            p, q = pmin + pi, qmin + qi
            dx, dy = (p - rim) * RASTER_MM - pose.x0, (q - rim) * RASTER_MM - pose.y0
            key = (round(dy + by1, 6), round(dx + bx0, 6))
            if best is None or key < best[0]:
                best = (key, pose, p, q, dx, dy)
        if best is None:
            return None
        _, pose, p, q, dx, dy = best
        kw, kh = pose.cells.shape
        self.occ[p : p + kw, q : q + kh] += pose.cells
        self._spectrum = None
        return Placed(name, pose.angle, float(dx), float(dy), affinity.translate(pose.footprint, dx, dy))


def pack(items: Sequence[tuple[str, Polygon, float]], printer: Printer) -> list[Plate]:
    """Pack devices ``(name, footprint, height_mm)`` onto as few plates as first-fit finds (largest
    first), each device turned in the plane as needed. OrthogenError when one fits on no plate."""
    for name, fp, h in items:
        fit_on_bed(name, fp, h, printer)  # refuses, with the reason, what can never fit
    order = sorted(range(len(items)), key=lambda i: -items[i][1].area)
    states: list[_PlateState] = []
    cache: dict[bytes, list[_Pose]] = {}
    full: set[tuple[bytes, int]] = set()  # (shape, plate) that had no room: a plate only fills up
    for i in order:
        name, fp, _ = items[i]
        key = fp.wkb
        if key not in cache:
            cache[key] = _poses(fp, printer, _PlateState(printer).shape)
        for j, st in enumerate(states):
            if (key, j) in full or st.free_area() < fp.area:
                continue
            spot = st.best_spot(name, cache[key])
            if spot is not None:
                st.placed.append(spot)
                break
            full.add((key, j))
        else:
            st = _PlateState(printer)
            spot = st.best_spot(name, cache[key])
            if spot is None:  # fits alone only at an angle the search steps over: the exact fit
                spot = fit_on_bed(name, fp, items[i][2], printer)
            st.placed.append(spot)
            states.append(st)
    plates = [Plate(printer, tuple(_centred(st.placed, printer))) for st in states]
    for plate in plates:
        verify(plate)
    return plates


def _centred(placed: list[Placed], printer: Printer) -> list[Placed]:
    """The plate's devices moved together so their bounding box is centred on the bed."""
    x0, y0, x1, y1 = shapely.union_all([p.footprint for p in placed]).bounds
    sx = printer.width_mm / 2 - (x0 + x1) / 2
    sy = printer.depth_mm / 2 - (y0 + y1) / 2
    return [
        Placed(p.name, p.angle_deg, p.dx + sx, p.dy + sy, affinity.translate(p.footprint, sx, sy))
        for p in placed
    ]


def verify(plate: Plate) -> None:
    """Exact check of a plate: every footprint inside the bed by the margin, all at least GAP_MM apart."""
    pr = plate.printer
    m = BED_MARGIN_MM - 1e-6
    for p in plate.placed:
        x0, y0, x1, y1 = p.footprint.bounds
        if x0 < m or y0 < m or x1 > pr.width_mm - m or y1 > pr.depth_mm - m:
            raise OrthogenError(f"internal error: {p.name} was placed off {pr.text()}")
    if plate.min_gap_mm() < GAP_MM - 1e-6:
        raise OrthogenError(f"internal error: devices placed closer than {GAP_MM:g} mm")
