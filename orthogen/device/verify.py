"""Checks read back from the output mesh itself, before anything is written.

Two kinds, both from the triangles (upper and lower envelopes of the mesh on the design
grid, exact at its nodes), never from the fields that built them:

* :func:`measure_device` — a valid solid: watertight, consistently wound, manifold in
  manifold3d, one body, positive volume, lowest point at z = 0, nowhere too thin;
* :func:`check_intent` — the device the clinician prescribed for this foot: the heel seat's
  and the forefoot's frontal angles against the floor, heel lift at the heel and none at the
  met heads, heel-cup rim height, arch height, thickness under the met heads, the distal end
  (feathered or skived), where the shell ends against the met-head or sulcus line, each
  accommodation found at its landmark, how the outline covers the foot. Each item is
  prescribed / measured / tolerance / pass; a failure refuses the device naming its key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import shapely
from scipy import ndimage

from orthogen.device import corrections as corr
from orthogen.device.construction import forefoot_band_back, thicknesses
from orthogen.device.distance import distance_to
from orthogen.device.regions import Regions, frontal_angle
from orthogen.errors import GeometryError
from orthogen.foot.heightmap import Grid, envelopes, fill_gaps, medial_line_profile, sample
from orthogen.scan.mesh import cross_rows

#: Tolerances of the intent checks (deg or mm), named once.
ANGLE_TOL_DEG = 0.5
LIFT_TOL_MM = 0.3
RIM_TOL_MM = 1.0
ARCH_TOL_MM = 1.0
PLACEMENT_TOL_MM = 3.0
END_LINE_TOL_MM = 3.0
FEATHER_MAX_MM = 1.5
FEATHER_ZONE_MM = 3.0
SKIVE_MIN_LENGTH_MM = 10.0
MET_HEAD_MAX_MM = 5.0
METATARSAL_END_BEHIND_MM = 5.0
COVERAGE_TOL_MM = 2.0
#: An accommodation's edge is where it rises above this fraction of its height.
EDGE_FRACTION = 0.01


@dataclass(frozen=True)
class Checks:
    """A valid solid, measured from the mesh."""

    watertight: bool
    winding_consistent: bool
    manifold: bool
    bodies: int
    volume_mm3: float
    length_mm: float
    width_mm: float
    max_height_mm: float
    min_z_mm: float
    min_thickness_mm: float

    def as_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def edge_topology(faces: np.ndarray) -> tuple[bool, bool]:
    """(watertight, winding_consistent) of a triangle mesh from its edges alone: every edge shared by
    exactly two triangles, every directed edge used once (so the two run opposite ways)."""
    from scipy import sparse

    f = np.asarray(faces, np.int64)
    n = int(f.max()) + 1 if f.size else 1
    a, b = f.ravel(), f[:, [1, 2, 0]].ravel()
    if a.size and not np.any(a == b):
        # the directed edges as a sparse vertex-vertex matrix (duplicates summed): each once, an edge
        # is shared by two triangles iff its reverse is there too (5x faster than sorting the keys)
        m = sparse.csr_matrix((np.ones(a.size, np.int32), (a, b)), shape=(n, n))
        if m.data.max() == 1:
            return bool((m != m.T).nnz == 0), True
    d = np.sort(a * n + b)
    _, und_counts = np.unique(np.sort(np.column_stack([a, b]), axis=1) @ np.array([n, 1]), return_counts=True)
    _, dir_counts = np.unique(d, return_counts=True)
    return bool(np.all(und_counts == 2)), bool(np.all(dir_counts == 1))


def mesh_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Enclosed volume of a closed, outward-wound mesh (signed tetrahedra from the origin; mm³)."""
    t = np.asarray(vertices, np.float64)[faces]
    return float(np.einsum("ij,ij->i", t[:, 0], cross_rows(t[:, 1], t[:, 2])).sum() / 6.0)


