"""The design job on synthetic feet with exact truth: balancing, posting, toes, ends, lifts, accommodations.

Every device is written as an STL and measured with trimesh ray casts (``tests/meshprobe.py``), not
with orthogen's own checks. Angles and heights are read at the synthetic foot's truth where the device
must follow the foot there (heel, toes); accommodations and ends are read against the landmarks the
measure stage found on the foot (``foot.measurements.landmarks``; the detector's own accuracy is
tested in ``test_anatomy.py``), since placing a device part at the foot's landmark is the device's job.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from orthogen.device import corrections
from orthogen.device.design import design_foot
from orthogen.device.template import template_geometry
from orthogen.errors import GeometryError, OrthogenError
from orthogen.foot.measure_scan import MeasureOptions, measure_scan
from orthogen.output.export import write_stl
from orthogen.rx.load import load_prescription
from orthogen.synth.model import FootSpec, synth_scan
from tests import meshprobe as mp


@cache
def _foot(tmpdir: str, spec: FootSpec, kind: str):
    mesh, truth = synth_scan(spec, kind=kind)
    path = f"{tmpdir}/{abs(hash((spec, kind)))}.stl"
    mesh.export(path)
    return measure_scan(path, MeasureOptions()), truth


@pytest.fixture(scope="module")
def tmpdir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("synth"))


def _design(foot, *sets: str):
    rx = load_prescription(None, list(sets))
    return design_foot(foot, rx, template_geometry(rx.template))


def _mesh(d, tmp_path, name="d.stl"):
    path = write_stl(tmp_path / name, d.vertices, d.faces)
    return mp.load(path)


def _out(d, p):
    """A foot-frame point in the device's output frame."""
    return (p[0] + d.x_shift_mm, p[1])


def _seat_angle(d, mesh, centre) -> float:
    r = 0.4 * d.regions.heel_half_width
    return mp.frontal_angle_deg(mesh, mp.disc(_out(d, centre), r), d.regions.medial_sign)


def _landmarks(d) -> dict:
    a = d.foot.measurements.landmarks
    return {k: getattr(a, k) for k in ("heel_centre", "met_head_1", "met_head_5", "arch_apex", "hallux_tip")}


def _forefoot_angle(d, mesh, truth=None) -> float:
    a = _landmarks(d)
    (x1, y1), (x5, y5) = a["met_head_1"], a["met_head_5"]
    t = np.linspace(0.2, 0.8, 13)
    pts = [(x5 + s * (x1 - x5) - dx, y5 + s * (y1 - y5)) for s in t for dx in (4.0, 8.0, 12.0)]
    xy = np.array([_out(d, p) for p in pts])
    return mp.frontal_angle_deg(mesh, xy, d.regions.medial_sign)


TILTED = [
    (FootSpec(heel_tilt_deg=-8.0, forefoot_varus_deg=5.0), "impression"),
    (FootSpec(side="right", heel_tilt_deg=7.0, forefoot_varus_deg=-4.0), "impression"),
    (FootSpec(heel_tilt_deg=6.0, toe_raise_mm=10.0), "plantar_shell"),
    (FootSpec(side="right", heel_tilt_deg=-5.0), "full_foot"),
]


@pytest.mark.parametrize("spec,kind", TILTED, ids=lambda v: getattr(v, "side", v))
@pytest.mark.parametrize("construction", ["full_contact", "shell"])
def test_balanced_heel_seat_is_level_against_the_floor(tmpdir, tmp_path, spec, kind, construction):
    foot, truth = _foot(tmpdir, spec, kind)
    d = _design(foot, f"construction={construction}")
    mesh = _mesh(d, tmp_path)
    assert abs(_seat_angle(d, mesh, truth["anatomy_mm"]["heel_centre"])) <= 0.5
    assert abs(_forefoot_angle(d, mesh, truth)) <= 0.5  # forefoot post 0: level too
    assert mesh.is_watertight and mesh.bounds[0, 2] == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("post,inversion", [(4.0, 0.0), (-4.0, 0.0), (0.0, 5.0), (3.0, 4.0)])
def test_heel_seat_angle_is_inversion_plus_post_whatever_the_capture(tmpdir, tmp_path, post, inversion):
    foot, truth = _foot(tmpdir, *TILTED[0])  # captured 8 deg everted
    d = _design(foot, f"rearfoot_post_deg={post}", f"balance_inversion_deg={inversion}")
    mesh = _mesh(d, tmp_path)
    seat = _seat_angle(d, mesh, truth["anatomy_mm"]["heel_centre"])
    assert seat == pytest.approx(post + inversion, abs=0.5)
    assert _forefoot_angle(d, mesh, truth) == pytest.approx(inversion, abs=0.5)  # the post stays at the heel


