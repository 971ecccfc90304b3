"""The assessment file: validation with one-line problems, aliases, per-foot values, the committed schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from orthogen.errors import PrescriptionError
from orthogen.rx.assessed import is_assessment, read_assessment
from orthogen.rx.assessment import ASSESSMENT_SCHEMA_PATH, json_schema_text, validate_assessment

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "templates" / "assessments").glob("*.yaml"))


def problem(data: dict) -> str:
    with pytest.raises(PrescriptionError) as info:
        validate_assessment(data, "a.yaml")
    text = str(info.value)
    assert "\n" not in text and "pydantic" not in text and "validation error" not in text.lower()
    assert text.startswith("a.yaml: ")
    return text.removeprefix("a.yaml: ")


def test_a_full_assessment_reads_as_written():
    a = validate_assessment(
        {
            "patient_ref": "P-1",
            "conditions": ["Bunion", "low back pain", "Morton's neuroma"],
            "leg_length_difference": {"mm": 9, "short_side": "Left", "method": "blocks"},
            "foot_posture_index": 8,
            "rcsp_deg": "4 everted",
            "forefoot_deg": "3 varus",
            "navicular_drop_mm": 12,
            "body_mass_kg": 82,
            "activity": "Sport",
            "shoe": {"type": "dress", "drop_mm": 20},
            "prescription": {"heel_cup_depth_mm": 16},
        }
    )
    assert a.conditions == {"hallux_valgus": "both", "low_back_pain": "both", "mortons_neuroma": "both"}
    assert (a.leg_length_difference.mm, a.leg_length_difference.short_side) == (9, "left")
    assert (a.value("rcsp_deg", None), a.value("forefoot_deg", None)) == (-4, 3)  # + = inverted / varus
    assert (a.activity, a.shoe.type, a.prescription) == ("sport", "dress", {"heel_cup_depth_mm": 16})
    assert a.side_specific() == []


def test_per_foot_values_and_conditions():
    a = validate_assessment(
        {
            "foot_posture_index": {"left": 8, "right": 2},
            "conditions": {"bunion": "left", "overpronation": "both"},
        }
    )
    assert a.value("foot_posture_index", "left") == 8 and a.value("foot_posture_index", "right") == 2
    assert a.conditions_for("right") == ("overpronation",)
    assert a.conditions_for("left") == ("hallux_valgus", "overpronation")
    assert a.side_specific() == ["hallux_valgus", "foot_posture_index"]
    with pytest.raises(PrescriptionError, match="differs between the feet"):
        a.value("foot_posture_index", None)
    with pytest.raises(PrescriptionError, match="on the left foot only: name the foot"):
        a.conditions_for(None)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"conditions": ["bunions"]},
            "unknown condition 'bunions' (did you mean 'bunion'? allowed: overpronation,",
        ),
        (
            {"conditions": {"bunion": "up"}},
            "conditions.hallux_valgus = 'up' is not allowed (allowed: both, left, right)",
        ),
        ({"conditions": 3}, "conditions = 3 must be a list of names or a mapping name: side"),
        ({"foot_posture_index": 13}, "foot_posture_index = 13 is out of range (allowed -12 to 12)"),
        ({"foot_posture_index": 2.5}, "foot_posture_index = 2.5 is not a whole number"),
        ({"foot_posture_index": {"left": 3, "middle": 1}}, "foot_posture_index has unknown key(s) 'middle'"),
        (
            {"rcsp_deg": "4 sideways"},
            "rcsp_deg = '4 sideways' is not a number (or '4 inverted' / '4 everted')",
        ),
        (
            {"navicular_drop_mm": {"right": 40}},
            "navicular_drop_mm.right = 40 is out of range (allowed 0 to 30 mm)",
        ),
        ({"forefoot_deg": True}, "forefoot_deg = true is not a number"),
        (
            {"leg_length_difference": {"mm": 9}},
            "leg_length_difference.mm = 9 needs short_side: left or right",
        ),
        (
            {"leg_length_difference": {"mm": -1, "short_side": "left"}},
            "leg_length_difference.mm = -1 is out of range (allowed 0 to 60 mm)",
        ),
        ({"conditions": ["lld"]}, "condition leg_length_difference needs the measurement"),
        ({"conditon": ["bunion"]}, "unknown key 'conditon' (did you mean 'conditions'?)"),
        (
            {"shoe": {"type": "boot"}},
            "shoe.type = 'boot' is not allowed (allowed: athletic, casual, dress, work)",
        ),
        ({"shoe": {"drop": 3}}, "unknown key 'shoe.drop' (did you mean 'shoe.drop_mm'?)"),
        ({"shoe": {"drop_mm": 50}}, "shoe.drop_mm = 50 is out of range (allowed 0 to 40 mm)"),
        ({"body_mass_kg": True}, "body_mass_kg = true is not a number"),
        ({"body_mass_kg": 300}, "body_mass_kg = 300 is out of range (allowed 20 to 250 kg)"),
        ({"activity": "daily"}, "activity = 'daily' is not allowed (allowed: low, moderate, high, sport)"),
        ({"prescription": 3}, "prescription = 3 must be a mapping"),
    ],
)
def test_problems_are_one_line_and_name_the_key(data, expected):
    assert expected in problem(data)


def test_every_problem_is_listed_at_once():
    text = problem({"foot_posture_index": 20, "activity": "x", "shoe": {"type": "boot"}})
    assert text.count("; ") == 2


def test_a_prescription_with_an_assessment_section(tmp_path):
    path = tmp_path / "rx.yaml"
    path.write_text("top_cover_mm: 1.5\nassessment:\n  conditions: [supination]\n", encoding="utf-8")
    src = read_assessment(path)
    assert src.assessment.conditions == {"supination": "both"} and src.chosen == {"top_cover_mm": 1.5}
    path.write_text("assessment:\n  prescription: {top_cover_mm: 1}\n", encoding="utf-8")
    with pytest.raises(PrescriptionError, match="the values set by hand are the file's own keys"):
        read_assessment(path)
    path.write_text("assessment: [overpronation]\n", encoding="utf-8")
    with pytest.raises(PrescriptionError, match="assessment must be a mapping of findings"):
        read_assessment(path)


def test_assessment_files_are_told_from_prescriptions():
    assert is_assessment({"conditions": ["bunion"], "body_mass_kg": 70})
    assert is_assessment({"template": "sport", "assessment": {}})
    assert not is_assessment({"template": "sport", "heel_lift_mm": 3})
    assert not is_assessment({})


def test_json_schema_file_is_up_to_date():
    assert ASSESSMENT_SCHEMA_PATH.read_text(encoding="utf-8") == json_schema_text(), (
        "run: python -c 'from orthogen.rx.assessment import write_json_schema; write_json_schema()'"
    )
    schema = json.loads(json_schema_text())
    assert schema["properties"]["foot_posture_index"]["title"] == "Foot Posture Index (FPI-6)"
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_validate_and_match_the_schema(path):
    jsonschema = pytest.importorskip("jsonschema")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    section = data.get("assessment", data)
    jsonschema.validate(section, json.loads(json_schema_text()))
    read_assessment(path)
