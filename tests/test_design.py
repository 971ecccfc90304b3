"""Design acceptance: every foot, a grid of prescriptions, values measured back from the output mesh."""

from __future__ import annotations

import numpy as np
import pytest

from orthogen.device.design import design_foot
from orthogen.errors import GeometryError, PrescriptionError
from orthogen.foot.heightmap import envelopes, sample
from orthogen.foot.measure_scan import MeasureOptions, measure_scan
from orthogen.output.export import json_text, stl_bytes
from orthogen.rx.load import load_prescription

from .conftest import BUNDLED_SCANS, real_scan

SYNTH = sorted(p.name for p in BUNDLED_SCANS.glob("synth_*") if not p.name.endswith(".json"))
REAL = [
    ("aetrex/dupontgu_left.stl", None),
    ("aetrex/dupontgu_right.stl", None),
    ("techmed3d/verdier_right_plantar.obj", None),
    ("foambox/seraph_a_left.scan", None),
    ("foambox/seraph_a_right.ply", None),
    ("imprint/polycron_left.ply", 245.0),
    ("phone/kotak_mobile1.stl", None),
]
FEET = [("synth", s, None) for s in SYNTH] + [("real", r, fl) for r, fl in REAL]
_cache: dict = {}


def foot_for(source, name, foot_length):
    key = (source, name)
    if key not in _cache:
        path = BUNDLED_SCANS / name if source == "synth" else real_scan(name)
        _cache[key] = measure_scan(path, MeasureOptions(foot_length_mm=foot_length))
    return _cache[key]


def rx(*sets):
    # arch fill 0 in the base so the comparisons see only the correction under test
    return load_prescription(None, ["arch_fill_mm=0", *sets])


def thickness_at(design, xy):
    """Device thickness (mm) read from the output mesh at points in the design's foot frame."""
    d = design
    bot, top = envelopes(d.solid.vertices, d.solid.faces, d.surfaces.grid)
    return sample(top - bot, d.surfaces.grid, np.atleast_2d(xy))


@pytest.fixture(params=FEET, ids=[f"{s}:{n}" for s, n, _ in FEET], scope="module")
def foot(request):
    return foot_for(*request.param)


@pytest.fixture(scope="module")
def base(foot):
    return design_foot(foot, rx())


def test_base_device_valid_and_in_standard_frame(foot, base):
    c = base.checks
    assert c.watertight and c.manifold and c.winding_consistent and c.bodies == 1 and c.volume_mm3 > 0
    v = base.vertices
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-6)  # rests on the footbed
    assert v[:, 0].min() == pytest.approx(0.0, abs=1e-6)  # insole back edge at x = 0
    assert c.min_thickness_mm >= 3.0 - 0.05  # default shell 3 mm, no top cover
    # outline consistent with the foot: full length to the toe tip plus the heel-cup wall
    L = foot.measurements.foot_length_mm
    assert c.length_mm == pytest.approx(L + 2.5, abs=3.0)
    assert c.forefoot_width_mm == pytest.approx(
        foot.measurements.ball_width_mm, abs=0.06 * foot.measurements.ball_width_mm
    )
    assert c.heel_cup_rim_height_mm == pytest.approx(12.0, abs=1.0)


@pytest.mark.parametrize("lift", [3.0, 12.0])
def test_heel_lift(foot, base, lift):
    d = design_foot(foot, rx(f"heel_lift_mm={lift}"))
    assert d.checks.heel_thickness_mm - base.checks.heel_thickness_mm == pytest.approx(lift, abs=0.2)
    lm = foot.measurements.landmarks
    met = [
        (lm.met_head_1[0] + 2, lm.met_head_1[1] * 0.7 + lm.met_head_5[1] * 0.3),
        (lm.met_head_5[0] + 2, lm.met_head_5[1] * 0.8 + lm.met_head_1[1] * 0.2),
    ]
    np.testing.assert_allclose(thickness_at(d, met), thickness_at(base, met), atol=0.2)
    assert d.checks.heel_cup_rim_height_mm == pytest.approx(12.0 + lift, abs=1.0)
    if lift > 6:
        assert any("heel_lift_mm" in w for w in d.warnings)


@pytest.mark.parametrize("deg", [-10.0, 10.0])
def test_rearfoot_post(foot, base, deg):
    d = design_foot(foot, rx(f"rearfoot_post_deg={deg}"))
    delta = d.checks.rearfoot_frontal_angle_deg - base.checks.rearfoot_frontal_angle_deg
    assert delta == pytest.approx(deg, abs=0.5)