@pytest.mark.parametrize("spec,kind", TILTED[:2], ids=["varus", "valgus"])
def test_forefoot_auto_keeps_the_foot_s_own_deformity(tmpdir, tmp_path, spec, kind):
    foot, truth = _foot(tmpdir, spec, kind)
    deformity = truth["frontal_angles_deg"]["forefoot_to_rearfoot_deg"]
    d = _design(foot, "forefoot_post_deg=auto")
    # the synthetic arch dome runs on under the met heads, so the measured deformity is near, not at, truth
    measured = d.balance.forefoot_to_rearfoot_deg
    assert np.sign(measured) == np.sign(deformity) and abs(measured - deformity) <= 3.0
    assert _forefoot_angle(d, _mesh(d, tmp_path), truth) == pytest.approx(measured, abs=0.5)
    fixed = _design(foot, "forefoot_post_deg=3")
    assert _forefoot_angle(fixed, _mesh(fixed, tmp_path, "f.stl"), truth) == pytest.approx(3.0, abs=0.5)


@pytest.mark.parametrize("kind", ["impression", "plantar_shell"])
def test_raised_toes_are_brought_down_onto_the_footbed(tmpdir, tmp_path, kind):
    foot, truth = _foot(tmpdir, FootSpec(toe_raise_mm=14.0), kind)
    d = _design(foot)
    mesh = _mesh(d, tmp_path)
    a = truth["anatomy_mm"]
    sulcus_x = max(a["sulcus_medial"][0], a["sulcus_lateral"][0]) + 5.0
    x = np.arange(sulcus_x, truth["foot_length_mm"] - 6.0, 3.0)
    y = np.arange(-30.0, 30.0, 3.0)
    pts = np.array([_out(d, (xx, yy)) for xx in x for yy in y])
    t = mp.thickness(mesh, pts)
    assert np.nanmax(t) <= 2.6  # the 2 mm extension, never a slab under raised toes


def test_full_length_ends_feathered_and_covers_the_toes(tmpdir, tmp_path):
    foot, truth = _foot(tmpdir, FootSpec(), "full_foot")
    d = _design(foot)
    mesh = _mesh(d, tmp_path)
    tip_x, tip_y = truth["anatomy_mm"]["hallux_tip"]
    end = float(mesh.bounds[1, 0])
    assert end >= tip_x + d.x_shift_mm - 2.0  # covers the hallux to within 2 mm
    for y in np.linspace(tip_y - 15, tip_y + 15, 7):
        xs = np.arange(end - 40.0, end + 1.0, 0.5)
        t = mp.thickness(mesh, np.column_stack([xs, np.full_like(xs, y)]))
        ok = np.isfinite(t)
        if ok.sum() < 10:
            continue
        last = xs[ok].max()
        assert np.nanmax(t[ok & (xs >= last - 3.0)]) <= 1.5 + 0.05


@pytest.mark.parametrize("length", ["metatarsal", "three_quarter"])
@pytest.mark.parametrize("construction", ["full_contact", "shell"])
def test_short_lengths_end_skived_behind_the_met_heads(tmpdir, tmp_path, length, construction):
    foot, _truth = _foot(tmpdir, FootSpec(), "plantar_shell")
    d = _design(foot, f"length={length}", f"construction={construction}")
    mesh = _mesh(d, tmp_path)
    a = _landmarks(d)
    for head in (a["met_head_1"], a["met_head_5"]):
        xs = np.arange(head[0] - 60.0, head[0] + 10.0, 0.5) + d.x_shift_mm
        t = mp.thickness(mesh, np.column_stack([xs, np.full_like(xs, head[1])]))
        ok = np.isfinite(t)
        end = xs[ok].max()
        assert end <= head[0] + d.x_shift_mm - 5.0 + 0.5  # at least 5 mm behind the met head
        assert end >= head[0] + d.x_shift_mm - 25.0  # ... and not far behind it
        assert t[ok][-1] <= 1.5 + 0.05  # never a square cut
        # the taper spans at least 10 mm: 9 mm back it is still thinner than 16 mm back
        back9, back16 = (float(t[np.argmin(np.abs(xs - (end - b)))]) for b in (9.0, 16.0))
        assert back9 < back16 - 0.1


