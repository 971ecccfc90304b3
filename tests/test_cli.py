"""The command line as a user meets it: JSON keys, tables, one-line errors with exit code 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

import pytest

from .conftest import BUNDLED_SCANS, real_scan

SAMPLE = BUNDLED_SCANS / "synth_left_full_foot.stl"


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "orthogen", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0]


def test_measure_json_has_the_documented_keys():
    proc = run("measure", SAMPLE, "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    for key in (
        "side",
        "side_confidence",
        "units",
        "scan_kind",
        "foot_length_mm",
        "ball_width_mm",
        "heel_width_mm",
        "arch_height_mm",
        "arch_index",
        "chippaux_smirak_index",
        "foot_type",
        "warnings",
    ):
        assert key in r
    assert r["side"] == "left" and r["units"] == "m" and r["scan_kind"] == "full_foot"
    assert r["foot_length_mm"] == pytest.approx(260.0, abs=1.0)


def test_measure_table():
    proc = run("measure", BUNDLED_SCANS / "synth_right_plantar_shell.obj")
    assert proc.returncode == 0
    assert "ball width" in proc.stdout and "right" in proc.stdout


@pytest.mark.parametrize(
    "content,name,fragment",
    [
        (b"", "empty.stl", "empty"),
        (b"\x00\x01garbage" * 50, "garbage.ply", "PLY"),
        (b"solid x\nendsolid x\n", "nofaces.stl", "face"),
        (b"hello", "notes.txt", "unsupported file type"),
    ],
)
def test_bad_scan_one_line_exit_2(tmp_path, content, name, fragment):
    p = tmp_path / name
    p.write_bytes(content)
    one_line_error(run("measure", p), name, fragment)
    out = tmp_path / "out"
    one_line_error(run("design", p, "-o", out), name)
    assert not out.exists() or not any(out.iterdir())


def test_missing_file_exit_2(tmp_path):
    one_line_error(run("measure", tmp_path / "nope.stl"), "nope.stl")


def test_unscaled_imprint_asks_for_foot_length():
    path = real_scan("imprint/polycron_left.ply")
    one_line_error(run("measure", path), "--foot-length")
    proc = run("measure", path, "--foot-length", "245", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["foot_length_mm"] == pytest.approx(245, abs=0.5)


def test_bad_prescription_exit_2_names_key(tmp_path):
    out = tmp_path / "out"
    one_line_error(run("design", SAMPLE, "--set", "heel_lift_mm=20", "-o", out), "heel_lift_mm", "20")
    one_line_error(run("design", SAMPLE, "--set", "arch_hieght_mm=5", "-o", out), "arch_height_mm")
    assert not out.exists() or not any(out.iterdir())


def test_design_writes_stl_3mf_json_png(tmp_path):
    out = tmp_path / "out"
    proc = run("design", SAMPLE, "--set", "heel_lift_mm=4", "--format", "3mf", "-o", out)
    assert proc.returncode == 0, proc.stderr
    stem = SAMPLE.stem
    stl = (out / f"{stem}.stl").read_bytes()
    n = int.from_bytes(stl[80:84], "little")
    assert len(stl) == 84 + 50 * n and n > 1000
    report = json.loads((out / f"{stem}.json").read_text())
    assert report["checks"]["watertight"] and report["checks"]["manifold"]
    assert report["prescription"]["heel_lift_mm"] == 4
    assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with zipfile.ZipFile(out / f"{stem}.3mf") as z:
        model = z.read("3D/3dmodel.model").decode()
        volumes = z.read("Metadata/Slic3r_PE_model.config").decode()
    # the device is the 3MF's first volume (its stiffness zones follow as modifier volumes)
    first = re.search(r'<volume firstid="0" lastid="(\d+)">', volumes)
    assert 'unit="millimeter"' in model and int(first.group(1)) + 1 == n
    assert report["print"]["zones"]["heel_cushion"]["stiffness"] == "medium"
    assert not list(out.glob("*.part")) and not list(out.glob(".*"))


def test_pair_with_per_side_heel_lift(tmp_path):
    out = tmp_path / "pair"
    left, right = BUNDLED_SCANS / "synth_left_full_foot.stl", BUNDLED_SCANS / "synth_right_plantar_shell.obj"
    proc = run(
        "design",
        left,
        right,
        "--set",
        "left.heel_lift_mm=3",
        "--set",
        "right.heel_lift_mm=9",
        "--no-preview",
        "-o",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    rl = json.loads((out / f"{left.stem}.json").read_text())
    rr = json.loads((out / f"{right.stem}.json").read_text())
    assert rl["prescription"]["heel_lift_mm"] == 3 and rr["prescription"]["heel_lift_mm"] == 9
    lifts = {r["side"]: next(i for i in r["intent"] if i["rx_key"] == "heel_lift_mm") for r in (rl, rr)}
    assert lifts["left"]["measured"] == pytest.approx(3, abs=0.3) and lifts["left"]["pass"]
    assert lifts["right"]["measured"] == pytest.approx(9, abs=0.3) and lifts["right"]["pass"]


def test_two_left_feet_are_not_a_pair(tmp_path):
    one_line_error(run("design", SAMPLE, BUNDLED_SCANS / "synth_left_impression.ply", "-o", tmp_path), "pair")


def test_templates_listed_one_line_each():
    proc = run("templates")
    names = [line.split()[0] for line in proc.stdout.strip().splitlines()]
    assert {"standard", "sport", "dress", "flat_foot", "high_arch", "leg_length", "heel_pain"} <= set(names)


def test_version_exits_0():
    """Was: exit 2 with "Missing command"."""
    from orthogen import __version__

    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"orthogen {__version__}", proc.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["batch", "o.csv", "-o", "out", "--workers", "0"], "Invalid value for '--workers'"),
        (["measure", "foot.stl", "--units", "inch"], "Invalid value for '--units': 'inch' is not one of"),
        (["design"], "Missing argument 'SCAN [SCAN2]'"),
        (["nosuch"], "No such command 'nosuch'"),
    ],
)
def test_usage_errors_are_one_line(args, fragment):
    """Was: four lines (usage, try, blank, error)."""
    from typer.testing import CliRunner

    from orthogen.cli.app import app

    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orthogen: error: ") and fragment in lines[0], r.stderr
    assert lines[0].endswith("--help')")


def test_help_shows_no_python_types():
    from typer.testing import CliRunner

    from orthogen.cli.app import app

    for command in ("measure", "design", "templates", "batch", "validate", "init-rx"):
        text = CliRunner().invoke(app, [command, "--help"]).stdout
        for tag in ("<list[", "<int", "<float", "<path>", "<text>", "<str>"):
            assert tag not in text, (command, tag)
    assert "--set KEY=VALUE" in CliRunner().invoke(app, ["design", "--help"]).stdout
