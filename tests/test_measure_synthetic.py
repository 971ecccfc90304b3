"""Measurements on synthetic feet with known truth: every scan kind, side, unit, pose and noise."""

from __future__ import annotations

import numpy as np
import pytest

from orthogen.errors import ScanError
from orthogen.foot.measure_scan import MeasureOptions, measure_scan
from orthogen.synth.model import FootSpec

CASES = [
    # (spec, kind, units, extra synth options, file name)
    (FootSpec(), "full_foot", "m", {"rotation": "random"}, "a.stl"),
    (FootSpec(side="right"), "full_foot", "mm", {}, "b.ply"),
    (FootSpec(arch_height_mm=3.0), "full_foot", "mm", {"rotation": "random"}, "c.obj"),
    (FootSpec(arch_height_mm=22.0, side="right"), "plantar_shell", "mm", {"rotation": "random"}, "d.stl"),
    (
        FootSpec(length_mm=150, ball_width_mm=60, heel_width_mm=40, arch_height_mm=8),
        "full_foot",
        "m",
        {"rotation": "random"},
        "e.stl",
    ),
    (
        FootSpec(length_mm=340, ball_width_mm=125, heel_width_mm=85, arch_height_mm=18, side="right"),
        "impression",
        "mm",
        {"spikes": True, "upside_down": True},
        "f.ply",
    ),
    (
        FootSpec(length_mm=240, side="right"),
        "full_foot",
        "mm",
        {"rotation": "random", "noise_mm": 0.3, "hole_fraction": 0.03},
        "g.stl",
    ),
    (FootSpec(side="left"), "impression", "mm", {"rotation": "random", "spikes": True}, "h.ply"),
    (
        FootSpec(length_mm=280, ball_width_mm=108, heel_width_mm=72, side="right"),
        "plantar_shell",
        "mm",
        {"rotation": "random"},
        "i.obj",
    ),
]


@pytest.mark.parametrize("spec,kind,units,opts,name", CASES, ids=[c[-1] for c in CASES])
def test_measurements_match_truth(write_synth, spec, kind, units, opts, name):
    path, truth = write_synth(spec, name=name, kind=kind, units=units, seed=7, **opts)
    foot = measure_scan(path)
    m = foot.measurements
    assert foot.side == spec.side
    assert foot.kind == kind
    assert foot.units.name == units
    assert m.foot_length_mm == pytest.approx(truth["foot_length_mm"], abs=1.0)
    assert m.ball_width_mm == pytest.approx(truth["ball_width_mm"], abs=2.0)
    assert m.heel_width_mm == pytest.approx(truth["heel_width_mm"], abs=2.0)
    assert m.arch_height_mm == pytest.approx(truth["arch_height_mm"], abs=1.0)
    assert m.arch_index == pytest.approx(truth["arch_index"], abs=0.02)


def test_standard_frame_of_measured_vertices(write_synth):
    path, _ = write_synth(
        FootSpec(), name="frame.stl", kind="full_foot", units="mm", rotation="random", seed=2
    )
    foot = measure_scan(path)
    v = foot.vertices
    # heel back at x = 0, weight-bearing plane at z = 0 (to within the 0.5 % floor percentile), toes at +x
    assert foot.plantar.extent_x[0] == pytest.approx(0.0, abs=0.3)
    assert v[:, 2].min() == pytest.approx(0.0, abs=0.3)
    assert foot.measurements.landmarks.hallux_tip[0] > 250


@pytest.mark.parametrize("arch,expected", [(3.0, "flat"), (12.0, "normal"), (22.0, "high")])
def test_foot_type_follows_arch(write_synth, arch, expected):
    path, _ = write_synth(FootSpec(arch_height_mm=arch), name="t.stl", kind="full_foot", units="mm")
    foot = measure_scan(path)
    assert foot.measurements.foot_type == expected