def test_shell_is_hollow_and_lighter_than_full_contact(tmpdir, tmp_path):
    foot, truth = _foot(tmpdir, FootSpec(arch_height_mm=18.0), "impression")
    full = _design(foot)
    shell = _design(foot, "construction=shell")
    assert shell.checks.volume_mm3 <= 0.6 * full.checks.volume_mm3
    mesh = _mesh(shell, tmp_path)
    apex = truth["anatomy_mm"]["arch_apex"]
    assert mp.heights(mesh, [_out(shell, apex)], from_above=False)[0] > 5.0  # hollow under the arch
    heel = truth["anatomy_mm"]["heel_centre"]
    assert mp.heights(mesh, [_out(shell, heel)], from_above=False)[0] == pytest.approx(0.0, abs=1e-3)  # post


def test_heel_lift_at_the_heel_and_none_at_the_met_heads(tmpdir, tmp_path):
    foot, truth = _foot(tmpdir, FootSpec(), "full_foot")
    a = truth["anatomy_mm"]
    base = _mesh(_design(foot), tmp_path, "a.stl")
    lifted_d = _design(foot, "heel_lift_mm=6")
    lifted = _mesh(lifted_d, tmp_path, "b.stl")
    heel, ball = _out(lifted_d, a["heel_centre"]), _out(lifted_d, a["met_head_1"])
    assert (mp.heights(lifted, [heel]) - mp.heights(base, [heel]))[0] == pytest.approx(6.0, abs=0.3)
    assert (mp.heights(lifted, [ball]) - mp.heights(base, [ball]))[0] == pytest.approx(0.0, abs=0.3)
    other = _design(foot, "heel_lift_mm=6", "heel_lift_side=right")  # a left foot: no lift here
    assert np.abs(other.vertices - base_vertices(foot)).max() < 1e-9
    assert any("no heel lift" in w for w in other.warnings)


def base_vertices(foot):
    return _design(foot).vertices


def test_shoe_drop_raises_the_underside_at_the_heel(tmpdir, tmp_path):
    foot, truth = _foot(tmpdir, FootSpec(), "full_foot")
    d = _design(foot, "shoe_drop_mm=10")
    mesh = _mesh(d, tmp_path)
    a = truth["anatomy_mm"]
    under = mp.heights(mesh, [_out(d, a["heel_centre"]), _out(d, a["met_head_1"])], from_above=False)
    assert under == pytest.approx([10.0, 0.0], abs=0.05)


def _dent(foot, tmp_path, *sets):
    """Top of the device with an accommodation minus without it, on a 2 mm grid (output frame)."""
    plain = _design(foot)
    d = _design(foot, *sets)
    a, b = _mesh(plain, tmp_path, "p.stl"), _mesh(d, tmp_path, "q.stl")
    lo, hi = b.bounds[0, :2], b.bounds[1, :2]
    gx, gy = np.meshgrid(np.arange(lo[0], hi[0], 2.0), np.arange(lo[1], hi[1], 2.0))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    return d, xy, mp.heights(b, xy) - mp.heights(a, xy)


def test_first_mpj_cutout_is_centred_under_the_first_met_head(tmpdir, tmp_path):
    foot, _truth = _foot(tmpdir, FootSpec(), "plantar_shell")
    d, xy, dz = _dent(foot, tmp_path, "first_mpj_cutout=true")
    sel = np.nan_to_num(dz) < -0.5
    w = -dz[sel]
    centre = (w @ xy[sel]) / w.sum()
    want = np.array(_out(d, _landmarks(d)["met_head_1"]))
    assert np.hypot(*(centre - want)) <= 3.0
    assert -np.nanmin(dz) == pytest.approx(2.0, abs=0.3)


def test_met_pad_sits_just_proximal_of_met_heads_2_to_4(tmpdir, tmp_path):
    foot, _truth = _foot(tmpdir, FootSpec(), "plantar_shell")
    d, xy, dz = _dent(foot, tmp_path, "met_pad=true")
    sel = np.nan_to_num(dz) > 0.3
    a = _landmarks(d)
    (x1, y1), (x5, y5) = (_out(d, a["met_head_1"]), _out(d, a["met_head_5"]))
    cy = (dz[sel] @ xy[sel, 1]) / dz[sel].sum()
    t = (cy - y5) / (y1 - y5)
    assert 0.25 <= t <= 0.75  # between the 2nd and 4th heads
    distal = xy[sel, 0].max()
    assert distal <= x5 + t * (x1 - x5) + 8.0  # behind the met-head arc (the 2nd head bulges ~1/8)
    assert np.nanmax(dz) == pytest.approx(5.0, abs=0.3)


