"""``orthogen prescribe``, ``design --assessment``, orders with an assessment and the "why" table: every
prescription an assessment gives validates and designs on a synthetic foot (and on real scans)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orthogen.cli.app import app
from orthogen.device.construction import MIN_THICKNESS_MM
from orthogen.device.design import LABEL_DEPTH_MM, design_foot
from orthogen.device.template import template_geometry
from orthogen.foot.measure_scan import MeasureOptions, measure_scan
from orthogen.rx.assessed import load_with_assessment
from orthogen.rx.load import load_prescription

from .conftest import BUNDLED_SCANS, real_scan
from .test_clinical_rules import EXPECTED

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "templates" / "assessments"
SAMPLE = BUNDLED_SCANS / "synth_left_full_foot.stl"
COMBINED = EXAMPLES / "back_pain_lld_overpronation.yaml"
runner = CliRunner()


def prescribe(*args):
    result = runner.invoke(app, ["prescribe", *map(str, args)])
    assert "Traceback" not in (result.stdout + result.stderr)
    return result


@pytest.fixture(scope="module")
def synth_foot():
    return measure_scan(SAMPLE, MeasureOptions())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_prescribe_runs_on_every_example(name, tmp_path):
    out = tmp_path / "rx.yaml"
    result = prescribe(EXAMPLES / f"{name}.yaml", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert f"wrote {out}: " in result.stderr
    expected = load_with_assessment(EXAMPLES / f"{name}.yaml")[0]
    assert load_prescription(out) == expected
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# orthogen prescription derived from a clinical assessment")
    assert f"assessment: {EXAMPLES / name}.yaml" in text


def test_prescribe_with_a_scan_joins_its_findings_and_names_the_foot(tmp_path):
    out = tmp_path / "rx.yaml"
    result = prescribe(COMBINED, SAMPLE, "-o", out)
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "#   scan: " in text and "(left foot, normal arch, arch index 0.2" in text
    assert "# the left foot: its findings (assessment and scan) made this prescription\nside: left\n" in text
    assert "normal arch (arch index 0.2" in text  # the scan's finding is listed ...
    # ... and overruled by the clinician's diagnosis, with a warning saying so
    assert "warning: normal arch" in result.stderr
    assert "the clinician's own diagnosis comes first" in result.stderr
    rx = load_prescription(out)
    assert (rx.side, rx.heel_lift_mm, rx.heel_lift_side, rx.rearfoot_post_deg) == ("left", 6, "left", 4)


def test_prescribe_to_stdout_with_values_set_by_hand():
    result = prescribe(COMBINED, "--set", "heel_cup_depth_mm=16")
    assert result.exit_code == 0
    assert (
        "# clinician's choice (the rules would give 14: pronated_cup)\nheel_cup_depth_mm: 16\n"
        in result.stdout
    )
    assert "set by hand: heel_cup_depth_mm=16" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["missing.yaml"], ["missing.yaml: file not found"]),
        (
            [EXAMPLES / "overpronation.yaml", "--set", "heel_cup_depth_mm=100"],
            ["heel_cup_depth_mm = 100 is out of range"],
        ),
        ([REPO / "templates" / "example_rx.yaml"], ["unknown key 'template'"]),
    ],
)
def test_prescribe_bad_input_is_one_line(args, fragments):
    result = prescribe(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orthogen: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_prescribe_refuses_to_overwrite_and_needs_the_foot_for_one_sided_findings(tmp_path):
    out = tmp_path / "rx.yaml"
    out.write_text("keep", encoding="utf-8")
    result = prescribe(COMBINED, "-o", out)
    assert result.exit_code == 2 and "already exists (use --force" in result.stderr
    assert out.read_text(encoding="utf-8") == "keep"
    one_sided = tmp_path / "a.yaml"
    one_sided.write_text("conditions: {bunion: left}\n", encoding="utf-8")
    result = prescribe(one_sided)
    assert result.exit_code == 2 and "on the left foot only: name the foot" in result.stderr
    result = prescribe(one_sided, "--side", "left")
    assert result.exit_code == 0 and "first_mpj_cutout:" in result.stdout and "side: left" in result.stdout
    assert "first_mpj_cutout" not in prescribe(one_sided, "--side", "right").stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_generated_prescription_designs_on_a_synthetic_foot(name, synth_foot):
    path = EXAMPLES / f"{name}.yaml"
    args = (path,) if name == "prescription_with_assessment" else (None, (), path)
    rx, derivation = load_with_assessment(*args, scan=synth_foot.report(), side=synth_foot.side)
    assert {k: v for k, v in derivation.values.items() if k != "side"} == EXPECTED[name]
    design = design_foot(synth_foot, rx, template_geometry(rx.template))  # raises when a check fails
    c = design.checks
    assert c.watertight and c.manifold and c.bodies == 1
    assert c.min_thickness_mm >= MIN_THICKNESS_MM - LABEL_DEPTH_MM  # feathered edges and an engraved label
    assert not design.intent.failed


def test_design_with_an_assessment_writes_why_into_the_report(tmp_path):
    result = runner.invoke(
        app, ["design", str(SAMPLE), "--assessment", str(COMBINED), "-o", str(tmp_path), "--no-preview"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "synth_left_full_foot.json").read_text(encoding="utf-8"))
    assert report["prescription"]["heel_lift_mm"] == 6 and report["prescription"]["side"] == "left"
    why = report["assessment"]
    assert why["reasons"]["heel_lift_mm"]["origin"] == "rule"
    assert any(r["value"] == "heel_lift_mm = 6, heel_lift_side = left" for r in why["why"])
    assert "warning: normal arch" in result.stderr


def test_design_reads_an_assessment_section_of_a_prescription(tmp_path):
    rx = tmp_path / "rx.yaml"
    rx.write_text(
        "length: sulcus\nassessment:\n  conditions: [metatarsalgia]\n  body_mass_kg: 100\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["design", str(SAMPLE), "--rx", str(rx), "-o", str(tmp_path), "--no-preview"])
    assert result.exit_code == 0, result.stderr
    applied = json.loads((tmp_path / "synth_left_full_foot.json").read_text(encoding="utf-8"))["prescription"]
    assert applied["length"] == "sulcus" and applied["shell_thickness_mm"] == 4.5
    assert applied["met_pad"]["height_mm"] == 5
    result = runner.invoke(
        app, ["design", str(SAMPLE), "--rx", str(rx), "--assessment", str(COMBINED), "-o", str(tmp_path)]
    )
    assert result.exit_code == 2 and "give it once" in result.stderr


def test_validate_and_orders_with_an_assessment_column(tmp_path, synth_foot):
    from orthogen.lab.order_job import _render_html
    from orthogen.lab.orders import check_orders, order_prescriptions, order_why

    orders = tmp_path / "orders.csv"
    orders.write_text(
        f"order_id,patient_ref,left_scan,assessment,overrides\nA-1,P-1,{SAMPLE},{COMBINED},top_cover_mm=1\n",
        encoding="utf-8",
    )
    parsed, problems, _ = check_orders(orders)
    assert problems == []
    rx = order_prescriptions(parsed[0])[0]["left"]
    assert (rx.side, rx.heel_lift_mm, rx.top_cover_mm) == ("left", 6, 1)  # the override is the clinician's
    rows = order_why(parsed[0])["left"]
    assert any(r.finding == "clinician" and r.value == "top_cover_mm = 1" for r in rows)
    design = design_foot(synth_foot, rx, template_geometry(rx.template))
    html = _render_html(parsed[0], {"left": design}, {"left": b"png"}, None, ["A-1_left.stl"])
    assert "<h2>Why this device</h2>" in html
    assert "leg-length difference 9 mm, left leg short (blocks); low back pain" in html
    assert "heel_lift_mm = 6, heel_lift_side = left" in html and "rannisto2019" in html
    proc = subprocess.run(
        [sys.executable, "-m", "orthogen", "validate", str(COMBINED)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "valid assessment, prescription (template standard)" in proc.stdout


@pytest.mark.parametrize(
    ("scan", "foot_length"),
    [("aetrex/dupontgu_left.stl", None), ("techmed3d/verdier_right_plantar.obj", None)],
)
def test_real_scans_join_the_findings_and_design(scan, foot_length):
    foot = measure_scan(real_scan(scan), MeasureOptions(foot_length_mm=foot_length))
    rx, d = load_with_assessment(None, (), EXAMPLES / "knee_pain.yaml", scan=foot.report(), side=foot.side)
    assert d.findings.get("foot_type").origin == "scan" and rx.side == foot.side
    assert d.findings.value("posture") == "pronated"  # FPI-6 +7 first, whatever the scan's arch index
    design = design_foot(foot, rx, template_geometry(rx.template))
    assert design.checks.watertight and design.checks.bodies == 1


def test_validate_checks_assessments_for_each_foot(tmp_path):
    one_sided = tmp_path / "a.yaml"
    one_sided.write_text("conditions: {bunion: left}\nshoe: {type: dress}\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(one_sided)])
    assert result.exit_code == 0 and "valid assessment, prescription (template dress)" in result.stdout
    assert "1st MPJ cut-out" in result.stderr and "not applied" in result.stderr  # the left foot's warning
    one_sided.write_text("conditions: {bunion: up}\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(one_sided)])
    assert result.exit_code == 2 and "conditions.hallux_valgus = 'up' is not allowed" in result.stderr


def test_json_orders_may_carry_the_assessment_inline(tmp_path):
    from orthogen.lab.orders import check_orders, order_prescriptions

    orders = tmp_path / "orders.json"
    good = {"conditions": ["metatarsalgia"], "shoe": {"type": "athletic"}}
    orders.write_text(
        json.dumps(
            [
                {"order_id": "J-1", "patient_ref": "P", "left_scan": str(SAMPLE), "assessment": good},
                {
                    "order_id": "J-2",
                    "patient_ref": "P",
                    "left_scan": str(SAMPLE),
                    "assessment": {"foot_posture_index": 40},
                },
            ]
        ),
        encoding="utf-8",
    )
    parsed, problems, _ = check_orders(orders)
    rx = order_prescriptions(parsed[0])[0]["left"]
    assert (rx.template, rx.met_pad is not None, rx.side) == ("sport", True, "left")
    assert problems == [
        f"{orders} order #2 (order 'J-2'): assessment: foot_posture_index = 40 is out of "
        "range (allowed -12 to 12)"
    ]
