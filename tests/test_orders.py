"""Order files, order ids, per-side overrides, and the `validate`, `init-rx` and `batch` command lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orthogen.cli.app import app
from orthogen.errors import PrescriptionError
from orthogen.lab.orders import (
    COLUMNS,
    MAX_ID_CHARS,
    check_orders,
    order_id_problem,
    order_prescriptions,
    parse_orders,
    split_overrides,
)
from orthogen.rx.load import load_prescription
from orthogen.rx.templates import template_names

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "templates"
SCANS = REPO / "foot_scans"
HEADER = "order_id,patient_ref,left_scan,right_scan,prescription,overrides,quantity,formats\n"


def run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A lab folder with a scan and a prescription, for relative paths."""
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "left.stl").write_bytes((SCANS / "synth_left_full_foot.stl").read_bytes())
    (tmp_path / "rx.yaml").write_text("template: standard\nheel_cup_depth_mm: 14\n")
    return tmp_path


DANGEROUS = [
    "../evil",
    "a/b",
    "a\\b",
    "/abs",
    ".hidden",
    "",
    "  ",
    "x" * (MAX_ID_CHARS + 1),
    "bad\x07id",
    "tab\tid",
    "C:evil",
    "a..b",
    "CON",
    "summary.csv",
    "trail.",
]


@pytest.mark.parametrize("oid", DANGEROUS)
def test_dangerous_ids_are_refused(oid):
    problem = order_id_problem(oid)
    assert problem and "\n" not in problem


@pytest.mark.parametrize("oid", ["A-1042", "RX 1042 L", "2024_0001", "x" * MAX_ID_CHARS, "Müller-7", "a.b"])
def test_ordinary_ids_are_accepted(oid):
    assert order_id_problem(oid) is None


def test_split_overrides_forms():
    text = "heel_lift_mm=2; left.heel_lift_mm=3;right.met_pad.height_mm=6;;"
    common, sides, problems = split_overrides(text)
    assert common == ["heel_lift_mm=2"] and problems == []
    assert sides == {"left": ["heel_lift_mm=3"], "right": ["met_pad.height_mm=6"]}
    assert split_overrides({"left": {"heel_lift_mm": 3}, "met_pad": False, "label": "A 1"}) == (
        ["met_pad=false", "label=A 1"],
        {"left": ["heel_lift_mm=3"]},
        [],
    )
    assert split_overrides(["top_cover_mm=1", "right.heel_lift_mm=4"])[1] == {"right": ["heel_lift_mm=4"]}
    _, _, problems = split_overrides("heel_lift_mm 3;side=left;left.side=right")
    assert len(problems) == 3 and "not key=value" in problems[0] and "column" in problems[1]


def test_csv_paths_relative_to_the_order_file(lab):
    (lab / "orders").mkdir()
    path = lab / "orders" / "o.csv"
    row = "A-1,P1,../scans/left.stl,,../rx.yaml,left.heel_lift_mm=3;top_cover_mm=1,2,stl;3MF\n"
    path.write_text(HEADER + row)
    (order,) = parse_orders(path)
    assert order.scans == {"left": str(lab / "scans" / "left.stl")}
    assert order.prescription == str(lab / "rx.yaml")
    assert order.overrides == ("top_cover_mm=1",) and order.side_overrides == {"left": ("heel_lift_mm=3",)}
    assert (order.quantity, order.formats, order.problems) == (2, ("stl", "3mf"), ())
    assert order.row == "line 2"
    rxs, _ = order_prescriptions(order)
    assert rxs["left"].heel_lift_mm == 3 and rxs["left"].side == "left" and rxs["left"].top_cover_mm == 1


def test_row_problems_stay_with_their_order(lab):
    path = lab / "o.csv"
    path.write_text(
        HEADER
        + "# a comment line\n"
        + "A-1,P,scans/left.stl,,rx.yaml,,0,obj\n"
        + ",P,scans/left.stl,,rx.yaml,,,\n"
        + "A-3,,,,,right.heel_lift_mm=3,,\n"
        + "\n"
        + "A-4,P,scans/left.stl,,rx.yaml,,,\n"
    )
    a1, a2, a3, a4 = parse_orders(path)
    assert any("quantity = '0'" in p for p in a1.problems) and any("obj" in p for p in a1.problems)
    assert a2.problems == ("order_id is empty",)
    assert {"patient_ref", "no scan", "prescription", "right.*"} <= {
        k for p in a3.problems for k in ("patient_ref", "no scan", "prescription", "right.*") if k in p
    }
    assert a4.problems == () and a4.row == "line 7"