@pytest.mark.parametrize("deg", [-6.0, 6.0])
def test_forefoot_post(foot, base, deg):
    d = design_foot(foot, rx(f"forefoot_post_deg={deg}"))
    delta = d.checks.forefoot_frontal_angle_deg - base.checks.forefoot_frontal_angle_deg
    assert delta == pytest.approx(deg, abs=0.5)


@pytest.mark.parametrize("cup", [0.0, 30.0])
def test_heel_cup_depth(foot, cup):
    d = design_foot(foot, rx(f"heel_cup_depth_mm={cup}"))
    expected = max(cup, 3.0)  # no cup (0): the rim is the shell's top edge (3 mm shell, no lift)
    assert d.checks.heel_cup_rim_height_mm == pytest.approx(expected, abs=1.0)


@pytest.mark.parametrize("arch", [8.0, 25.0])
def test_arch_height_on_target(foot, arch):
    d = design_foot(foot, rx(f"arch_height_mm={arch}"))
    assert d.checks.arch_peak_height_mm == pytest.approx(arch, abs=1.0)


@pytest.mark.parametrize("length", ["sulcus", "metatarsal", "three_quarter"])
def test_shell_length(foot, base, length):
    d = design_foot(foot, rx(f"length={length}"))
    lm = foot.measurements.landmarks
    x_met = min(lm.met_head_1[0], lm.met_head_5[0]) + d.x_shift_mm
    end = float(d.vertices[:, 0].max())
    L = d.outline.length_mm
    if length == "sulcus":
        assert 0.70 * L < end <= 0.83 * L
    else:
        x_front = max(lm.met_head_1[0], lm.met_head_5[0])
        assert end < x_front + d.x_shift_mm + 3.0  # behind the medial met head
        assert end > x_met - 25.0
    assert d.checks.bodies == 1 and d.checks.watertight


def test_extremes_and_accommodations_build_valid_devices(foot):
    for sets in (
        ["shell_thickness_mm=1.5", "heel_cup_depth_mm=0"],
        [
            "shell_thickness_mm=8",
            "top_cover_mm=6",
            "heel_lift_mm=12",
            "rearfoot_post_deg=10",
            "forefoot_post_deg=-10",
        ],
        [
            "heel_cup_depth_mm=16",
            "medial_heel_skive_mm=8",
            "rearfoot_post_deg=6",
            "medial_flange_mm=25",
            "lateral_flange_mm=25",
        ],
        [
            "met_pad.height_mm=8",
            "first_mpj_cutout.depth_mm=2",
            "heel_spur_pocket.depth_mm=2",
            "top_cover_mm=3",
        ],
        ["met_bar.height_mm=6", "mortons_extension.thickness_mm=4"],
        ["arch_fill_mm=10", "length=sulcus", "label=ORD-12345"],
    ):
        d = design_foot(foot, rx(*sets))
        c = d.checks
        assert c.watertight and c.manifold and c.bodies == 1, sets
        assert c.min_z_mm == pytest.approx(0.0, abs=1e-6)


def test_met_pad_raises_the_top_under_the_met_shafts(foot, base):
    d = design_foot(foot, rx("met_pad.height_mm=6"))
    assert d.report()["device"]["corrections_applied"]["met_pad"]["max_mm"] == pytest.approx(6.0, abs=0.1)
    assert d.checks.volume_mm3 > base.checks.volume_mm3


def test_label_is_engraved_on_the_underside():
    foot = foot_for("synth", SYNTH[0], None)
    plain = design_foot(foot, rx())
    labelled = design_foot(foot, rx("label=ORD-42"))
    assert labelled.checks.volume_mm3 < plain.checks.volume_mm3 - 5.0
    assert labelled.checks.bodies == 1 and labelled.checks.watertight


def test_recess_too_deep_for_the_shell_is_refused_naming_the_key():
    foot = foot_for("synth", SYNTH[0], None)
    with pytest.raises(GeometryError, match=r"heel_spur_pocket\.depth_mm"):
        design_foot(foot, rx("shell_thickness_mm=2", "heel_spur_pocket.depth_mm=6"))


def test_out_of_range_prescription_is_refused():
    with pytest.raises(PrescriptionError, match="heel_lift_mm"):
        rx("heel_lift_mm=20")


def test_same_input_same_bytes():
    foot = foot_for("synth", SYNTH[0], None)
    a = design_foot(foot, rx("rearfoot_post_deg=3", "heel_lift_mm=4", "label=A1"))
    b = design_foot(
        measure_scan(BUNDLED_SCANS / SYNTH[0]), rx("rearfoot_post_deg=3", "heel_lift_mm=4", "label=A1")
    )
    assert stl_bytes(a.vertices, a.faces) == stl_bytes(b.vertices, b.faces)
    assert json_text(a.report()) == json_text(b.report())
