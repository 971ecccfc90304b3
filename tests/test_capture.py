"""Capture checks (orthogen.foot.capture): damaged captures are refused saying what is wrong and what to
do; whole feet, real and synthetic, with holes and noise, pass; the side confidence needs agreeing cues."""

from __future__ import annotations

import numpy as np
import pytest

from orthogen.errors import ScanError
from orthogen.foot.capture import (
    MAX_RESOLUTION_MM,
    body_areas,
    calibrated_side,
    coordinate_resolution,
    doubled_share,
    end_bluntness,
    end_heights,
    require_resolution,
)
from orthogen.foot.measure import SideCall
from orthogen.foot.measure_scan import MeasureOptions, measure_scan
from tests import damaged_captures as dc
from tests.conftest import real_scan


def _measure(tmp_path, mesh_or_bytes, name="scan.stl", **opts):
    p = tmp_path / name
    if isinstance(mesh_or_bytes, bytes):
        p.write_bytes(mesh_or_bytes)
    else:
        mesh_or_bytes.export(p)
    return measure_scan(p, MeasureOptions(**opts))


# ----------------------------------------------------------------------------- resolution
def test_float32_far_from_the_origin_resolves_in_coarse_steps():
    v = (np.random.default_rng(0).uniform(0, 260, (500, 3)) + 1e8).astype(np.float32).astype(float)
    assert coordinate_resolution(v) == 8.0  # float32 spacing at 1e8
    near = np.random.default_rng(0).uniform(0, 260, (500, 3)).astype(np.float32).astype(float)
    assert coordinate_resolution(near) == pytest.approx(float(np.spacing(np.float32(260.0))), rel=0.5)
    with pytest.raises(ScanError, match=r"coordinates resolve only 8 mm steps .* export the scan again"):
        require_resolution(v, 1.0)
    far64 = np.random.default_rng(0).uniform(0, 260, (500, 3)) + 1e8  # stored as double: fine
    assert require_resolution(far64, 1.0) < MAX_RESOLUTION_MM
    assert require_resolution(far64 / 1000.0, 1000.0) < MAX_RESOLUTION_MM


def test_rounded_text_is_coarse_but_a_scanner_grid_is_not():
    rng = np.random.default_rng(1)
    n = 2000
    rows, columns = 2.0 * rng.integers(0, 135, n), 0.6 * rng.integers(0, 170, n)
    grid = np.column_stack([rows, columns, rng.uniform(0, 60, n)])
    assert coordinate_resolution(grid) < 0.01  # Seraph: 2 mm rows, 0.6 mm columns, z fine
    assert coordinate_resolution(np.round(grid * 1.37)) == 1.0  # every axis written with no decimals


# ----------------------------------------------------------------------------- heel cut off, front cut open
@pytest.mark.parametrize("fraction", [0.15, 0.2])
@pytest.mark.parametrize("kind", ["full_foot", "plantar_shell"])
def test_heel_cut_open_is_refused(tmp_path, kind, fraction):
    """Was: a synthetic 260 mm foot cut 20 % at the heel gave a 213 mm insole with exit 0."""
    with pytest.raises(ScanError, match=r"open across the back of the heel .* rescan the foot with the"):
        _measure(tmp_path, dc.cut_heel(dc.foot(260.0, kind), fraction))


@pytest.mark.parametrize("fraction", [0.15, 0.2])
def test_heel_cut_and_capped_flat_is_refused(tmp_path, fraction):
    with pytest.raises(ScanError, match=r"the heel is cut flat at the back \(\d+% of the heel's width"):
        _measure(tmp_path, dc.cut_heel(dc.foot(260.0), fraction, cap=True))


def test_foot_cut_through_the_midfoot_is_refused(tmp_path):
    """Was: 30 % cut gave a 189 mm insole for the wrong side (confidence 0.63); the alignment takes the
    cut end for the toes, so the open cut is found at the front."""
    with pytest.raises(ScanError, match=r"cut open straight across its front end .* rescan the foot whole"):
        _measure(tmp_path, dc.cut_heel(dc.foot(260.0), 0.3))