def topology(vertices: np.ndarray, faces: np.ndarray, solid=None) -> dict:
    """Watertight, winding, manifold3d status, body count and volume of a mesh as an STL stores it
    (float32 vertices: two vertices that round to one point make it pinched, not watertight).

    ``solid``: the :class:`~orthogen.device.solid.Solid` manifold3d made this mesh as; its status
    (it is only made when manifold3d reports no error) and body count are taken instead of building
    the mesh into a manifold again. The volume is the STL mesh's own.
    """
    v32 = np.asarray(vertices, np.float32)
    rows = v32[np.lexsort((v32[:, 2], v32[:, 1], v32[:, 0]))]
    pinched = bool(np.any(np.all(rows[1:] == rows[:-1], axis=1)))
    if pinched:  # merge the coinciding vertices for the edge checks
        merged = np.unique(v32, axis=0, return_inverse=True)[1].reshape(-1)[faces]
        watertight, winding = edge_topology(merged)
    else:
        watertight, winding = edge_topology(faces)
    if solid is not None:
        ok, bodies = True, int(solid.bodies)
    else:
        import manifold3d

        man = manifold3d.Manifold(manifold3d.Mesh(vert_properties=v32, tri_verts=faces.astype(np.uint32)))
        ok = man.status() == manifold3d.Error.NoError
        bodies = len(man.decompose()) if ok else -1
    return {
        "watertight": watertight and not pinched,
        "winding_consistent": winding,
        "manifold": bool(ok),
        "bodies": bodies,
        "volume_mm3": mesh_volume(v32, faces) if ok else float("nan"),
    }


def read_surfaces(vertices: np.ndarray, faces: np.ndarray, grid: Grid):
    """(top, bottom, covered, thickness) of a mesh on ``grid``: its upper and lower envelopes."""
    bot, top = envelopes(vertices, faces, grid)
    covered = np.isfinite(top) & np.isfinite(bot)
    inner = ndimage.binary_erosion(covered, iterations=1)  # side walls are sampled edge-on
    return top, bot, covered, np.where(inner, top - bot, np.nan)


def measure_device(vertices: np.ndarray, faces: np.ndarray, grid: Grid, surfaces=None, solid=None) -> Checks:
    """Topology, size and thinnest point of one device mesh (foot frame, mm); ``solid``: what
    manifold3d reported making it (see :func:`topology`)."""
    topo = topology(vertices, faces, solid)
    _, _, _, thick = read_surfaces(vertices, faces, grid) if surfaces is None else surfaces
    return Checks(
        watertight=topo["watertight"],
        winding_consistent=topo["winding_consistent"],
        manifold=topo["manifold"],
        bodies=topo["bodies"],
        volume_mm3=topo["volume_mm3"],
        length_mm=float(np.ptp(vertices[:, 0])),
        width_mm=float(np.ptp(vertices[:, 1])),
        max_height_mm=float(vertices[:, 2].max()),
        min_z_mm=float(vertices[:, 2].min()),
        min_thickness_mm=float(np.nanmin(thick)) if np.isfinite(thick).any() else float("nan"),
    )


def require_valid(checks: Checks, min_thickness_mm: float) -> None:
    """Refuse a device that is no valid solid (GeometryError names the failed check)."""
    failed = []
    if not checks.watertight:
        failed.append("not watertight")
    if not checks.winding_consistent:
        failed.append("inconsistent face winding")
    if not checks.manifold:
        failed.append("not manifold (manifold3d)")
    if checks.bodies != 1:
        failed.append(f"{checks.bodies} separate bodies instead of one")
    if not checks.volume_mm3 > 0:
        failed.append(f"volume {checks.volume_mm3:.0f} mm3 is not positive")
    if abs(checks.min_z_mm) > 1e-3:
        failed.append(f"lowest point at z = {checks.min_z_mm:.3f} mm, not 0")
    if not checks.min_thickness_mm >= min_thickness_mm - 0.05:
        failed.append(f"minimum thickness {checks.min_thickness_mm:.2f} mm below {min_thickness_mm:g} mm")
    if failed:
        raise GeometryError("output check failed: " + "; ".join(failed) + "; nothing was written")


# ----------------------------------------------------------------------------- intent