def test_a_misplaced_accommodation_is_refused(tmpdir, monkeypatch):
    """The check finds the pad on the mesh: a pad the builder put under the heel is refused."""
    foot, _ = _foot(tmpdir, FootSpec(), "plantar_shell")
    monkeypatch.setattr(corrections, "met_pad_centre", lambda regions, *_: regions.heel_centre)
    with pytest.raises(GeometryError, match="met_pad"):
        _design(foot, "met_pad=true")


def test_recess_too_deep_for_the_shell_is_refused_naming_the_key(tmpdir):
    foot, _ = _foot(tmpdir, FootSpec(), "plantar_shell")
    with pytest.raises(GeometryError, match=r"first_mpj_cutout\.depth_mm"):
        _design(foot, "shell_thickness_mm=1.5", "first_mpj_cutout.depth_mm=6")


def test_heel_cup_rim_height(tmpdir, tmp_path):
    foot, truth = _foot(tmpdir, FootSpec(), "impression")
    d = _design(foot, "heel_cup_depth_mm=16")
    mesh = _mesh(d, tmp_path)
    hy = truth["anatomy_mm"]["heel_centre"][1]
    xs = np.arange(mesh.bounds[0, 0], mesh.bounds[0, 0] + 6.0, 0.5)
    ys = np.arange(hy - 8.0, hy + 8.0, 1.0)
    pts = np.array([(x, y) for x in xs for y in ys])
    assert np.nanmax(mp.heights(mesh, pts)) == pytest.approx(16.0, abs=1.0)


def test_label_ends_in_the_side_letter(tmpdir):
    foot, _ = _foot(tmpdir, FootSpec(side="right"), "full_foot")
    d = _design(foot, "label=RX-1042 L")
    assert d.label_text == "RX-1042 R"


def test_shoe_size_never_lengthens_a_scan_with_toes(tmpdir):
    foot, _ = _foot(tmpdir, FootSpec(), "full_foot")  # 260 mm with toes
    ok = _design(foot, "shoe_size=EU 41")  # a 260 mm foot: agrees
    assert ok.checks.length_mm < 265.0
    with pytest.raises(OrthogenError, match=r"shoe_size EU 46.*26\d mm"):
        _design(foot, "shoe_size=EU 46")
    with pytest.raises(OrthogenError, match=r"foot_length_mm = 240.*26\d mm"):
        _design(foot, "foot_length_mm=240")


def test_a_scan_without_toes_is_lengthened_to_the_given_foot(tmpdir):
    foot, _ = _foot(tmpdir, FootSpec(toes=False), "impression")
    d = _design(foot, "foot_length_mm=260")
    assert d.checks.length_mm == pytest.approx(260.0, abs=4.0)
    assert any("toes not captured" in w for w in d.warnings)


def test_same_input_same_bytes(tmpdir, tmp_path):
    foot, _ = _foot(tmpdir, FootSpec(), "plantar_shell")
    a = write_stl(tmp_path / "a.stl", *_vf(_design(foot, "construction=shell", "met_pad=true")))
    b = write_stl(tmp_path / "b.stl", *_vf(_design(foot, "construction=shell", "met_pad=true")))
    assert a.read_bytes() == b.read_bytes()


def _vf(d):
    return d.vertices, d.faces


def test_length_disagreements_are_refused_through_the_cli(tmp_path):
    """A shoe size or --foot-length that disagrees with a scan that has its toes: one line, exit 2."""
    import subprocess
    import sys

    from tests.conftest import BUNDLED_SCANS

    scan = BUNDLED_SCANS / "synth_left_full_foot.stl"  # 260 mm with toes
    for extra, words in (
        (["--set", "shoe_size=EU 46"], ["shoe_size EU 46", "26"]),
        (["--foot-length", "230"], ["foot_length_mm = 230", "26"]),
    ):
        out = tmp_path / extra[0].strip("-")
        proc = subprocess.run(
            [sys.executable, "-m", "orthogen", "design", str(scan), *extra, "-o", str(out), "--no-preview"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and all(w in lines[0] for w in words), lines
        assert not out.exists() or not any(out.iterdir())