def test_duplicate_ids_fail_every_copy(lab):
    path = lab / "o.csv"
    path.write_text(HEADER + "A-1,P,scans/left.stl,,rx.yaml,,,\na-1,P,scans/left.stl,,rx.yaml,,,\n")
    assert all("more than one order" in o.problems[0] for o in parse_orders(path))


def test_file_level_problems_raise_one_line(lab):
    bad_col = lab / "o.csv"
    bad_col.write_text("order_id,patient,left_scan\nA,P,x.stl\n")
    with pytest.raises(PrescriptionError, match="did you mean 'patient_ref'"):
        parse_orders(bad_col)
    (lab / "o.json").write_text('[{"order_id": 1,}]')
    with pytest.raises(PrescriptionError, match="JSON syntax error at line 1"):
        parse_orders(lab / "o.json")
    with pytest.raises(PrescriptionError, match="unsupported order file type"):
        parse_orders(lab / "rx.yaml")
    with pytest.raises(PrescriptionError, match="file not found"):
        parse_orders(lab / "missing.csv")


def test_json_order_file(lab):
    path = lab / "o.json"
    path.write_text(
        json.dumps(
            [
                {
                    "order_id": 1042,
                    "patient_ref": "P",
                    "left_scan": "scans/left.stl",
                    "prescription": "rx.yaml",
                    "overrides": {"left": {"heel_lift_mm": 4}},
                    "formats": ["3mf"],
                    "quantity": 3,
                    "colour": "red",
                }
            ]
        )
    )
    (order,) = parse_orders(path)
    assert order.order_id == "1042" and order.formats == ("3mf",) and order.quantity == 3
    assert order.side_overrides == {"left": ("heel_lift_mm=4",)} and order.row == "order #1"
    assert "unknown column 'colour'" in order.problems[0]


def test_samples_are_equivalent_and_valid():
    csv_orders = parse_orders(TEMPLATES / "sample_orders.csv")
    json_orders = parse_orders(TEMPLATES / "sample_orders.json")

    def strip(orders):
        return [{k: v for k, v in o.to_dict().items() if k not in ("source", "row")} for o in orders]

    assert strip(csv_orders) == strip(json_orders)
    for name in ("sample_orders.csv", "sample_orders.json"):
        _, problems, warnings = check_orders(TEMPLATES / name)
        assert problems == []
        assert any("heel_lift_mm = 9" in w for w in warnings)
    assert len(csv_orders) >= 5 and any(len(o.scans) == 2 for o in csv_orders)


def test_validate_order_file_reports_every_problem(lab):
    path = lab / "o.csv"
    path.write_text(
        HEADER
        + "A-1,P,scans/missing.stl,,rx.yaml,heel_lift_mm=20,,\n"
        + "A-2,P,scans/left.xyz,,rx.yaml,,,\n"
        + "../evil,P,scans/left.stl,,rx.yaml,left.heel_lift_mm=3;right.heel_lift_mm=abc,,\n"
        + "A-4,P,scans/left.stl,,rx.yaml,,,\n"
    )
    r = run("validate", path)
    assert r.exit_code == 2
    errors = [ln for ln in lines(r.output) if ln.startswith("orthogen: error:")]
    assert len(errors) == 5, r.output
    assert all(str(path) in e for e in errors)
    text = "\n".join(errors)
    assert "line 2 (order 'A-1'): left_scan = " in text and "file not found" in text
    assert "heel_lift_mm = 20 is out of range (allowed 0 to 12 mm)" in text
    assert "line 3 (order 'A-2'): left_scan" in text and "allowed: .obj, .ply, .scan, .stl" in text
    assert "order '../evil'): order_id = '../evil'" in text and "right.*" in text
    assert "A-4" not in text