@dataclass(frozen=True)
class IntentItem:
    """One clinical check: what was prescribed, what the mesh shows, whether it is within tolerance.

    ``kind``: "equal" (|measured - prescribed| <= tolerance), "max" (measured <= prescribed),
    "min" (measured >= prescribed), "info" (reported only).
    """

    key: str  # what is checked
    rx_key: str  # the prescription key it answers to (named when refused)
    prescribed: float
    measured: float
    tolerance: float
    unit: str
    kind: str = "equal"
    note: str = ""

    @property
    def passed(self) -> bool:
        m, p = self.measured, self.prescribed
        if self.kind == "info":
            return True
        if not np.isfinite(m):
            return False
        if self.kind == "max":
            return m <= p + self.tolerance
        if self.kind == "min":
            return m >= p - self.tolerance
        return abs(m - p) <= self.tolerance

    def as_dict(self) -> dict:
        def r(v):
            return None if v is None or not np.isfinite(v) else round(float(v), 2)

        return {
            "check": self.key,
            "rx_key": self.rx_key,
            "prescribed": r(self.prescribed),
            "measured": r(self.measured),
            "tolerance": r(self.tolerance),
            "unit": self.unit,
            "kind": self.kind,
            "pass": bool(self.passed),
            "note": self.note,
        }


@dataclass(frozen=True)
class Intent:
    items: tuple[IntentItem, ...]

    def as_list(self) -> list[dict]:
        return [i.as_dict() for i in self.items]

    @property
    def failed(self) -> list[IntentItem]:
        return [i for i in self.items if not i.passed]

    def require(self) -> None:
        """Refuse the device when any check is out of tolerance, naming the prescription keys."""
        bad = self.failed
        if bad:
            parts = [
                f"{i.rx_key}: {i.key} measured {i.measured:.2f} {i.unit} against {i.prescribed:.2f} "
                f"({'at most' if i.kind == 'max' else 'at least' if i.kind == 'min' else '±'}"
                f"{'' if i.kind in ('max', 'min') else f'{i.tolerance:g}'})"
                for i in bad
            ]
            raise GeometryError(
                "the device misses the prescription: " + "; ".join(parts) + "; nothing was written"
            )


def _at(z: np.ndarray, grid: Grid, p) -> float:
    return float(sample(z, grid, np.array([p], float))[0])


def _blob_centre(top: np.ndarray, grid: Grid, covered: np.ndarray, centre, radius: float, sign: float):
    """Centre (x, y) and peak of a dome (sign +1) or recess (-1) found on the mesh top near ``centre``:
    the top minus its own surroundings filled into a disc of ``radius`` around ``centre``."""
    X, Y = grid.mesh()
    window = np.hypot(X - centre[0], Y - centre[1]) <= radius
    known = covered & ~window
    if not (window & covered).any():
        return (float("nan"), float("nan")), 0.0
    filled = fill_gaps(np.where(known, top, np.nan), int(radius / grid.spacing) + 2)
    dev = sign * (top - filled)
    dev = np.where(window & covered & np.isfinite(dev), dev, 0.0)
    peak = float(dev.max())
    if peak <= 0.3:
        return (float("nan"), float("nan")), peak
    w = np.where(dev >= 0.5 * peak, dev, 0.0)
    return (float((w * X).sum() / w.sum()), float((w * Y).sum() / w.sum())), peak


def _end_x(covered: np.ndarray, grid: Grid, y: float) -> float:
    """The device's most distal covered x along the line at ``y``."""
    x, ys = grid.axes()
    j = int(np.clip(np.rint((y - ys[0]) / grid.spacing), 0, len(ys) - 1))
    cols = np.flatnonzero(covered[:, j])
    return float(x[cols[-1]] + 0.5 * grid.spacing) if cols.size else float("nan")


