"""Never a wrong device with exit code 0 (issue 9, point 5): a side that contradicts the scan, a template
given as a prescription, a leg-length pair with equal lifts are refused in one line (exit 2 for
``design``, a failed order for ``batch``); ``mirror: true`` makes the device for the named foot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orthogen.cli.app import app
from orthogen.errors import PrescriptionError
from orthogen.lab.batch import run_batch
from orthogen.rx.load import load_prescription
from orthogen.rx.pair import check_pair, effective_heel_lift
from tests.test_batch import FAST, TEMPLATES, write_orders

REPO = Path(__file__).resolve().parents[1]
LEFT = REPO / "foot_scans" / "synth_left_full_foot.stl"
RIGHT = REPO / "foot_scans" / "synth_right_plantar_shell.obj"
QUICK = ["--set", "length=three_quarter", "--set", "met_pad=false", "--no-preview"]


def design(*args, cwd: Path):
    return CliRunner().invoke(app, ["design", *map(str, args), "-o", str(cwd / "out")])


def refused(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def no_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert not out.exists() or not list(out.iterdir())


# ----------------------------------------------------------------------------- the side
def test_side_option_contradicting_the_scan_is_refused(tmp_path):
    """Was: only a warning, and the left scan became a RIGHT insole."""
    r = design(LEFT, "--side", "right", *QUICK, cwd=tmp_path)
    refused(
        r,
        f"{LEFT}: --side right contradicts the scan: the geometry shows a left foot (confidence 1.00)",
        "(--set mirror=true)",
    )
    no_outputs(tmp_path)


@pytest.mark.parametrize(
    ("rx_text", "named"), [("side: right\n", "side: right in "), (None, "--set side=right")]
)
def test_side_in_a_prescription_contradicting_the_scan_is_refused(tmp_path, rx_text, named):
    """Was: templates/example_rx.yaml said side: left, so every right scan became a left insole."""
    if rx_text is None:
        r = design(LEFT, "--set", "side=right", *QUICK, cwd=tmp_path)
    else:
        (tmp_path / "rx.yaml").write_text(rx_text)
        r = design(LEFT, "--rx", tmp_path / "rx.yaml", *QUICK, cwd=tmp_path)
    refused(r, named, "contradicts the scan: the geometry shows a left foot")
    no_outputs(tmp_path)


def test_mirror_true_makes_the_device_for_the_named_foot(tmp_path):
    (tmp_path / "rx.yaml").write_text("side: right\nmirror: true\n")
    r = design(LEFT, "--rx", tmp_path / "rx.yaml", *QUICK, cwd=tmp_path)
    assert r.exit_code == 0, r.stderr
    report = json.loads((tmp_path / "out" / f"{LEFT.stem}.json").read_text())
    assert report["side"] == "right" and report["foot"]["mirrored"] is True
    assert report["foot"]["side_detected"] == "right"  # the mirrored geometry is a right foot
    assert any(
        w.startswith("mirrored: the scan shows a left foot (confidence 1.00)") for w in report["warnings"]
    )
    same = design(LEFT, "--set", "side=left", "--set", "mirror=true", *QUICK, cwd=tmp_path / "again")
    refused(same, "mirror = true makes the device for the left foot from a scan of the other foot")


def test_batch_column_contradicting_the_scan_fails_the_order_and_mirror_fixes_it(tmp_path):
    rx = str(TEMPLATES / "example_rx.yaml")
    orders = write_orders(
        tmp_path / "o.csv",
        [
            {
                "order_id": "W-1",
                "patient_ref": "P",
                "right_scan": str(LEFT),
                "prescription": rx,
                "overrides": FAST,
            },
            {
                "order_id": "W-2",
                "patient_ref": "P",
                "right_scan": str(LEFT),
                "prescription": rx,
                "overrides": FAST + ";mirror=true",
            },
        ],
    )
    res = {r["order_id"]: r for r in run_batch(orders, tmp_path / "out", workers=1)["orders"]}
    assert res["W-1"]["status"] == "failed"
    assert res["W-1"]["reason"] == (
        f"{LEFT}: the right_scan column contradicts the scan: the geometry shows a left foot "
        "(confidence 1.00); check the scan and the side; or, to make a mirrored device for the right foot "
        "from this scan, ask for it (in the order's overrides: mirror=true)"
    )
    assert res["W-2"]["status"] == "done", res["W-2"]["reason"]
    assert any(w.startswith("mirrored:") for w in res["W-2"]["sides"][0]["warnings"])


def test_batch_hints_name_order_file_keys_not_flags(tmp_path):
    """Was: a batch user was told to "pass --foot-length" where the order needs foot_length_mm."""
    from orthogen.synth.model import FootSpec, synth_scan

    synth_scan(FootSpec(length_mm=240.0), kind="plantar_shell", units="cm")[0].export(tmp_path / "cm.stl")
    orders = write_orders(
        tmp_path / "o.csv",
        [
            {
                "order_id": "H-1",
                "patient_ref": "P",
                "left_scan": str(tmp_path / "cm.stl"),
                "prescription": str(TEMPLATES / "example_rx.yaml"),
                "overrides": FAST,
            },
        ],
    )
    (res,) = run_batch(orders, tmp_path / "out", workers=1)["orders"]
    assert res["status"] == "failed"
    assert res["reason"].endswith("(in the order's overrides: units=cm or foot_length_mm=MM)"), res["reason"]
    assert "--" not in res["reason"]


# ----------------------------------------------------------------------------- templates
def test_a_template_file_given_as_the_prescription_is_refused(tmp_path):
    r = design(LEFT, "--rx", TEMPLATES / "leg_length.yaml", *QUICK, cwd=tmp_path)
    refused(
        r,
        f"{TEMPLATES / 'leg_length.yaml'}: this is a device template (leg_length), not a prescription: "
        "to use it, write template: leg_length in a prescription; or select it (--set template=leg_length)",
    )
    no_outputs(tmp_path)


def test_leg_length_pair_with_equal_lifts_is_refused(tmp_path):
    """Was: template: leg_length on a pair lifted both feet by 6 mm, cancelling the correction."""
    r = design(LEFT, RIGHT, "--set", "template=leg_length", *QUICK, cwd=tmp_path)
    refused(
        r,
        "--set: template leg_length lifts the short leg only, but both feet of this pair get a 6 mm heel "
        "lift, which cancels the correction; name the short side (--set heel_lift_side=left|right or "
        "--set right.heel_lift_mm=0)",
    )
    no_outputs(tmp_path)
    rx = str(TEMPLATES / "example_rx.yaml")
    orders = write_orders(
        tmp_path / "o.csv",
        [
            {
                "order_id": "L-1",
                "patient_ref": "P",
                "left_scan": str(LEFT),
                "right_scan": str(RIGHT),
                "prescription": rx,
                "overrides": "template=leg_length;length=three_quarter;met_pad=false",
            },
        ],
    )
    (res,) = run_batch(orders, tmp_path / "lab", workers=1)["orders"]
    assert res["status"] == "failed"
    assert res["reason"] == (
        f"{rx}: template leg_length lifts the short leg only, but both feet of this pair get a 6 mm heel "
        "lift, which cancels the correction; name the short side (in the order's overrides: "
        "heel_lift_side=left|right or right.heel_lift_mm=0)"
    )


def test_pair_rule_counts_the_lift_each_foot_gets():
    base = ["template=leg_length"]
    both = {s: load_prescription(None, base) for s in ("left", "right")}
    with pytest.raises(PrescriptionError, match="both feet of this pair get a 6 mm heel lift"):
        check_pair(both)
    one = {s: load_prescription(None, [*base, "heel_lift_side=right"]) for s in ("left", "right")}
    assert [effective_heel_lift(one[s], s) for s in ("left", "right")] == [0.0, 6.0]
    check_pair(one)
    per_side = {"left": load_prescription(None, [*base, "heel_lift_mm=0"]), "right": both["right"]}
    check_pair(per_side)
    none = {s: load_prescription(None, [*base, "heel_lift_mm=0"]) for s in ("left", "right")}
    with pytest.raises(PrescriptionError, match="both feet of this pair get no heel lift"):
        check_pair(none)
    check_pair({s: load_prescription(None, []) for s in ("left", "right")})  # other templates: no rule
