"""Milling: tool geometry, G-code read back with gcodeparser, simulated cuts on exact shapes, blanks,
refusals, the command line and every real scan milled in simulation within tolerance."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import trimesh

from orthogen.errors import GeometryError, OrthogenError
from orthogen.lab import mill_job
from orthogen.lab.blanks import choose_blank
from orthogen.lab.cut_sim import _ball_envelope, _flat_envelope, simulate
from orthogen.lab.finishing import scallop_step
from orthogen.lab.gcode_read import machining_time, read_program
from orthogen.lab.mill_data import MillOptions, get_machine, get_tool, job_tools, mill_options, tables
from orthogen.lab.mill_part import device_part, footprint, part_for

from .conftest import BUNDLED_SCANS, real_scan

SAMPLE = BUNDLED_SCANS / "synth_left_full_foot.stl"
#: coarse finishing and simulation, for the tests about parsing, envelopes and file handling
COARSE = MillOptions(scallop_mm=0.5, sim_cell_mm=0.4)


def fake_design(mesh: trimesh.Trimesh, construction: str = "full_contact", side: str = "left"):
    """The fields of a Design that milling a device reads, for a synthetic solid (bottom at z = 0)."""
    return SimpleNamespace(
        foot=SimpleNamespace(path="synthetic.stl", side=side),
        prescription=SimpleNamespace(construction=construction),
        vertices=np.asarray(mesh.vertices, float),
        faces=np.asarray(mesh.faces),
    )


def block(size=(60.0, 40.0, 10.0)) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=size)
    m.apply_translation(np.array(size) / 2)
    return m


@pytest.fixture(scope="module")
def sample_design():
    from orthogen.device.design import design_scan
    from orthogen.rx.load import load_prescription

    return design_scan(SAMPLE, load_prescription(None, []))


# --- tool geometry -----------------------------------------------------------------------------


def test_scallop_step_leaves_exactly_the_target_between_two_balls():
    r, h = 3.0, 0.1
    s = scallop_step(r, h)
    assert s == pytest.approx(2 * np.sqrt(2 * r * h - h * h))
    # two balls s apart on a flat floor meet at a cusp h above it
    assert r - np.sqrt(r * r - (s / 2) ** 2) == pytest.approx(h)


def test_swept_tool_envelopes_are_exact():
    a = np.zeros((3, 3))
    b = np.tile([10.0, 0.0, 0.0], (3, 1))
    z = _ball_envelope(a, b, 3.0, np.array([5.0, 11.0, 13.5]), np.array([1.5, 0.0, 0.0]))
    assert z[:2] == pytest.approx([3 - np.sqrt(9 - 2.25), 3 - np.sqrt(9 - 1)])
    assert np.isinf(z[2])  # beyond the end sphere
    rising = np.tile([10.0, 0.0, 10.0], (1, 1))
    assert _ball_envelope(a[:1], rising, 3.0, np.array([5.0]), np.array([0.0]))[0] == pytest.approx(
        5 + 3 - 3 * np.sqrt(2)
    )  # the capsule's cylinder, not a sphere
    flat = _flat_envelope(
        a, np.tile([10.0, 0.0, 10.0], (3, 1)), 3.0, np.array([5.0, -2.0, 14.0]), np.array([2.0, 0.0, 0.0])
    )
    assert flat[:2] == pytest.approx([5 - np.sqrt(5), 0.0]) and np.isinf(flat[2])


# --- G-code read back --------------------------------------------------------------------------

PROGRAM = """; test
G21 G90 G17 G94 G54
G0 Z5
T2 M6
G43 H2
M3 S18000
G4 P3
G0 X10 Y10
G1 Z-2 F500
G1 X30 F1000
G0 Z5
M5
M30
"""


def test_program_is_read_back_and_cut_exactly():
    prog = read_program(PROGRAM)
    assert prog.code_lines == prog.parsed_lines == 12 and prog.tool_changes == 1
    assert prog.dwell_s == 3
    grid, surface, counts = simulate(prog, {2: ("flat", 3.0)}, (40.0, 20.0, 10.0), 0.25)
    X, Y = grid.mesh()
    # a 6 mm flat mill from (10, 10) to (30, 10) at z -2: a slot with round ends, exactly
    d = np.where(X < 10, np.hypot(X - 10, Y - 10), np.where(X > 30, np.hypot(X - 30, Y - 10), abs(Y - 10)))
    assert np.all(surface[d <= 3.0 - 1e-9] == -2.0) and np.all(surface[d > 3.0 + 1e-9] == 0.0)
    assert counts == {
        "rapid_cuts": 0,
        "rapid_cut_depth_mm": 0.0,
        "cuts_without_tool": 0,
        "cuts_with_spindle_off": 0,
    }
    t = machining_time(prog, 5000.0, 2000.0, 20.0)
    assert t["cutting_min"] == pytest.approx(7 / 500 + 20 / 1000)
    assert t["tool_change_min"] == pytest.approx(20 / 60) and t["dwell_min"] == pytest.approx(3 / 60)


def test_a_rapid_into_the_blank_is_a_collision():
    prog = read_program(PROGRAM.replace("G1 Z-2 F500", "G0 Z-2"))
    counts = simulate(prog, {2: ("flat", 3.0)}, (40.0, 20.0, 10.0), 0.5)[2]
    assert counts["rapid_cuts"] == 1 and counts["rapid_cut_depth_mm"] == pytest.approx(2.0)


SPLIT = """G21 G90 G17 G94 G54
G0 Z5
T2 M6
M3 S18000
G0 X10 Y10
G1 Z-2 F500
G1 X30 F1000
G1 Y11
G0 Z5
G0 X50 Y10
G1 Z-1 F500
G1 X60 F1000
G0 Z5
G0 X20 Y10
G0 Z-1.5
G0 Z5
G0 X50 Y30
G0 Z-0.5
G0 Z5
M30
"""


def test_simulation_split_over_a_helper_is_exact_rapids_included():
    # the helper cuts the last rapids into a blank of its own: the one into the slot the first
    # half cut is no collision, the one into untouched material is
    prog = read_program(SPLIT)
    one = simulate(prog, {2: ("flat", 3.0)}, (80.0, 40.0, 10.0), 0.25, workers=1)
    two = simulate(prog, {2: ("flat", 3.0)}, (80.0, 40.0, 10.0), 0.25, workers=2)
    assert np.array_equal(one[1], two[1])
    assert one[2] == two[2] and two[2]["rapid_cuts"] == 1
    assert two[2]["rapid_cut_depth_mm"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "line, problem",
    [
        ("G2 X1 Y1 I1 J0", "not supported"),
        ("G20", "not supported"),
        ("G91", "not supported"),
        ("X10 Y10", "not fully understood"),
        ("G43 H7", "not the loaded tool"),
    ],
)
def test_unsupported_or_unparsed_lines_are_refused_naming_the_line(line, problem):
    text = PROGRAM.replace("M5\n", f"{line}\nM5\n")
    with pytest.raises(OrthogenError, match=problem) as err:
        read_program(text, "job.nc")
    assert "job.nc: line 12" in str(err.value)


# --- blanks, tools, machines -------------------------------------------------------------------


def test_smallest_blank_holds_the_part_or_the_pair_and_refusals_say_why():
    rules = tables()[0]
    one = choose_blank([(0, -50, 262, 50)], 22.0, "eva", rules)
    assert one.blank.name == "eva_300x120x25"
    assert one.to_blank(0, np.array([0.0, -50.0, 0.0])) == pytest.approx([19.0, 10.0, -25.0])
    pair = choose_blank([(0, -50, 262, 50), (0, -45, 262, 55)], 30.0, "eva", rules)
    assert pair.blank.name == "eva_300x240x35"
    # side by side in y, ``gap_mm`` apart
    assert (pair.offsets[1][1] - 45) - (pair.offsets[0][1] + 50) == pytest.approx(rules.gap_mm)
    with pytest.raises(OrthogenError, match="no eva blank fits"):
        choose_blank([(0, 0, 400, 100)], 20.0, "eva", rules)
    with pytest.raises(OrthogenError, match="too small"):
        choose_blank([(0, 0, 262, 100)], 30.0, "eva", rules, "eva_300x120x25")


def test_unknown_names_and_bad_tool_choices_are_refused():
    with pytest.raises(OrthogenError, match=r"unknown tool 'ball_7'.*did you mean 'ball_6'"):
        get_tool("ball_7")
    with pytest.raises(OrthogenError, match="unknown machine"):
        get_machine("haas")
    with pytest.raises(OrthogenError, match="ball-end"):
        job_tools(MillOptions(finish_tool="flat_6"))
    with pytest.raises(OrthogenError, match="flat end mill"):
        job_tools(MillOptions(rough_tool="ball_10"))
    with pytest.raises(OrthogenError, match="scallop_mm"):
        mill_options({"scallop_mm": "2"})


# --- what is milled ----------------------------------------------------------------------------


def test_footprint_of_a_block_and_an_undercut_is_refused():
    assert footprint(block().vertices, block().faces).area == pytest.approx(60 * 40)
    stem = block((20.0, 20.0, 10.0))
    cap = block((40.0, 40.0, 4.0))
    cap.apply_translation([-10.0, -10.0, 10.0])
    mushroom = trimesh.util.concatenate([stem, cap])
    with pytest.raises(GeometryError, match=r"undercut .* z = 10\.0"):
        device_part(fake_design(mushroom), "m")


def test_shell_is_refused_from_above_and_its_positive_is_milled(sample_design):
    shell = dataclasses.replace(
        sample_design, prescription=sample_design.prescription.model_copy(update={"construction": "shell"})
    )
    with pytest.raises(GeometryError, match=r"shell is hollow underneath .* positive"):
        part_for(shell, "s", "device")
    pos = part_for(shell, "s")
    dev = part_for(sample_design, "s")
    assert pos.kind == "positive" and dev.kind == "device"
    assert pos.outline.symmetric_difference(dev.outline).area < 1e-3 * dev.outline.area
    # the positive's top is surfaces.top over the outline, lifted onto a 5 mm base
    s = sample_design.surfaces
    from orthogen.foot.heightmap import Grid, envelopes

    g = Grid(((s.grid.origin[0] + sample_design.x_shift_mm), s.grid.origin[1]), s.grid.spacing, s.grid.shape)
    top = envelopes(pos.vertices, pos.top_faces, g)[1]
    inner = s.inside & np.isfinite(top)
    lift = top[inner] - s.top[inner]
    assert np.ptp(lift) < 1e-3 and lift[0] == pytest.approx(5.0 - s.top[s.inside].min(), abs=1e-3)


def test_a_real_shells_positive_spans_the_device_not_its_post():
    from shapely import affinity

    from orthogen.device.design import design_scan
    from orthogen.rx.load import load_prescription

    shell = design_scan(SAMPLE, load_prescription(None, ["construction=shell"]))
    outline = affinity.translate(shell.surfaces.outline, shell.x_shift_mm)
    # the shell stands on its rearfoot post and forefoot: its lowest faces outline far less
    assert footprint(shell.vertices, shell.faces).area < 0.5 * outline.area
    pos = part_for(shell, "s")
    assert pos.kind == "positive"
    assert pos.outline.symmetric_difference(outline).area < 0.01 * outline.area


# --- whole jobs on exact shapes ----------------------------------------------------------------


@pytest.mark.parametrize("machine", ["grbl", "linuxcnc"])
def test_a_block_mills_to_the_scallop_target(machine):
    [job] = mill_job.mill_designs([fake_design(block())], ["block"], MillOptions(), machine=machine)
    s = job.cut.stats
    # the flat top: every cusp is the scallop target (sampled at the simulation's cells)
    assert 0.07 <= s["max_leftover_mm"] <= 0.1 + 0.01
    assert s["max_gouge_mm"] <= 0.01 and s["reached_fraction"] == 1.0
    assert job.report["checks"]["moves_outside_blank"] == 0 and job.report["checks"]["within_machine_travel"]
    lines = job.gcode.splitlines()
    assert max(map(len, lines)) < 80
    assert job.program.parsed_lines == job.program.code_lines
    if machine == "linuxcnc":
        assert "T4 M6" in lines and "G43 H4" in lines and "M0" not in lines
    else:
        assert "M0" in lines and not any("M6" in ln or "G43" in ln for ln in lines)
    assert job.time["total_min"] > job.time["cutting_min"] > 0
    files = mill_job.job_files(job)
    assert sorted(files) == ["block.mill.json", "block.mill.png", "block.mill.stl", "block.nc"]

    report = json.loads(files["block.mill.json"])
    assert report["blank"]["name"] == "eva_300x120x25" and report["machining_time_min"] > 0


def ridge(flank_deg: float = 70.0) -> trimesh.Trimesh:
    """A 60 x 40 mm block 5 mm high with a ridge along x, 10 mm high, its flanks at ``flank_deg``."""
    import manifold3d

    w = 10.0 / np.tan(np.radians(flank_deg))
    section = [(0, 0), (40, 0), (40, 5), (20 + w, 5), (20, 15), (20 - w, 5), (0, 5)]  # (y, z)
    mesh = manifold3d.Manifold.extrude(manifold3d.CrossSection([section]), 60.0).to_mesh()
    v = np.asarray(mesh.vert_properties, float)[:, [2, 0, 1]]  # extruded along x (a rotation)
    return trimesh.Trimesh(v, np.asarray(mesh.tri_verts))


def test_lines_are_added_where_the_raster_leaves_too_much(monkeypatch):
    # a ridge across the raster: 1.5 mm between lines leaves about 0.56 mm on its 70-degree flanks
    part = ridge()
    assert part.is_volume
    [job] = mill_job.mill_designs([fake_design(part)], ["ridge"], MillOptions())
    s = job.cut.stats
    assert s["within_tolerance"] and s["max_leftover_mm"] <= 0.1 + 0.05 + 0.01
    assert job.toolpath.operations[1].notes["part_lines"] > 0
    monkeypatch.setattr("orthogen.lab.finishing.MAX_SPLITS", 0)
    with pytest.raises(GeometryError, match="left where the tool reaches"):
        mill_job.mill_designs([fake_design(part)], ["ridge"], MillOptions())


# --- the command line --------------------------------------------------------------------------


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "orthogen", *map(str, args)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--machine", "haas"], "unknown machine 'haas'"),
        (["--set", "finish_tool=ball_7"], "unknown tool 'ball_7'"),
        (["--blank", "eva_300x120x25", "--set", "heel_lift_mm=12"], "too small"),
        (["--set", "construction=shell", "--set", "part=device"], "cannot be milled from above"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, fragment):
    out = tmp_path / "out"
    proc = run("mill", SAMPLE, *args, "-o", out)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and fragment in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_mill_command_mills_a_shells_positive(tmp_path):
    fast = ["--set", "scallop_mm=0.5", "--set", "sim_cell_mm=0.4", "--set", "length=three_quarter"]
    proc = run("mill", SAMPLE, *fast, "--set", "construction=shell", "--machine", "linuxcnc", "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr
    stem = SAMPLE.stem
    assert {p.name for p in tmp_path.iterdir()} == {
        f"{stem}.nc",
        f"{stem}.mill.json",
        f"{stem}.mill.stl",
        f"{stem}.mill.png",
    }
    report = json.loads((tmp_path / f"{stem}.mill.json").read_text())
    assert report["parts"][0]["kind"] == "positive" and report["blank"]["material"] == "pu_foam"
    assert report["machine"]["dialect"] == "linuxcnc" and report["simulation"]["within_tolerance"]
    assert report["checks"]["moves_outside_blank"] == 0 and report["checks"]["rapid_cuts"] == 0
    assert trimesh.load(tmp_path / f"{stem}.mill.stl").bounds[1][2] <= 0.0  # z = 0 is the blank's top


def test_order_file_with_formats_nc_mills_the_order(tmp_path, monkeypatch):
    from orthogen.lab.order_job import run_order
    from orthogen.lab.orders import check_orders

    monkeypatch.setattr(mill_job, "BATCH_OPTIONS", COARSE)
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,patient_ref,left_scan,prescription,overrides,formats\n"
        f"A-1,P-1,{SAMPLE},{BUNDLED_SCANS.parent / 'templates' / 'example_rx.yaml'},"
        "label=,stl;nc\n"
    )
    [order], problems, _ = check_orders(orders)
    assert not problems
    (tmp_path / "out").mkdir()  # the batch makes its output folder before the orders
    result = run_order({"order": order.to_dict(), "out_dir": str(tmp_path / "out")})
    assert result["status"] == "done", result["reason"]
    names = {"A-1_left.nc", "A-1_left.mill.json", "A-1_left.mill.png", "A-1_left.mill.stl"}
    assert names <= set(result["files"])


# --- real scans --------------------------------------------------------------------------------

#: every real scan (the Techmed3D one at the default scallop below); pairs share a blank
REAL = [
    (["aetrex/dupontgu_left.stl", "aetrex/dupontgu_right.stl"], None),
    (["foambox/seraph_a_left.scan", "foambox/seraph_a_right.ply"], None),
    (["imprint/polycron_left.ply"], 245.0),
    (["phone/kotak_mobile1.stl"], None),
]


def _real_designs(names, foot_length):
    from orthogen.device.design import design_foot
    from orthogen.device.template import template_geometry
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan
    from orthogen.rx.load import load_prescription

    rx = load_prescription(None, [])
    feet = [measure_scan(real_scan(n), MeasureOptions(foot_length_mm=foot_length)) for n in names]
    return [design_foot(f, rx, template_geometry(rx.template)) for f in feet]


def _check_job(job):
    s, checks = job.cut.stats, job.report["checks"]
    assert s["within_tolerance"], s
    assert s["max_gouge_mm"] <= 0.05 and s["max_leftover_mm"] <= s["leftover_tolerance_mm"]
    # the rest is narrower than the ball: creases at the foot of the heel cups' and flanges' walls
    # (5 % of the foambox pair's tops)
    assert s["reached_fraction"] > 0.94
    assert checks["moves_outside_blank"] == 0 and checks["within_machine_travel"]
    assert checks["rapid_cuts"] == 0 and checks["cuts_without_tool"] == 0
    assert job.program.parsed_lines == job.program.code_lines > 1000


@pytest.mark.parametrize("names, foot_length", REAL, ids=[n[0].split("/")[0] for n, _ in REAL])
def test_every_real_scan_mills_within_tolerance(names, foot_length):
    designs = _real_designs(names, foot_length)
    jobs = mill_job.mill_designs(designs, [f"s{i}" for i in range(len(designs))], COARSE)
    assert len(jobs) == 1 and len(jobs[0].parts) == len(names)  # a pair shares one blank
    _check_job(jobs[0])


def test_a_real_scan_mills_within_tolerance_at_the_default_scallop():
    [job] = mill_job.mill_designs(_real_designs(["techmed3d/verdier_right_plantar.obj"], None), ["t"])
    assert job.report["options"]["scallop_mm"] == 0.1
    _check_job(job)