@pytest.mark.parametrize("fraction", [0.3, 0.4])
def test_capped_midfoot_cut_is_refused(tmp_path, fraction):
    """Was: capped flat, a 30-40 % cut looked like a 163-187 mm toeless foot; measure passed it with an
    unsure side and, given --side, design built a short device. A whole foot is tallest at its heel
    and ankle; this one is tallest at the cut, at the end the alignment took for the front."""
    with pytest.raises(ScanError, match=r"taller at its front end .* heel is missing .* rescan the foot"):
        _measure(tmp_path, dc.cut_heel(dc.foot(260.0), fraction, cap=True))


def test_whole_feet_are_tallest_at_the_heel(tmp_path):
    foot = _measure(tmp_path, dc.foot(260.0))
    rear, front = end_heights(foot.vertices, foot.plantar)
    assert rear > 2.0 * front


def test_end_bluntness_of_whole_and_cut_feet(tmp_path):
    whole = _measure(tmp_path, dc.foot(260.0))
    heel, toes = end_bluntness(whole.plantar)
    assert 0.5 < heel < 0.7 and 0.3 < toes < 0.6
    assert whole.capture.heel_bluntness == pytest.approx(heel, abs=1e-4)


@pytest.mark.parametrize(
    ("kind", "length", "hole_fraction", "seed", "toes"),
    [
        ("full_foot", 150.0, 0.02, 4, True),
        ("plantar_shell", 340.0, 0.05, 0, True),
        ("full_foot", 260.0, 0.05, 3, True),
        ("plantar_shell", 340.0, 0.05, 6, True),
        ("plantar_shell", 150.0, 0.02, 6, False),
        ("plantar_shell", 340.0, 0.05, 5, False),
    ],
)
def test_holes_in_the_sole_are_not_taken_for_a_cut(tmp_path, kind, length, hole_fraction, seed, toes):
    """Holes next to the heel or the toes bound the footprint by open edges too (each of these was refused
    as a cut by an earlier rule); a cut's open edge is straight, a hole's rim is not."""
    from orthogen.synth.model import FootSpec, synth_scan

    spec = FootSpec(length_mm=length, side="left" if seed % 2 else "right", toes=toes)
    noise = 0.2 * (seed % 3)
    mesh, truth = synth_scan(spec, kind=kind, hole_fraction=hole_fraction, seed=seed, noise_mm=noise)
    foot = _measure(tmp_path, mesh)
    assert abs(foot.measurements.foot_length_mm - truth["foot_length_mm"]) <= 2.0 + 0.02 * length


# ----------------------------------------------------------------------------- doubled captures
@pytest.mark.parametrize(
    ("shift", "turn"),
    [((60.0, 0.0, 0.0), 0.0), ((0.0, 0.0, 0.0), 8.0), ((0.0, 0.0, 120.0), 0.0)],
    ids=["60 mm apart", "turned 8 deg", "stacked"],
)
def test_two_copies_of_a_foot_are_refused(tmp_path, shift, turn):
    """Was: 60 mm apart gave a 322 mm insole for a 260 mm foot; turned 8 deg a 122.5 mm ball width."""
    with pytest.raises(ScanError, match=r"2 separate surfaces of a foot's size .* one foot captured twice"):
        _measure(tmp_path, dc.doubled(dc.foot(260.0), shift, turn))


@pytest.mark.parametrize(("shift", "turn"), [((52.0, 0.0, 0.0), 0.0), ((0.0, 0.0, 0.0), 8.0)])
def test_a_doubled_sole_welded_into_one_surface_is_refused(tmp_path, shift, turn):
    mesh = dc.doubled(dc.foot(260.0, "plantar_shell"), shift, turn, connected=True)
    assert len(body_areas(mesh.vertices, mesh.faces)) == 1
    with pytest.raises(ScanError, match=r"the sole is captured twice: \d+% of it is covered by two"):
        _measure(tmp_path, mesh)