def test_given_side_contradicting_a_confident_detection_is_refused(write_synth):
    """Was: only a warning, and a left scan became a right insole (issue 9)."""
    path, _ = write_synth(FootSpec(side="left"), name="l.stl", kind="full_foot", units="mm")
    with pytest.raises(ScanError) as err:
        measure_scan(path, MeasureOptions(side="right"))
    msg = str(err.value)
    assert "--side right contradicts the scan: the geometry shows a left foot (confidence 1.00)" in msg
    assert "--set mirror=true" in msg and "\n" not in msg
    assert "in the order's overrides: mirror=true" in err.value.message("batch")
    named = MeasureOptions(side="right", side_source="the right_scan column")
    with pytest.raises(ScanError, match="the right_scan column contradicts the scan"):
        measure_scan(path, named)


def test_mirror_makes_the_device_side_from_the_other_foot(write_synth):
    """mirror: true mirrors the scan (y -> -y in the standard frame) and re-measures it."""
    path, _ = write_synth(FootSpec(side="left", length_mm=250), name="l.stl", kind="plantar_shell")
    plain = measure_scan(path)
    foot = measure_scan(path, MeasureOptions(side="right", mirror=True))
    assert foot.side == "right" and foot.mirrored and foot.report()["mirrored"] is True
    assert foot.side_call.side == "right" and foot.side_call.confidence >= 0.99  # the mirrored geometry
    assert any(w.startswith("mirrored: the scan shows a left foot") for w in foot.warnings)
    assert foot.measurements.foot_length_mm == pytest.approx(plain.measurements.foot_length_mm, abs=1.0)
    assert foot.measurements.ball_width_mm == pytest.approx(plain.measurements.ball_width_mm, abs=1.0)
    assert np.allclose(foot.vertices[:, 1], -plain.vertices[:, 1])
    assert foot.plantar.extent_x[0] == pytest.approx(0.0, abs=1e-9)
    assert np.linalg.det(foot.alignment.rotation) == pytest.approx(-1.0)
    with pytest.raises(ScanError, match="scan shows a left foot already"):
        measure_scan(path, MeasureOptions(side="left", mirror=True))


def test_units_override_and_foot_length_scaling(write_synth):
    path, _ = write_synth(FootSpec(length_mm=250), name="u.stl", kind="plantar_shell", units="cm")
    with pytest.raises(Exception, match="--units cm"):
        measure_scan(path)
    foot = measure_scan(path, MeasureOptions(units="cm"))
    assert foot.measurements.foot_length_mm == pytest.approx(250, abs=1.0)
    scaled = measure_scan(path, MeasureOptions(foot_length_mm=262.0))
    assert scaled.measurements.foot_length_mm == pytest.approx(262.0, abs=0.5)
    assert any("no real-world scale" in w for w in scaled.warnings)


def test_cluster_decimate_merges_cells_and_drops_collapsed_faces():
    from orthogen.foot.measure_scan import cluster_decimate

    # an 11 x 11 vertex sheet at 1 mm (200 triangles), merged in 2 mm cells: 6 x 6 cells of vertices
    x, y = np.meshgrid(np.arange(11.0), np.arange(11.0), indexing="ij")
    v = np.column_stack([x.ravel(), y.ravel(), np.zeros(121)])
    idx = np.arange(121).reshape(11, 11)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    f = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    cv, cf = cluster_decimate(v, f, 2.0)
    assert len(cv) == 36
    # each merged vertex is the mean of its cell's vertices: x in {0.5, 2.5, 4.5, 6.5, 8.5, 10}
    assert sorted(set(np.round(cv[:, 0], 9))) == [0.5, 2.5, 4.5, 6.5, 8.5, 10.0]
    assert np.all(cv[:, 2] == 0.0)
    assert len(cf) and np.all((cf[:, 0] != cf[:, 1]) & (cf[:, 1] != cf[:, 2]) & (cf[:, 2] != cf[:, 0]))
    # a cell finer than the mesh keeps it: same vertices (in cell order), same triangles
    fv, ff = cluster_decimate(v, f, 0.5)
    assert len(fv) == 121 and len(ff) == 200
    assert np.allclose(np.sort(fv, axis=0), np.sort(v, axis=0))
