"""The hand-marked landmark fixture (tests/fixtures/landmarks_marked.json) checks itself.

The fixture is the reference the landmark detector is tested against, so it must stay right: every
real scan is marked, the marks are anatomically ordered for the foot's side, they lie on the
footprint, and the marks stored in scan coordinates still land on the stored standard-frame marks
through today's alignment (an alignment change moves them and is noticed here; re-base with
``python tools/render_plantar.py --rebase``). See tests/fixtures/README.md.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import SHARED_SCANS, real_scan

FIXTURE = Path(__file__).parent / "fixtures" / "landmarks_marked.json"
LANDMARKS = (
    "heel_centre",
    "arch_apex",
    "met_head_1",
    "met_head_5",
    "mpj_1",
    "mpj_5",
    "sulcus_medial",
    "sulcus_lateral",
    "hallux_tip",
)
#: Every real scan of ../shared/foot_scans (MANIFEST.md), each marked.
SCANS = (
    "aetrex/dupontgu_left.stl",
    "aetrex/dupontgu_right.stl",
    "techmed3d/verdier_right_plantar.obj",
    "foambox/seraph_a_left.ply",
    "foambox/seraph_a_left.scan",
    "foambox/seraph_a_right.ply",
    "foambox/seraph_a_right.scan",
    "imprint/polycron_left.ply",
    "phone/kotak_mobile1.stl",
)
SCAN_SUFFIXES = {".stl", ".obj", ".ply", ".scan", ".off", ".3mf"}
#: Marks in scan coordinates must come back onto marks_std this closely, mm.
ROUND_TRIP_MM = 1.0
#: A mark lies inside the footprint outline or at most this far outside it, mm.
OUTLINE_SLACK_MM = 3.0

DATA = json.loads(FIXTURE.read_text())


def _xy(entry: dict, name: str) -> np.ndarray | None:
    p = entry["marks_std"][name]
    return None if p is None else np.asarray(p, float)


def _to_std(matrix, p_scan) -> np.ndarray:
    return (np.asarray(matrix, float) @ np.array([*p_scan, 1.0]))[:2]


@functools.cache
def _measured(rel: str):
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan

    opt = DATA["scans"][rel]["measure_options"]
    return measure_scan(
        real_scan(rel), MeasureOptions(units=opt["units"], foot_length_mm=opt["foot_length_mm"])
    )


def test_every_scan_is_marked():
    assert set(DATA["scans"]) == set(SCANS)
    if SHARED_SCANS.is_dir():
        on_disk = {
            p.relative_to(SHARED_SCANS).as_posix()
            for p in SHARED_SCANS.rglob("*")
            if p.suffix.lower() in SCAN_SUFFIXES
        }
        assert on_disk <= set(DATA["scans"]), f"unmarked scans: {sorted(on_disk - set(DATA['scans']))}"


@pytest.mark.parametrize("rel", SCANS)
def test_entry_is_complete(rel):
    e = DATA["scans"][rel]
    assert e["side"] in ("left", "right")
    assert np.asarray(e["transform_to_standard_frame"]).shape == (4, 4)
    for key in ("marks_std", "marks_scan", "confidence", "notes"):
        assert set(e[key]) == set(LANDMARKS), key
    for name in LANDMARKS:
        marked = e["marks_std"][name] is not None
        assert (e["marks_scan"][name] is not None) == marked, name
        assert (
            (e["confidence"][name] in ("high", "medium", "low")) if marked else e["confidence"][name] is None
        )
        assert isinstance(e["notes"][name], str) and e["notes"][name], f"{name}: a note says why"
        if marked:
            assert len(e["marks_std"][name]) == 2 and len(e["marks_scan"][name]) == 3
    # the heel, the arch, both met heads and both MPJs are on every scan
    for name in ("heel_centre", "arch_apex", "met_head_1", "met_head_5", "mpj_1", "mpj_5"):
        assert e["marks_std"][name] is not None, name


@pytest.mark.parametrize("rel", SCANS)
def test_marks_are_anatomically_ordered(rel):
    e = DATA["scans"][rel]
    medial = -1.0 if e["side"] == "left" else 1.0  # left medial = -y, right medial = +y
    p = {name: _xy(e, name) for name in LANDMARKS}
    # across the foot: 1st ray medial of the 5th, the MPJ prominences outside their met heads
    assert medial * (p["met_head_1"][1] - p["met_head_5"][1]) > 0
    assert medial * (p["mpj_1"][1] - p["met_head_1"][1]) > 0
    assert medial * (p["mpj_5"][1] - p["met_head_5"][1]) < 0
    if p["sulcus_medial"] is not None and p["sulcus_lateral"] is not None:
        assert medial * (p["sulcus_medial"][1] - p["sulcus_lateral"][1]) > 0
    # along the foot: heel behind arch behind met heads behind sulcus behind hallux tip
    assert p["heel_centre"][0] < p["arch_apex"][0] < min(p["met_head_1"][0], p["met_head_5"][0])
    for head, sulcus in (("met_head_1", "sulcus_medial"), ("met_head_5", "sulcus_lateral")):
        if p[sulcus] is not None:
            assert p[head][0] < p[sulcus][0], sulcus
            if p["hallux_tip"] is not None:
                assert p[sulcus][0] < p["hallux_tip"][0], sulcus
    if p["hallux_tip"] is not None:
        assert max(p["met_head_1"][0], p["met_head_5"][0]) < p["hallux_tip"][0]


@pytest.mark.parametrize("rel", SCANS)
def test_stored_transform_round_trips(rel):
    """marks_scan through the transform stored with them give marks_std (the file is consistent)."""
    e = DATA["scans"][rel]
    for name in LANDMARKS:
        if e["marks_std"][name] is not None:
            back = _to_std(e["transform_to_standard_frame"], e["marks_scan"][name])
            assert np.hypot(*(back - _xy(e, name))) <= 0.1, name


@pytest.mark.parametrize("rel", [r for r in SCANS if r.endswith(".scan")])
def test_scan_files_share_the_ply_marks(rel):
    """A foam box's .scan and its .ply are the same capture in the same place: same marks."""
    e = DATA["scans"][rel]
    twin = DATA["scans"][e["same_capture_as"]]
    assert e["marks_std"] == twin["marks_std"]


@pytest.mark.parametrize("rel", SCANS)
def test_marks_follow_todays_alignment(rel):
    """marks_scan through today's measure transform land within 1 mm of marks_std."""
    e = DATA["scans"][rel]
    matrix = _measured(rel).report()["transform_to_standard_frame"]
    for name in LANDMARKS:
        if e["marks_std"][name] is not None:
            off = float(np.hypot(*(_to_std(matrix, e["marks_scan"][name]) - _xy(e, name))))
            assert off <= ROUND_TRIP_MM, (
                f"{name} moved {off:.2f} mm: the alignment changed; check the marks on the maps and "
                "re-base with tools/render_plantar.py --rebase"
            )


@pytest.mark.parametrize("rel", SCANS)
def test_marks_lie_on_the_footprint(rel):
    from shapely.geometry import Point

    e = DATA["scans"][rel]
    outline = _measured(rel).plantar.outline
    for name in LANDMARKS:
        if e["marks_std"][name] is not None:
            d = outline.distance(Point(*e["marks_std"][name]))
            assert d <= OUTLINE_SLACK_MM, f"{name} is {d:.1f} mm outside the footprint"
