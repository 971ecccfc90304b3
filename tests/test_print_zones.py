"""Stiffness zones placed from each foot's landmarks, on a synthetic foot with exact anatomy.

The zones are checked two ways: exactly against the placement rule (the design's own landmarks) and,
within the landmark detector's tolerance, against the synthetic foot's true anatomy. Their meshes are
closed solids; the shell's post lies under the heel, below the shell, in front of nothing past the arch.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
import shapely
import trimesh

from orthogen.device.design import design_foot
from orthogen.device.template import template_geometry
from orthogen.device.zones import FOREFOOT_BEHIND_MM, HEEL_CUSHION_ACROSS, ZONE_NAMES, zones_of
from orthogen.foot.measure_scan import MeasureOptions, measure_scan
from orthogen.printing.production import print_object, zone_settings
from orthogen.rx.load import load_prescription
from orthogen.synth.model import FootSpec, synth_scan

#: The landmark detector finds the synthetic anatomy within this (mm; tests/test_anatomy.py).
DETECTOR_MM = 5.0


@cache
def _foot_and_truth(tmpdir: str):
    mesh, truth = synth_scan(FootSpec())
    path = f"{tmpdir}/foot.stl"
    mesh.export(path)
    return measure_scan(path, MeasureOptions()), truth


@pytest.fixture(scope="module")
def foot(tmp_path_factory):
    """The synthetic foot's folder (designs are cached by it and their prescription)."""
    return str(tmp_path_factory.mktemp("zones"))


@cache
def _design(tmpdir: str, *sets: str):
    rx = load_prescription(None, list(sets))
    return design_foot(_foot_and_truth(tmpdir)[0], rx, template_geometry(rx.template))


def _out(d, p) -> tuple[float, float]:
    return float(p[0]) + d.x_shift_mm, float(p[1])


def _inside(zone, p) -> bool:
    return bool(zone.outline.buffer(1e-6).contains(shapely.Point(p)))


@pytest.mark.parametrize("construction", ["full_contact", "shell"])
def test_zones_partition_the_outline_and_are_closed(foot, construction):
    d = _design(foot, f"construction={construction}")
    zones = zones_of(d)
    plan = [zones[n] for n in ZONE_NAMES[:4]]
    outline = shapely.affinity.translate(d.surfaces.outline, d.x_shift_mm)
    union = shapely.union_all([z.outline for z in plan])
    assert union.symmetric_difference(outline).area < 1.0
    for i, a in enumerate(plan):
        for b in plan[i + 1 :]:
            assert a.outline.intersection(b.outline).area < 1e-3, (a.name, b.name)
    for z in zones.zones:
        m = trimesh.Trimesh(z.vertices, z.faces, process=False)
        assert m.is_watertight and m.volume > 0, z.name
    assert ("posts" in zones) == (construction == "shell")


def test_each_zone_lies_where_its_landmark_says(foot):
    d = _design(foot, "construction=shell")
    r, truth = d.regions, _foot_and_truth(foot)[1]["anatomy_mm"]
    zones = zones_of(d)
    heel = zones["heel_cushion"]
    # heel cushion: centred on the heel centre, exactly, and on the true heel centre within the detector
    _, cy = heel.outline.centroid.coords[0]  # its x is clipped by the heel's back edge
    hx, hy = _out(d, r.heel_centre)
    assert abs(cy - hy) < 0.5 and _inside(heel, (hx, hy))
    assert np.hypot(hx - _out(d, truth["heel_centre"])[0], hy - truth["heel_centre"][1]) < DETECTOR_MM
    assert heel.outline.bounds[3] - heel.outline.bounds[1] == pytest.approx(
        2 * HEEL_CUSHION_ACROSS * r.heel_half_width, abs=1.0
    )
    # rearfoot ends at the heel seat's end
    assert zones["rearfoot"].outline.bounds[2] == pytest.approx(r.heel_seat_end_x + d.x_shift_mm, abs=0.1)
    # the arch holds the arch apex; the forefoot holds every met head, found and true
    assert _inside(zones["arch"], _out(d, r.arch_apex))
    assert _inside(zones["arch"], _out(d, truth["arch_apex"]))
    for head in r.met_heads:
        assert _inside(zones["forefoot"], _out(d, head))
    for key in ("met_head_1", "met_head_5"):
        assert _inside(zones["forefoot"], _out(d, truth[key]))
    # the forefoot starts FOREFOOT_BEHIND_MM behind the met-head line, at every head's y
    for _, y in r.met_heads:
        x = float(r.met_arc_x(np.array(y))) - FOREFOOT_BEHIND_MM + d.x_shift_mm
        assert _inside(zones["forefoot"], (x + 1.0, y)) and not _inside(zones["forefoot"], (x - 1.0, y))
        assert _inside(zones["arch"], (x - 1.0, y))


def test_the_shell_post_zone_is_the_material_under_the_shell_at_the_heel(foot):
    d = _design(foot, "construction=shell", "rearfoot_post_deg=4")
    post = zones_of(d)["posts"]
    s = d.surfaces
    # behind the arch apex, under the heel, from the footbed up to the shell's underside only
    assert post.outline.bounds[2] <= d.regions.arch_apex[0] + d.x_shift_mm
    assert post.vertices[:, 2].min() < 0.0
    shell = s.notes["shell_plus_cover_mm"]
    X, Y = s.grid.mesh()
    probe = (X + d.x_shift_mm, Y)
    cells = s.inside & shapely.contains_xy(post.outline, *probe)
    assert cells.any()
    assert post.vertices[:, 2].max() <= float((s.top - shell)[cells].max()) + 1e-6
    # the posted side (medial, varus) is the taller side of the post
    m = trimesh.Trimesh(post.vertices, post.faces)
    assert m.volume > 1000.0


def test_the_print_object_carries_each_zone_with_its_material_level(foot):
    d = _design(foot, "template=heel_pain")
    obj, report = print_object(d, "RX_left")
    names = [v.name for v in obj.modifiers]
    assert names == ["rearfoot", "heel_cushion", "arch", "forefoot"]
    soft = zone_settings(d.prescription)["heel_cushion"][1]
    heel = obj.modifiers[1]
    assert heel.prusa["fill_density"] == f"{soft.infill_pct:g}%" == "10%"
    assert heel.orca["sparse_infill_density"] == "10%"
    assert report["heel_cushion"]["stiffness"] == "soft" and report["rearfoot"]["stiffness"] == "firm"
    # an explicit infill % and powder-bed fusion
    d2 = _design(foot, "stiffness.arch=33", "material=pa12")
    obj2, report2 = print_object(d2, "x")
    assert obj2.modifiers == () and "solid" in report2["arch"]["settings"]
    d3 = _design(foot, "stiffness.arch=33")
    assert print_object(d3, "x")[0].modifiers[2].prusa["fill_density"] == "33%"