def check_intent(
    vertices: np.ndarray,
    faces: np.ndarray,
    grid: Grid,
    foot,
    regions: Regions,
    balance,
    rx,
    geometry,
    length_mm: float,
    end_line: np.ndarray | None,
    foot_surface: np.ndarray,
    footbed: np.ndarray,
    plain_top: np.ndarray,
    surfaces=None,
    volume_mm3: float | None = None,
) -> Intent:
    """Every clinical check of a device mesh against its prescription and its foot (foot frame, mm).

    ``foot_surface``: the balanced foot set on the footbed (mm above it, on ``grid``), the
    reference of heel lift; ``footbed``: the shoe's footbed under the device; ``plain_top``: the
    top of the same device without its accommodations (where they must show on the mesh);
    ``surfaces``: the mesh's envelopes (:func:`read_surfaces`) when already read; ``volume_mm3``: the
    mesh's volume when already measured (:func:`measure_device`).
    """
    top, bot, covered, thick = read_surfaces(vertices, faces, grid) if surfaces is None else surfaces
    ms = regions.medial_sign
    items: list[IntentItem] = []
    excl = corr.accommodation_area(grid, regions, rx, length_mm)

    # frontal planes against the floor
    X, Y = grid.mesh()
    seat = corr.seat_cells(grid, regions, excl) & covered
    skive = corr.medial_heel_skive(X, Y, regions, rx.medial_heel_skive_mm)
    skive_deg = frontal_angle(skive, grid, seat, ms) if rx.medial_heel_skive_mm else 0.0
    expect_seat = float(
        np.degrees(
            np.arctan(np.tan(np.radians(balance.heel_seat_target_deg)) + np.tan(np.radians(skive_deg)))
        )
    )
    note = "balance_inversion_deg + rearfoot_post_deg" + (
        " + the medial heel skive's wedge" if skive_deg else ""
    )
    items.append(
        IntentItem(
            "heel seat frontal angle against the floor",
            "rearfoot_post_deg",
            expect_seat,
            frontal_angle(top, grid, seat, ms),
            ANGLE_TOL_DEG,
            "deg",
            note=note,
        )
    )
    short = rx.length in ("metatarsal", "three_quarter")
    fore = regions.forefoot_band(grid, forefoot_band_back(rx.length)) & ~excl & covered
    items.append(
        IntentItem(
            "forefoot frontal angle against the floor",
            "forefoot_post_deg",
            balance.forefoot_target_deg,
            frontal_angle(top, grid, fore, ms),
            ANGLE_TOL_DEG,
            "deg",
            note="balance_inversion_deg + forefoot_post_deg"
            + (" (auto: the foot's own forefoot-to-rearfoot angle)" if balance.forefoot_post_auto else ""),
        )
    )

    # heel lift: the heel's height over the ball, against the balanced foot's
    pocket = rx.heel_spur_pocket
    hc = regions.heel_centre
    if pocket is not None:
        hc = (hc[0], hc[1] - ms * (pocket.radius_mm + 4.0 + abs(pocket.medial_offset_mm)))
    ball = regions.met_heads[2]  # the 3rd met head, on the centre line, where the forefoot bears
    device_rise = (_at(top, grid, hc) - _at(footbed, grid, hc)) - (
        _at(top, grid, ball) - _at(footbed, grid, ball)
    )
    foot_rise = _at(foot_surface, grid, hc) - _at(foot_surface, grid, ball)
    lift = rx.heel_lift_mm if rx.heel_lift_side in ("both", foot.side) else 0.0

    t0, t_ff, _ = thicknesses(rx, geometry)
    thinner_ff = t0 - t_ff  # a thinner forefoot (dress, a shell's extension) also lowers the ball
    if not short:
        items.append(
            IntentItem(
                "heel lift (heel over ball, against the balanced foot)",
                "heel_lift_mm",
                lift,
                device_rise - foot_rise - thinner_ff,
                LIFT_TOL_MM,
                "mm",
            )
        )
    # under the met heads
    mids = [regions.met_head_1, regions.met_heads[2], regions.met_head_5]
    if not short:
        t_heads = max(_at(np.nan_to_num(thick, nan=0.0), grid, p) for p in mids)
        plain = (
            rx.construction == "full_contact"
            and rx.top_cover_mm == 0
            and rx.met_pad is None
            and rx.met_bar is None
            and rx.mortons_extension is None
            and rx.shoe_drop_mm == 0
            and rx.heel_lift_mm == 0
            and rx.balance_inversion_deg == 0
            and rx.forefoot_post_deg == 0
        )
        items.append(
            IntentItem(
                "thickness under the met heads",
                "shell_thickness_mm",
                MET_HEAD_MAX_MM,
                t_heads,
                0.0,
                "mm",
                kind="max" if plain else "info",
                note="full contact, no cover, pad or lift" if plain else "reported",
            )
        )
    # heel cup rim: the top of the posterior wall across the middle of the heel
    xmin = float(vertices[:, 0].min())
    post = (
        covered & (X <= xmin + 6.0) & (np.abs(Y - regions.heel_centre[1]) <= 0.35 * regions.heel_half_width)
    )
    rim = float(np.nanmax(np.where(post, top, np.nan))) if post.any() else float("nan")
    base = rx.shell_thickness_mm + rx.top_cover_mm
    if rx.heel_cup_depth_mm > base + 3.0:
        items.append(
            IntentItem(
                "heel cup rim above the footbed",
                "heel_cup_depth_mm",
                rx.heel_cup_depth_mm + lift,
                rim - _at(footbed, grid, (xmin + 3.0, regions.heel_centre[1])),
                RIM_TOL_MM,
                "mm",
                note="heel_cup_depth_mm + heel lift",
            )
        )
    # arch height
    _xs, _ys, zs = medial_line_profile(
        top - footbed,
        grid,
        covered,
        ms,
        (regions.heel_seat_end_x, regions.met_line_rear_x - corr.ARCH_END_BEFORE_MET_LINE_MM),
    )
    arch = float(np.nanmax(zs)) if zs.size and np.isfinite(zs).any() else float("nan")
    if rx.arch_height_mm is not None:
        items.append(
            IntentItem(
                "arch height (medial quarter line)",
                "arch_height_mm",
                rx.arch_height_mm,
                arch,
                ARCH_TOL_MM,
                "mm",
            )
        )
    else:
        items.append(
            IntentItem(
                "arch height (medial quarter line)",
                "arch_height_mm",
                float(foot.measurements.arch_height_mm),
                arch,
                0.0,
                "mm",
                kind="info",
                note="follows the foot: prescribed = the foot's own arch",
            )
        )
    items += _end_checks(top, bot, covered, thick, grid, regions, rx, end_line, foot)
    items += _accommodation_checks(top, covered, grid, regions, rx, plain_top)
    items.append(
        IntentItem(
            "volume",
            "construction",
            float("nan"),
            (mesh_volume(vertices, faces) if volume_mm3 is None else volume_mm3) / 1000.0,
            0.0,
            "cm3",
            kind="info",
            note=rx.construction,
        )
    )
    return Intent(tuple(items))