def test_validate_prescriptions_and_samples(tmp_path):
    assert run("validate", TEMPLATES / "example_rx.yaml").exit_code == 0
    assert run("validate", TEMPLATES / "example_rx.toml").exit_code == 0
    r = run("validate", TEMPLATES / "sample_orders.csv")
    assert r.exit_code == 0 and "5 orders" in r.output
    bad = tmp_path / "rx.yaml"
    bad.write_text("heel_lift_mm: 20\nshell_thikness_mm: 3\n")
    r = run("validate", bad)
    assert r.exit_code == 2 and len(lines(r.output)) == 1
    assert "heel_lift_mm = 20" in r.output and "shell_thickness_mm" in r.output
    r = run("validate", tmp_path / "notes.txt")
    assert r.exit_code == 2 and "cannot validate" in r.output


@pytest.mark.parametrize("name", template_names())
def test_init_rx_gives_the_template_defaults(tmp_path, name):
    out = tmp_path / "rx.yaml"
    r = run("init-rx", "--template", name, "-o", out)
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.startswith("# orthogen starting prescription") and text.count("\n#") > 40
    assert load_prescription(out).model_dump() == load_prescription(None, [f"template={name}"]).model_dump()


def test_init_rx_stdout_refuse_overwrite_and_unknown(tmp_path):
    r = run("init-rx")
    assert r.exit_code == 0 and "template: standard" in r.output
    out = tmp_path / "rx.yaml"
    out.write_text("keep me")
    r = run("init-rx", "-o", out)
    assert r.exit_code == 2 and "already exists" in r.output and out.read_text() == "keep me"
    assert run("init-rx", "-o", out, "--force").exit_code == 0
    r = run("init-rx", "--template", "sprot")
    assert r.exit_code == 2 and "did you mean 'sport'" in r.output and len(lines(r.output)) == 1


def test_batch_command_errors(tmp_path):
    r = run("batch", tmp_path / "none.csv", "-o", tmp_path / "out")
    assert r.exit_code == 2 and "file not found" in r.output and len(lines(r.output)) == 1
    r = run("batch", TEMPLATES / "sample_orders.csv", "-o", tmp_path / "out", "--scheduler", "tcp://x:1")
    assert r.exit_code == 2 and "--executor dask" in r.output
    r = run("batch", TEMPLATES / "sample_orders.csv", "-o", tmp_path / "out", "--executor", "dask")
    assert r.exit_code == 2 and "--scheduler" in r.output
    r = run("batch", TEMPLATES / "sample_orders.csv", "-o", tmp_path / "out", "--workers", "0")
    assert r.exit_code == 2


def test_batch_command_runs_and_reports_failures(tmp_path):
    (tmp_path / "bad.stl").write_bytes(b"solid x\nendsolid x\n")
    path = tmp_path / "o.csv"
    path.write_text(
        HEADER
        + f"X-1,P,bad.stl,,{TEMPLATES / 'example_rx.yaml'},,,\n"
        + f"../x,P,bad.stl,,{TEMPLATES / 'example_rx.yaml'},,,\n"
    )
    r = run("batch", path, "-o", tmp_path / "out", "--workers", "1")
    assert r.exit_code == 1
    assert "2 orders: 0 done, 0 skipped, 2 failed" in r.output
    assert "failed: 'X-1':" in r.output and "bad.stl" in r.output
    assert (tmp_path / "out" / "summary.csv").is_file() and not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------- hardening (issue 13)
@pytest.mark.parametrize(
    "header",
    [
        "order_id,patient_ref,left_scan,left_scan,prescription\n",
        "order_id,patient_ref,left_scan,Left Scan,prescription\n",
    ],
)
def test_a_column_given_twice_is_refused(lab, header):
    """Was: accepted, and the last one silently won."""
    path = lab / "o.csv"
    path.write_text(header + "A-1,P,scans/left.stl,scans/other.stl,rx.yaml\n")
    with pytest.raises(PrescriptionError, match=r"line 1: column 'left_scan' is given 2 times"):
        parse_orders(path)