def test_doubled_share_is_zero_for_one_capture_and_high_for_two(tmp_path):
    single = _measure(tmp_path, dc.foot(260.0))
    assert doubled_share(single.vertices, single.scan.faces, single.plantar) == 0.0
    v = np.vstack([single.vertices, single.vertices + np.array([0.0, 0.0, 2.0])])
    f = np.vstack([single.scan.faces, single.scan.faces + len(single.vertices)])
    assert doubled_share(v, f, single.plantar) > 0.9


def test_far_float32_scan_is_refused(tmp_path):
    """Was: a float32 STL quantised to 8 mm steps was designed without a warning."""
    with pytest.raises(ScanError, match=r"coordinates resolve only 8 mm steps"):
        _measure(tmp_path, dc.far_float32_stl(dc.foot(260.0)))


# ----------------------------------------------------------------------------- not a foot, side confidence
def test_a_triangle_is_no_foot(tmp_path):
    """Was: measured as a left foot "with confidence 1.00" and given an insole."""
    with pytest.raises(ScanError, match=r"only \d+ mm wide at the heel against \d+ mm at the ball"):
        _measure(tmp_path, dc.triangle_stl())


def test_foot_on_a_captured_plate_says_so(tmp_path):
    """Was: measured 9 mm long and refused without saying why."""
    with pytest.raises(ScanError, match=r"something was captured with the foot \(a scanner plate"):
        _measure(tmp_path, dc.on_plate(dc.foot(260.0)))


def test_side_confidence_needs_two_agreeing_cues():
    triangle = SideCall("left", 0.999, {"arch_mm": 0.0, "contact_mm": -0.0, "toe_mm": -30.64})
    assert calibrated_side(triangle).confidence == pytest.approx(0.4995, abs=1e-3)
    halved = SideCall("right", 0.663, {"arch_mm": 0.72, "contact_mm": 2.26, "toe_mm": 0.48})
    assert calibrated_side(halved).confidence < 0.3
    foot = SideCall("right", 0.997, {"arch_mm": 3.86, "contact_mm": 5.64, "toe_mm": 3.44})  # Seraph right
    assert calibrated_side(foot).confidence == 0.997
    split = SideCall("left", 0.9, {"arch_mm": -4.0, "contact_mm": 12.0, "toe_mm": -16.0})
    assert calibrated_side(split).confidence == pytest.approx(0.45)


# ----------------------------------------------------------------------------- real scans
REAL = [
    "aetrex/dupontgu_left.stl",
    "aetrex/dupontgu_right.stl",
    "techmed3d/verdier_right_plantar.obj",
    "foambox/seraph_a_left.ply",
    "foambox/seraph_a_right.ply",
    "phone/kotak_mobile1.stl",
]


@pytest.mark.parametrize("rel", REAL)
def test_real_scans_pass_every_capture_check(rel):
    foot = measure_scan(real_scan(rel))
    assert foot.side_call.confidence >= 0.99
    c = foot.capture
    assert c.resolution_mm < 0.001 and c.doubled_share == 0.0 and c.open_heel_share == 0.0
    if "foambox" not in rel:  # foam boxes end open at the toes by design (the front is not checked)
        assert c.open_front_share == 0.0
    assert 0.55 <= c.heel_to_ball <= 0.85 and 0.35 <= c.heel_bluntness <= 0.7


@pytest.mark.parametrize("fraction", [0.15, 0.2, 0.3, 0.35])
def test_real_aetrex_scan_with_its_heel_cut_off_is_refused(tmp_path, fraction):
    """Was: the 275 mm Aetrex foot with 15 % of its heel missing gave a 235 mm insole."""
    import trimesh

    foot = measure_scan(real_scan("aetrex/dupontgu_left.stl"))
    v = foot.vertices  # standard frame: x from the heel
    keep = v[foot.scan.faces][:, :, 0].min(axis=1) >= fraction * foot.measurements.foot_length_mm
    cut = trimesh.Trimesh(foot.scan.vertices, foot.scan.faces[keep], process=False)
    with pytest.raises(ScanError, match=r"open across the back of the heel|cut open straight across"):
        _measure(tmp_path, cut)