def _end_checks(top, bot, covered, thick, grid, regions: Regions, rx, end_line, foot) -> list[IntentItem]:
    """The distal end: feathered (full, sulcus) or skived (metatarsal, three-quarter), where it lies
    against the met-head or sulcus line, and how a full length covers the toes."""
    out: list[IntentItem] = []
    X, Y = grid.mesh()
    inner = np.isfinite(thick)
    dist = ndimage.distance_transform_edt(covered) * grid.spacing
    heads = [regions.met_head_1, regions.met_head_5]
    toe = regions.toe_weight(X, Y) > 0.5
    if rx.length in ("full", "sulcus"):
        if rx.length == "full":
            near_end = toe
        else:  # the cut along the sulcus: the last 3 mm before it
            d_cut = distance_to(shapely.LineString(end_line), X, Y)
            near_end = d_cut <= FEATHER_ZONE_MM + 0.5
        zone = inner & (dist <= FEATHER_ZONE_MM) & near_end
        worst = float(np.nanmax(np.where(zone, thick, np.nan))) if zone.any() else float("nan")
        out.append(
            IntentItem(
                f"distal edge thickness (last {FEATHER_ZONE_MM:g} mm)",
                "length",
                FEATHER_MAX_MM,
                worst,
                0.05,
                "mm",
                kind="max",
            )
        )
    else:
        # along lines between the heads: thin at the end, still thinner than full 9 mm back
        ends, lengths = [], []
        for t in (0.25, 0.5, 0.75):
            y = regions.met_head_5[1] + t * (regions.met_head_1[1] - regions.met_head_5[1])
            xe = _end_x(covered, grid, y)
            prof = sample(
                np.nan_to_num(thick, nan=0.0),
                grid,
                np.column_stack([xe - np.arange(1.0, 25.0), np.full(24, y)]),
            )
            ends.append(float(prof[0]))
            full = float(np.max(prof[14:]))
            reached = np.flatnonzero(prof >= full - 0.1)
            lengths.append(float(reached[0] + 1.0) if reached.size else 0.0)
        out.append(
            IntentItem(
                "skived end thickness (last 1 mm)",
                "length",
                FEATHER_MAX_MM,
                max(ends),
                0.05,
                "mm",
                kind="max",
            )
        )
        out.append(
            IntentItem("skive length", "length", SKIVE_MIN_LENGTH_MM, min(lengths), 0.0, "mm", kind="min")
        )
    # where the shell ends
    if rx.length == "metatarsal":
        ys = [
            regions.met_head_5[1] + t * (regions.met_head_1[1] - regions.met_head_5[1])
            for t in np.linspace(0, 1, 5)
        ]
        behind = min(float(regions.met_arc_x(np.array(y))) - _end_x(covered, grid, y) for y in ys)
        out.append(
            IntentItem(
                "end behind the met-head line (heads 1-5)",
                "length",
                METATARSAL_END_BEHIND_MM,
                behind,
                0.5,
                "mm",
                kind="min",
            )
        )
    elif rx.length == "three_quarter":
        for k, (hx, hy) in zip((1, 5), heads, strict=True):
            out.append(
                IntentItem(
                    f"end behind met head {k}",
                    "length",
                    5.0,
                    hx - _end_x(covered, grid, hy),
                    END_LINE_TOL_MM,
                    "mm",
                )
            )
    elif rx.length == "sulcus":
        for k, (_, hy) in zip((1, 5), heads, strict=True):
            out.append(
                IntentItem(
                    f"end at the sulcus (behind met head {k})",
                    "length",
                    float(regions.sulcus_x(np.array(hy))),
                    _end_x(covered, grid, hy),
                    END_LINE_TOL_MM,
                    "mm",
                )
            )
    else:
        out.append(_coverage(covered, grid, regions, foot))
    return out


