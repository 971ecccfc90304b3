"""Bed fit and plate packing on the sample pair's real device footprints (no slicer needed).

Devices only turn in the plane and move: a device shorter than the bed lies as designed, a longer one
is turned to fit, one that fits at no angle is refused with the bed and its size named. A batch of six
pairs packs onto the number of plates the footprints allow, every device inside the bed and at least
the set gap from its neighbours (measured on the exact footprint polygons, not the packing raster).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from shapely import affinity

from orthogen.device.design import design_scan
from orthogen.errors import OrthogenError
from orthogen.printing.plates import BED_MARGIN_MM, GAP_MM, fit_on_bed, footprint_of, pack
from orthogen.printing.printers import PRINTERS, parse_bed, printer
from orthogen.rx.load import load_prescription
from tests.conftest import BUNDLED_SCANS

PAIR = ("synth_left_full_foot.stl", "synth_right_plantar_shell.obj")


@cache
def _footprints(length: str):
    rx = load_prescription(None, [f"length={length}"])
    designs = [design_scan(BUNDLED_SCANS / name, rx) for name in PAIR]
    return [footprint_of(d.vertices, d.faces) for d in designs], max(
        float(d.vertices[:, 2].max()) for d in designs
    )


def _size(fp, angle=0.0):
    x0, y0, x1, y1 = affinity.rotate(fp, angle, origin=(0, 0)).bounds
    return x1 - x0, y1 - y0


def test_bed_text_and_presets():
    assert (parse_bed("250x210").width_mm, parse_bed("250x210").depth_mm) == (250, 210)
    assert parse_bed("360 x 360 x 360").height_mm == 360
    assert printer(None) == PRINTERS["mk3s"] and printer("MK4").depth_mm == 210
    for bad in ("250", "250x", "axb", "10x10"):
        with pytest.raises(OrthogenError, match="--bed"):
            parse_bed(bad)
    with pytest.raises(OrthogenError, match="unknown printer 'mk9'"):
        printer("mk9")


def test_a_device_lies_as_designed_turns_when_longer_than_the_bed_and_is_refused_when_it_cannot_fit():
    (left, _), height = _footprints("full")
    length, _ = _size(left)
    assert length > 250 - 2 * BED_MARGIN_MM  # the sample is longer than an MK3S bed
    xl = fit_on_bed("L", left, height, printer("xl"))
    assert xl.angle_deg == 0.0
    mk3 = fit_on_bed("L", left, height, printer(bed="250x210"))
    assert mk3.angle_deg != 0.0
    x0, y0, x1, y1 = mk3.footprint.bounds
    assert (
        min(x0, y0) >= BED_MARGIN_MM - 1e-6 and x1 <= 250 - BED_MARGIN_MM + 1e-6 and y1 <= 210 - BED_MARGIN_MM
    )
    with pytest.raises(
        OrthogenError, match=r"does not fit the 180 x 180 mm bed of the Original Prusa MINI at any angle"
    ):
        fit_on_bed("L", left, height, printer("mini"))
    with pytest.raises(OrthogenError, match="mm high"):
        fit_on_bed("L", left, 500.0, printer("mk3s"))


def _check(plates, n_objects):
    names = [n for p in plates for n in p.names]
    assert sorted(names) == sorted(set(names)) and len(names) == n_objects
    for p in plates:
        pr = p.printer
        for placed in p.placed:
            x0, y0, x1, y1 = placed.footprint.bounds
            assert x0 >= BED_MARGIN_MM - 1e-6 and y0 >= BED_MARGIN_MM - 1e-6
            assert x1 <= pr.width_mm - BED_MARGIN_MM + 1e-6 and y1 <= pr.depth_mm - BED_MARGIN_MM + 1e-6
        fps = [q.footprint for q in p.placed]
        for i in range(len(fps)):
            for j in range(i + 1, len(fps)):
                assert fps[i].distance(fps[j]) >= GAP_MM - 1e-6  # nothing touching, the set gap


def _area_bound(items, bed) -> int:
    """No packing can use fewer plates than the devices' area over the bed's usable area."""
    usable = (bed.width_mm - 2 * BED_MARGIN_MM) * (bed.depth_mm - 2 * BED_MARGIN_MM)
    return int(np.ceil(sum(fp.area for _, fp, _ in items) / usable))


def test_six_three_quarter_pairs_pack_two_to_a_plate_by_turning_or_nesting():
    (left, right), height = _footprints("three_quarter")
    bed = printer(bed="250x210")
    usable_w, usable_d = bed.width_mm - 2 * BED_MARGIN_MM, bed.depth_mm - 2 * BED_MARGIN_MM
    # side by side (both along x, unturned) two are too wide for the bed, so they must be turned or nested
    (lw, ld), (rw, rd) = _size(left), _size(right)
    assert max(lw, rw) <= usable_w and ld + rd + GAP_MM > usable_d
    items = [
        (f"S-{i}_{side}", fp, height) for i in range(6) for side, fp in (("left", left), ("right", right))
    ]
    plates = pack(items, bed)
    assert len(plates) == 6 and all(len(p.placed) == 2 for p in plates)
    assert len(plates) >= _area_bound(items, bed)
    for p in plates:  # the pair does not lie as designed: at least one is turned against the other
        a, b = (q.angle_deg for q in p.placed)
        assert (a - b) % 360 != 0
    _check(plates, 12)


def test_six_full_length_pairs_need_a_plate_each_on_an_mk3s_bed_and_share_a_large_bed():
    (left, right), height = _footprints("full")
    items = [
        (f"S-{i}_{side}", fp, height) for i in range(6) for side, fp in (("left", left), ("right", right))
    ]
    plates = pack(items, printer(bed="250x210"))
    # longer than the bed, each lies turned across it; the bed's width across that diagonal holds one
    assert len(plates) == 12
    _check(plates, 12)
    big = pack(items, printer(bed="500x400"))
    assert _area_bound(items, printer(bed="500x400")) <= len(big) <= 3
    _check(big, 12)


def test_design_refuses_a_device_that_cannot_fit_the_bed_and_writes_nothing(tmp_path):
    from tests.test_cli import SAMPLE, one_line_error, run

    out = tmp_path / "out"
    proc = run("design", SAMPLE, "--format", "3mf", "--bed", "180x180", "-o", out)
    one_line_error(proc, "does not fit the 180 x 180 mm bed at any angle", "use a larger printer")
    assert not out.exists() or not any(out.iterdir())
    one_line_error(run("design", SAMPLE, "--bed", "big", "-o", out), "--bed 'big' is not WIDTHxDEPTH")


def test_slice_without_prusaslicer_says_how_to_install_it(tmp_path):
    import os
    import subprocess
    import sys

    from tests.test_cli import SAMPLE, one_line_error

    env = {**os.environ, "ORTHOGEN_PRUSA_SLICER": str(tmp_path / "no-such-slicer")}
    proc = subprocess.run(
        [sys.executable, "-m", "orthogen", "design", str(SAMPLE), "--slice", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    one_line_error(proc, "--slice needs PrusaSlicer's command line", "apt-get install prusa-slicer")
