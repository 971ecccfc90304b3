"""Every real scan in ../shared/foot_scans: loaded, classified, aligned and measured (MANIFEST.md truth)."""

from __future__ import annotations

import pytest

from orthogen.errors import ScanError
from orthogen.foot.measure_scan import MeasureOptions, measure_scan

from .conftest import real_scan

# file, kind, units, side (from MANIFEST.md)
REAL = [
    ("aetrex/dupontgu_left.stl", "full_foot", "m", "left"),
    ("aetrex/dupontgu_right.stl", "full_foot", "m", "right"),
    ("techmed3d/verdier_right_plantar.obj", "plantar_shell", "mm", "right"),
    ("foambox/seraph_a_left.ply", "impression", "mm", "left"),
    ("foambox/seraph_a_right.ply", "impression", "mm", "right"),
    ("foambox/seraph_a_left.scan", "impression", "mm", "left"),
    ("foambox/seraph_a_right.scan", "impression", "mm", "right"),
]


@pytest.mark.parametrize("rel,kind,units,side", REAL, ids=[r[0] for r in REAL])
def test_real_scan_measured(rel, kind, units, side):
    foot = measure_scan(real_scan(rel))
    m = foot.measurements
    assert foot.kind == kind
    assert foot.units.name == units
    assert foot.side == side and foot.side_call.confidence >= 0.9
    assert 220 <= m.foot_length_mm <= 290  # adults (MANIFEST.md)
    assert 80 <= m.ball_width_mm <= 115
    assert 45 <= m.heel_width_mm <= 95
    assert m.heel_width_mm < m.ball_width_mm
    assert 0 <= m.arch_height_mm <= 30
    # standard frame: floor at z = 0 under the footprint, heel back at x = 0
    assert foot.plantar.extent_x[0] == pytest.approx(0.0, abs=1e-9)
    assert (
        abs(foot.vertices[:, 2].min()) < 8.0
    )  # a stray below-floor vertex is allowed (Seraph has one at -6 mm)


def test_aetrex_flat_sole_and_techmed_arch_match_manifest():
    # MANIFEST.md: the Aetrex medial arch clears the floor by only 0.2-3.6 mm; Techmed3D's arch is about 14 mm
    left = measure_scan(real_scan("aetrex/dupontgu_left.stl")).measurements
    right = measure_scan(real_scan("aetrex/dupontgu_right.stl")).measurements
    assert left.arch_height_mm <= 4.0 and right.arch_height_mm <= 4.0
    assert left.foot_type == right.foot_type == "flat"
    techmed = measure_scan(real_scan("techmed3d/verdier_right_plantar.obj")).measurements
    assert techmed.arch_height_mm == pytest.approx(14.0, abs=2.0)


def test_pair_of_scans_measure_alike():
    a = measure_scan(real_scan("aetrex/dupontgu_left.stl")).measurements
    b = measure_scan(real_scan("aetrex/dupontgu_right.stl")).measurements
    assert a.foot_length_mm == pytest.approx(b.foot_length_mm, abs=5)
    assert a.ball_width_mm == pytest.approx(b.ball_width_mm, abs=5)


def test_seraph_scan_file_and_its_ply_agree():
    a = measure_scan(real_scan("foambox/seraph_a_left.scan")).measurements
    b = measure_scan(real_scan("foambox/seraph_a_left.ply")).measurements
    assert a.foot_length_mm == pytest.approx(b.foot_length_mm, abs=0.5)
    assert a.ball_width_mm == pytest.approx(b.ball_width_mm, abs=0.5)


def test_unscaled_imprint_needs_foot_length():
    path = real_scan("imprint/polycron_left.ply")
    with pytest.raises(ScanError, match="--foot-length"):
        measure_scan(path)
    foot = measure_scan(path, MeasureOptions(foot_length_mm=245.0))
    assert foot.kind == "impression"  # a cavity scanned upside down
    assert foot.side == "left"
    assert foot.measurements.foot_length_mm == pytest.approx(245.0, abs=0.5)
    assert any("no real-world scale" in w for w in foot.warnings)


def test_phone_scan_measured_with_explicit_warnings():
    foot = measure_scan(real_scan("phone/kotak_mobile1.stl"))
    m = foot.measurements
    # a pen tracing of this patient measured 240-245 mm long, 95 mm wide
    assert m.foot_length_mm == pytest.approx(242.5, abs=7.5)
    assert m.ball_width_mm == pytest.approx(95, abs=6)
    text = " ".join(foot.warnings)
    assert "non-weight-bearing" in text
    assert "scale is not verified" in text
    assert "open edges" in text