def _coverage(covered, grid: Grid, regions: Regions, foot) -> IntentItem:
    """How far the foot's toes reach beyond a full-length device (mm; the worst point)."""
    _X, _Y = grid.mesh()
    outline = foot.plantar.outline
    ring = np.asarray(outline.exterior.coords)
    toe = regions.toe_weight(ring[:, 0], ring[:, 1]) > 0.5
    if not toe.any():
        return IntentItem(
            "toes covered",
            "length",
            COVERAGE_TOL_MM,
            float("nan"),
            0.0,
            "mm",
            kind="info",
            note="no toes in the scan",
        )
    inside = covered.astype(float)
    d_out = ndimage.distance_transform_edt(inside == 0) * grid.spacing
    worst = float(np.max(sample(d_out, grid, ring[toe])))
    return IntentItem(
        "toes beyond the device's edge (worst point)", "length", COVERAGE_TOL_MM, worst, 0.0, "mm", kind="max"
    )


def _accommodation_checks(
    top, covered, grid: Grid, regions: Regions, rx, plain_top: np.ndarray
) -> list[IntentItem]:
    """Each accommodation found on the mesh (its top against the same device built without any
    accommodation) where its landmark says it belongs, and as high or deep as prescribed."""
    out: list[IntentItem] = []
    X, Y = grid.mesh()
    dev = np.where(covered, top - plain_top, 0.0)

    def blob(sign: float, height: float, near) -> tuple[np.ndarray, float]:
        """Cells of the raised (sign +1) or sunk (-1) part nearest ``near``, and its peak (mm)."""
        lab, n = ndimage.label(sign * dev > EDGE_FRACTION * height)
        if n == 0:
            return np.zeros_like(covered), 0.0
        idx = np.arange(1, n + 1)
        cx = ndimage.mean(X, lab, idx)
        cy = ndimage.mean(Y, lab, idx)
        k = int(np.argmin(np.hypot(np.asarray(cx) - near[0], np.asarray(cy) - near[1]))) + 1
        cells = lab == k
        return cells, float((sign * dev)[cells].max())

    def centroid(cells):
        w = np.where(cells, np.abs(dev), 0.0)
        return float((w * X).sum() / w.sum()), float((w * Y).sum() / w.sum())

    def heads_t(y: float) -> float:
        y1, y5 = regions.met_head_1[1], regions.met_head_5[1]
        return (y - y5) / (y1 - y5)

    if rx.met_pad is not None:
        p = rx.met_pad
        cells, peak = blob(1.0, p.height_mm, regions.ball_centre)
        if cells.any():
            _cx, cy = centroid(cells)
            t = heads_t(cy)
            distal = float(X[cells & (dev > EDGE_FRACTION * p.height_mm)].max())
            behind = float(regions.met_arc_x(np.array(cy))) - distal
            across = (
                0.0 if 0.25 <= t <= 0.75 else min(abs(t - 0.25), abs(t - 0.75)) * 2 * regions.ball_half_width
            )
        else:
            behind, across, peak = float("nan"), float("nan"), 0.0
        out.append(
            IntentItem(
                "met pad: distal edge behind the met heads",
                "met_pad.offset_mm",
                p.offset_mm,
                behind,
                PLACEMENT_TOL_MM,
                "mm",
            )
        )
        out.append(
            IntentItem(
                "met pad: centre off the 2nd-4th met heads",
                "met_pad",
                0.0,
                across,
                PLACEMENT_TOL_MM,
                "mm",
                kind="max",
            )
        )
        out.append(IntentItem("met pad height", "met_pad.height_mm", p.height_mm, peak, 0.5, "mm"))
    if rx.met_bar is not None:
        p = rx.met_bar
        cells, peak = blob(1.0, p.height_mm, regions.ball_centre)
        y = regions.ball_centre[1]
        xs = X[cells & (dev > EDGE_FRACTION * p.height_mm) & (np.abs(Y - y) <= 2.0)]
        behind = float(regions.met_arc_x(np.array(y))) - float(xs.max()) if xs.size else float("nan")
        out.append(
            IntentItem(
                "met bar: distal edge behind the met heads",
                "met_bar.offset_mm",
                p.offset_mm,
                behind,
                PLACEMENT_TOL_MM,
                "mm",
            )
        )
        out.append(IntentItem("met bar height", "met_bar.height_mm", p.height_mm, peak, 0.5, "mm"))

    def recess(name: str, key: str, depth: float, want, origin: str) -> None:
        """A cut-out or pocket: its centre from where it belongs, and its depth."""
        cells, peak = blob(-1.0, depth, want)
        c = centroid(cells) if cells.any() else (float("nan"), float("nan"))
        off = float(np.hypot(c[0] - want[0], c[1] - want[1]))
        where = f"{name}: centre from {origin}"
        out.append(IntentItem(where, key, 0.0, off, PLACEMENT_TOL_MM, "mm", kind="max"))
        out.append(IntentItem(f"{name} depth", f"{key}.depth_mm", depth, peak, 0.5, "mm"))

    if rx.first_mpj_cutout is not None and rx.length not in ("metatarsal", "three_quarter"):
        p = rx.first_mpj_cutout
        recess("1st MPJ cut-out", "first_mpj_cutout", p.depth_mm, regions.met_head_1, "the 1st met head")
    if rx.heel_spur_pocket is not None:
        p = rx.heel_spur_pocket
        hx, hy = regions.heel_centre
        want = (hx + p.offset_mm, hy + regions.medial_sign * p.medial_offset_mm)
        recess("heel spur pocket", "heel_spur_pocket", p.depth_mm, want, "the heel centre (+ offsets)")
    if rx.mortons_extension is not None:
        p = rx.mortons_extension
        under_1st = _at(dev, grid, regions.met_head_1)
        y3 = regions.met_head_5[1] + 0.5 * (regions.met_head_1[1] - regions.met_head_5[1])
        under_3rd = _at(dev, grid, (float(regions.met_arc_x(np.array(y3))) - 3.0, y3))
        out.append(
            IntentItem(
                "Morton's extension under the 1st MPJ",
                "mortons_extension.thickness_mm",
                p.thickness_mm,
                under_1st,
                0.5,
                "mm",
            )
        )
        out.append(
            IntentItem(
                "Morton's extension under the 3rd met head (none)",
                "mortons_extension",
                0.0,
                under_3rd,
                0.3,
                "mm",
                kind="max",
            )
        )
    return out