def test_json_keys_that_mean_the_same_column_are_refused(lab):
    path = lab / "o.json"
    path.write_text(
        json.dumps(
            [
                {
                    "order_id": "A-1",
                    "patient_ref": "P",
                    "left_scan": "scans/left.stl",
                    "Left-Scan": "scans/other.stl",
                    "prescription": "rx.yaml",
                }
            ]
        )
    )
    (order,) = parse_orders(path)
    assert any("key 'left_scan' is given 2 times" in p for p in order.problems)


@pytest.mark.parametrize("sep", ["\u2028", "\x0c", "\x85", "\u2029"])
def test_unicode_line_separators_inside_a_cell_do_not_split_an_order(lab, sep):
    """Was: a U+2028 or a form feed in an unquoted cell split one order into two (str.splitlines)."""
    path = lab / "o.csv"
    row = f"A-1,P,scans/left.stl,,rx.yaml,,1,stl,see{sep}below\n"
    path.write_text(HEADER.rstrip("\n") + ",notes\n" + row)
    (order,) = parse_orders(path)
    assert order.notes == f"see{sep}below" and order.problems == ()


def test_required_column_missing_is_one_file_problem(lab):
    """Was: every row reported "patient_ref is empty" and the batch exited 1."""
    path = lab / "o.csv"
    path.write_text(
        "order_id,left_scan,prescription\nA-1,scans/left.stl,rx.yaml\nA-2,scans/left.stl,rx.yaml\n"
    )
    with pytest.raises(PrescriptionError, match=r"column patient_ref is missing \(columns: order_id, "):
        parse_orders(path)
    r = run("batch", path, "-o", lab / "out", "-q")
    want = f"orthogen: error: {path}: column patient_ref is missing (columns: {', '.join(COLUMNS)})"
    assert r.exit_code == 2 and lines(r.stderr) == [want]
    js = lab / "o.json"
    js.write_text(json.dumps([{"order_id": "A-1", "left_scan": "scans/left.stl", "prescription": "rx.yaml"}]))
    with pytest.raises(PrescriptionError, match=r"key patient_ref is missing .* in every order"):
        parse_orders(js)


@pytest.mark.parametrize(
    ("oid", "why"),
    [
        ("\U0001f9b6" * 62, "is 248 bytes long in UTF-8"),
        ("A-1\u202egnp.exe", "invisible character U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("A\u200b-1", "invisible character U+200B (ZERO WIDTH SPACE)"),
        ("Mu\u0308ller-7", "is not in Unicode NFC form"),
    ],
)
def test_ids_that_break_file_names_or_look_like_others_are_refused(oid, why):
    """Was: 62-64 emoji passed validate and failed the batch with "File name too long"; bidi overrides,
    zero-width characters and NFD twins of NFC ids were accepted."""
    problem = order_id_problem(oid)
    assert problem is not None and why in problem, problem
    assert "at most 128 bytes in UTF-8" in problem


def test_ids_that_look_alike_are_duplicates(lab):
    path = lab / "o.csv"
    path.write_text(HEADER + "ＡＢ-1,P,scans/left.stl,,rx.yaml\nab-1,P,scans/left.stl,,rx.yaml\n")
    orders = parse_orders(path)
    assert all(any("used by more than one order" in p for p in o.problems) for o in orders)


def test_prescription_side_contradicting_the_column_is_refused(lab):
    (lab / "left_rx.yaml").write_text("side: left\n")
    path = lab / "o.csv"
    path.write_text(HEADER + "A-1,P,,scans/left.stl,left_rx.yaml\n")
    (order,) = parse_orders(path)
    with pytest.raises(PrescriptionError, match=r"side: left contradicts the right_scan column"):
        order_prescriptions(order)


def test_override_problems_name_the_overrides_without_patching_text(lab):
    path = lab / "o.csv"
    path.write_text(HEADER + "A-1,P,scans/left.stl,,rx.yaml,heel_lift_mm=20;template=nosuch\n")
    (order,) = parse_orders(path)
    with pytest.raises(PrescriptionError) as err:
        order_prescriptions(order)
    assert str(err.value).startswith("overrides: ") and "--set" not in str(err.value)
