"""Clinical rules: exact prescriptions for a table of assessments, reasons, conflicts, and properties."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orthogen.errors import PrescriptionError
from orthogen.rx.annotated import prescription_yaml
from orthogen.rx.assessed import load_with_assessment
from orthogen.rx.assessment import CONDITIONS, validate_assessment
from orthogen.rx.clinical_rules import derive
from orthogen.rx.load import load_prescription, validate_prescription
from orthogen.rx.model import Prescription
from orthogen.rx.rulebook import RULES_PATH, load_rulebook, markdown_table

REPO = Path(__file__).resolve().parents[1]
LONG = bool(os.environ.get("ORTHOGEN_LONG"))
EXAMPLES = REPO / "templates" / "assessments"
STANDARD = {
    "template": "standard",
    "construction": "full_contact",
    "length": "full",
    "shell_thickness_mm": 3,
    "top_cover_mm": 0,
    "heel_cup_depth_mm": 12,
    "arch_fill_mm": 3.2,
    "rearfoot_post_deg": 0,
    "forefoot_post_deg": 0,
}
SPORT = {
    **STANDARD,
    "template": "sport",
    "top_cover_mm": 1.5,
    "heel_cup_depth_mm": 15,
    "arch_fill_mm": 1.6,
    "stiffness": {
        "rearfoot": "firm",
        "heel_cushion": "soft",
        "arch": "firm",
        "forefoot": "soft",
        "posts": "firm",
    },
}
DRESS = {
    **STANDARD,
    "template": "dress",
    "construction": "shell",
    "length": "three_quarter",
    "shell_thickness_mm": 2.5,
    "heel_cup_depth_mm": 9,
    "stiffness": {
        "rearfoot": "firm",
        "heel_cushion": "medium",
        "arch": "firm",
        "forefoot": "medium",
        "posts": "firm",
    },
}
PRONATED = {"rearfoot_post_deg": 4, "medial_flange_mm": 8, "arch_fill_mm": 0, "heel_cup_depth_mm": 14}

#: Every example assessment and the exact prescription it must give (no scan: both feet alike).
EXPECTED = {
    "overpronation": {**STANDARD, **PRONATED, "shoe_drop_mm": 10},
    "flat_foot_runner": {
        **SPORT,
        **PRONATED,
        "heel_cup_depth_mm": 15,
        "medial_heel_skive_mm": 3,
        "shoe_drop_mm": 10,
    },
    "supination": {**SPORT, "top_cover_mm": 3, "lateral_flange_mm": 8, "forefoot_post_deg": -2},
    "leg_length_difference": {
        **STANDARD,
        "shell_thickness_mm": 4,
        "heel_lift_mm": 6,
        "heel_lift_side": "right",
    },
    "plantar_heel_pain": {
        **STANDARD,
        "shell_thickness_mm": 4.5,
        "top_cover_mm": 3,
        "heel_cup_depth_mm": 14,
        "arch_fill_mm": 1.6,
        "heel_spur_pocket": {},
        "shoe_drop_mm": 12,
    },
    "hallux_valgus": {**STANDARD, "forefoot_post_deg": 3, "first_mpj_cutout": {}},
    "metatarsalgia": {**STANDARD, "met_pad": {}, "shoe_drop_mm": 15},
    "mortons_neuroma": {**SPORT, "met_pad": {}},
    "low_back_pain": {**STANDARD, "shell_thickness_mm": 4, "heel_lift_mm": 4, "heel_lift_side": "left"},
    "hip_pain": {**STANDARD, "shell_thickness_mm": 4, "heel_lift_mm": 5, "heel_lift_side": "right"},
    "knee_pain": {**SPORT, **PRONATED, "heel_cup_depth_mm": 15},
    "back_pain_lld_overpronation": {
        **STANDARD,
        **PRONATED,
        "shell_thickness_mm": 4,
        "heel_lift_mm": 6,
        "heel_lift_side": "left",
        "shoe_drop_mm": 8,
    },
    "dress_shoe_conflicts": {
        **DRESS,
        "rearfoot_post_deg": 4,
        "medial_flange_mm": 8,
        "arch_fill_mm": 0,
        "shell_thickness_mm": 3,
        "top_cover_mm": 1,
        "heel_cup_depth_mm": 10,
        "heel_lift_mm": 3,
        "heel_lift_side": "left",
        "heel_spur_pocket": {},
        "shoe_drop_mm": 25,
    },
    "clinician_choice": {
        **STANDARD,
        **PRONATED,
        "heel_cup_depth_mm": 16,
        "top_cover_mm": 2,
        "met_pad": {"height_mm": 6},
    },
    "prescription_with_assessment": {
        **STANDARD,
        "shell_thickness_mm": 4,
        "top_cover_mm": 1.5,
        "lateral_flange_mm": 8,
        "forefoot_post_deg": -2,
        "label": "EX-15",
    },
}


def assessed(name: str, **kw):
    path = EXAMPLES / f"{name}.yaml"
    if name == "prescription_with_assessment":
        return load_with_assessment(path, **kw)
    return load_with_assessment(None, (), path, **kw)


def test_every_example_is_in_the_table():
    assert {p.stem for p in EXAMPLES.glob("*.yaml")} == set(EXPECTED)
    assert set(CONDITIONS) <= {c for p in EXAMPLES.glob("*.yaml") for c in _conditions(p)}


def _conditions(path: Path) -> set[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return set(validate_assessment(data.get("assessment", data)).conditions)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_gives_exactly_its_prescription(name):
    rx, d = assessed(name)
    assert d.values == EXPECTED[name]
    assert rx == validate_prescription(EXPECTED[name])
    assert all(dec.reason for dec in d.decisions)


def test_the_issue_case_back_pain_9mm_difference_and_overpronation():
    rx, d = assessed("back_pain_lld_overpronation")
    assert (rx.heel_lift_mm, rx.heel_lift_side) == (6.0, "left")  # 65 % of 9 = 5.85, to 0.5 mm
    assert (rx.rearfoot_post_deg, rx.medial_flange_mm, rx.heel_cup_depth_mm) == (4, 8, 14)
    why = {r.rule: r for r in d.why}
    lift = next(r for r in d.why if "heel_lift_mm = 6" in r.value)
    assert "leg-length difference 9 mm, left leg short (blocks)" in lift.finding
    assert "low back pain" in lift.finding and "rannisto2019" in lift.sources
    post = next(r for r in why.values() if "rearfoot_post_deg = 4" in r.value)
    assert "FPI-6 +8" in post.finding and "the clinician's diagnosis of overpronation" in post.finding
    reasons = {dec.key: dec for dec in d.decisions}
    lift_reason = reasons["heel_lift_mm"]
    assert lift_reason.origin == "rule" and "-> leg-length difference" in lift_reason.reason
    assert reasons["length"].origin == "template"
    assert d.warnings == ()


def test_lift_beyond_the_shoe_is_flagged_for_an_external_build_up():
    _, d = assessed("leg_length_difference")
    assert d.warnings == (
        "9 mm of lift is wanted but at most 6 mm fits on an in-shoe device: 6 mm on the "
        "device, add 3 mm as an external build-up on the right shoe",
    )


def test_dress_shoe_conflicts_say_what_was_chosen_and_why():
    _, d = assessed("dress_shoe_conflicts")
    text = "\n".join(d.warnings)
    assert (
        "the dress shoe holds at most 10 mm (heel_cup_depth_mm); 14 mm wanted by pronated_cup, heel_pain"
        in text
    )
    assert "8 mm of lift is wanted but a dress shoe holds at most 3 mm" in text
    assert "add 5 mm as an external build-up on the left shoe" in text
    assert (
        "skive, only with a heel cup of at least 14 mm: not applied, it needs heel_cup_depth_mm at least "
        "14 (it is 10)"
    ) in text
    skive = next(r for r in d.why if "skive" in r.rule)
    assert skive.value.startswith("not applied")


def test_the_clinicians_values_win_and_are_marked():
    _, d = assessed("clinician_choice")
    reasons = {dec.key: dec for dec in d.decisions}
    assert reasons["heel_cup_depth_mm"].origin == "clinician"
    assert reasons["heel_cup_depth_mm"].reason == "clinician's choice (the rules would give 14: pronated_cup)"
    assert reasons["met_pad"].origin == "clinician" and reasons["rearfoot_post_deg"].origin == "rule"
    assert any(r.finding == "clinician" and r.value == "heel_cup_depth_mm = 16" for r in d.why)


def test_a_hand_set_cup_makes_room_for_the_skive_and_a_shallow_one_removes_it():
    a = validate_assessment({"foot_posture_index": 11, "shoe": {"type": "dress"}})
    assert derive(a, chosen={"heel_cup_depth_mm": 16}).values["medial_heel_skive_mm"] == 3
    d = derive(a, chosen={"heel_cup_depth_mm": 16})
    assert any("above the 10 that shoe_dress allows" in w for w in d.warnings)
    assert "medial_heel_skive_mm" not in derive(a).values


def test_set_values_and_clinician_choices_through_set_overrides(tmp_path):
    rx, _ = load_with_assessment(
        None, ["heel_lift_mm=2", "met_pad.height_mm=7"], EXAMPLES / "back_pain_lld_overpronation.yaml"
    )
    assert rx.heel_lift_mm == 2 and rx.met_pad.height_mm == 7
    with pytest.raises(PrescriptionError) as info:
        load_with_assessment(
            None, ["medial_heel_skive_mm=3", "heel_cup_depth_mm=10"], EXAMPLES / "overpronation.yaml"
        )
    assert "needs heel_cup_depth_mm of at least 14" in str(info.value) and "\n" not in str(info.value)


def test_scan_findings_join_and_conflicts_are_warnings():
    scan = {
        "arch_index": 0.291,
        "foot_type": "flat",
        "arch_height_mm": 3.0,
        "weight_bearing": True,
        "side": "right",
    }
    d = derive(validate_assessment({"conditions": ["knee_pain"]}), scan)
    assert d.values["side"] == "right" and d.values["rearfoot_post_deg"] == 4  # the scan alone: pronated
    assert d.findings.value("posture") == "pronated"
    d = derive(validate_assessment({"foot_posture_index": 2}), scan)
    assert "rearfoot_post_deg" in d.values and d.values["rearfoot_post_deg"] == 0
    assert d.warnings == (
        "flat arch (arch index 0.291, scan) reads as pronated, but FPI-6 +2 reads as "
        "normal: normal used, because FPI-6 is a validated six-item posture score and "
        "comes before single measures",
    )
    assert any(r.finding.startswith("flat arch") and r.rule == "no rule uses this finding" for r in d.why)


@pytest.mark.parametrize(
    ("findings", "posture"),
    [
        ({"foot_posture_index": 10}, "highly_pronated"),
        ({"foot_posture_index": 6}, "pronated"),
        ({"foot_posture_index": 5}, "normal"),
        ({"foot_posture_index": -1}, "supinated"),
        ({"foot_posture_index": -5}, "highly_supinated"),
        ({"navicular_drop_mm": 15}, "highly_pronated"),
        ({"navicular_drop_mm": 9.5}, "normal"),
        ({"rcsp_deg": "6 everted"}, "pronated"),
        ({"rcsp_deg": "6 inverted"}, "supinated"),
        ({"foot_posture_index": 7, "navicular_drop_mm": 16}, "highly_pronated"),  # an agreeing measure grades
        (
            {"conditions": ["flat_foot"], "foot_posture_index": -2},
            "pronated",
        ),  # the clinician's diagnosis first
        ({"conditions": ["supination"], "foot_posture_index": -6}, "highly_supinated"),
    ],
)
def test_posture_classification(findings, posture):
    assert derive(validate_assessment(findings)).findings.value("posture") == posture


def test_forefoot_balanced_to_the_scans_angle_when_it_is_measured():
    scan = {
        "arch_index": 0.24,
        "foot_type": "normal",
        "weight_bearing": True,
        "side": "left",
        "forefoot_to_rearfoot_deg": 4.3,
    }
    d = derive(validate_assessment({}), scan)
    assert d.values["forefoot_post_deg"] == 4.5
    assert (
        "forefoot 4.3° varus (scan) -> forefoot posted"
        in dict((x.key, x.reason) for x in d.decisions)["forefoot_post_deg"]
    )
    # the clinician's measure wins, and a large disagreement is a warning
    d = derive(validate_assessment({"forefoot_deg": "2 valgus"}), scan)
    assert d.values["forefoot_post_deg"] == -2 and "the clinician's is used" in d.warnings[0]
    # beyond the usual 8 deg the post is limited, with a warning
    d = derive(validate_assessment({"forefoot_deg": 11}))
    assert d.values["forefoot_post_deg"] == 8 and any("11 limited to 8" in w for w in d.warnings)
    # small angles are within measurement error: no post
    assert derive(validate_assessment({"forefoot_deg": 1.5})).values["forefoot_post_deg"] == 0
    # a three-quarter dress device ends behind the met heads: the post is not applied
    d = derive(validate_assessment({"forefoot_deg": 4, "shoe": {"type": "dress"}}))
    assert d.values["forefoot_post_deg"] == 0 and "not applied" in d.warnings[0]


def test_side_specific_findings_need_the_foot():
    a = validate_assessment({"conditions": {"bunion": "left"}, "foot_posture_index": {"left": 9, "right": 1}})
    left, right = derive(a, side="left"), derive(a, side="right")
    assert "first_mpj_cutout" in left.values and left.values["rearfoot_post_deg"] == 4
    assert "first_mpj_cutout" not in right.values and right.values["rearfoot_post_deg"] == 0
    with pytest.raises(PrescriptionError, match="name the foot"):
        derive(a)


@pytest.mark.parametrize(
    ("lld", "lift", "warned"),
    [(4.9, None, False), (5, 3.5, False), (9, 6, False), (9.5, 6, False), (9.7, 6, True), (30, 6, True)],
)
def test_lift_thresholds(lld, lift, warned):
    """65 % of the difference to the nearest 0.5 mm (half up), from 5 mm on, at most 6 mm in the shoe."""
    d = derive(validate_assessment({"leg_length_difference": {"mm": lld, "short_side": "right"}}))
    assert d.values.get("heel_lift_mm") == lift
    assert bool(d.warnings) is warned


def test_written_prescription_loads_back_to_the_same(tmp_path):
    for name in EXPECTED:
        rx, d = assessed(name)
        text = prescription_yaml(d, [f"assessment: {name}"])
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        assert load_prescription(path) == rx, name
        body = [line for line in text.splitlines() if line and not line.startswith(("#", "  "))]
        for i, line in enumerate(text.splitlines()):  # every top-level value has its reason right above it
            if line in body:
                assert text.splitlines()[i - 1].startswith("#"), line


# --- the rules file ----------------------------------------------------------------------------------


def test_every_rule_names_existing_sources_and_the_readme_table_is_current():
    book = load_rulebook()
    assert all(r.sources and all(s in book.sources for s in r.sources) for r in book.rules)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert markdown_table(book) in readme, "run: python -m orthogen.rx.rulebook --table"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda d: d["rules"][0].update(sources=["nobody2020"]), "every rule names its sources"),
        (lambda d: d["rules"][0]["set"].update(heel_lift_mn=3), "unknown prescription key 'heel_lift_mn'"),
        (lambda d: d["rules"][0]["when"].update(fpi=3), "unknown finding 'fpi' in when"),
        (lambda d: d["rules"][0].update(id=d["rules"][1]["id"]), "needs a unique id"),
        (
            lambda d: d["rules"][0]["set"].update(heel_lift_mm={"from": "height"}),
            "reads unknown finding 'height'",
        ),
        (lambda d: d["rules"][0]["when"].update(condition="gout"), "unknown condition(s) ['gout']"),
    ],
)
def test_a_broken_rules_file_is_refused_with_one_line(tmp_path, edit, problem):
    data = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PrescriptionError) as info:
        load_rulebook(path)
    assert problem in str(info.value) and "\n" not in str(info.value) and str(path) in str(info.value)


# --- properties over random valid assessments -------------------------------------------------------

_fpi = st.integers(-12, 12)


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


@st.composite
def assessments(draw):
    data: dict = {}
    conditions = draw(st.lists(st.sampled_from(CONDITIONS), max_size=5, unique=True))
    lld = draw(_maybe(st.floats(0, 60, allow_nan=False)))
    if "leg_length_difference" in conditions and lld is None:
        lld = draw(st.floats(0, 60, allow_nan=False))
    if conditions:
        data["conditions"] = {c: draw(st.sampled_from(["both", "left", "right"])) for c in conditions}
    if lld is not None:
        data["leg_length_difference"] = {
            "mm": round(lld, 1),
            "short_side": draw(st.sampled_from(["left", "right"])),
            "method": draw(_maybe(st.sampled_from(["tape", "blocks", "radiograph"]))),
        }
    for key, strategy in (
        ("foot_posture_index", _fpi),
        ("rcsp_deg", st.floats(-20, 20)),
        ("forefoot_deg", st.floats(-20, 20)),
        ("navicular_drop_mm", st.floats(0, 30)),
    ):
        per_foot = st.fixed_dictionaries({"left": strategy, "right": strategy})
        value = draw(_maybe(st.one_of(strategy, per_foot)))
        if value is not None:
            data[key] = value
    mass = draw(_maybe(st.floats(20, 250)))
    if mass is not None:
        data["body_mass_kg"] = mass
    data["activity"] = draw(_maybe(st.sampled_from(["low", "moderate", "high", "sport"])))
    data["shoe"] = {
        "type": draw(_maybe(st.sampled_from(["athletic", "casual", "dress", "work"]))),
        "drop_mm": draw(_maybe(st.floats(0, 40))),
    }
    return validate_assessment(data)


scans = _maybe(
    st.fixed_dictionaries(
        {
            "arch_index": st.floats(0.0, 0.4),
            "foot_type": st.sampled_from(["flat", "normal", "high"]),
            "arch_height_mm": st.floats(0, 30),
            "weight_bearing": st.booleans(),
            "side": st.sampled_from(["left", "right"]),
        },
        optional={"forefoot_to_rearfoot_deg": st.floats(-15, 15)},
    )
)


@settings(max_examples=3000 if LONG else 120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=assessments(), scan=scans, side=st.sampled_from(["left", "right"]))
def test_random_assessments_never_give_an_invalid_prescription(a, scan, side):
    d = derive(a, scan, side)
    rx = validate_prescription(d.values)  # raises on an invalid prescription
    assert rx.heel_lift_mm <= 6.0  # never more lift in the shoe than a device holds
    assert rx.medial_heel_skive_mm == 0 or rx.heel_cup_depth_mm >= 14
    lld = a.leg_length_difference
    if lld is not None and lld.mm >= 5:
        assert rx.heel_lift_side == lld.short_side and rx.heel_lift_mm >= 3
    if d.findings.value("posture") in ("supinated", "highly_supinated"):
        assert rx.rearfoot_post_deg <= 0
    assert not rx.warnings() or all("\n" not in w for w in rx.warnings())
    assert all("\n" not in w for w in d.warnings)
    assert d.decisions[0].key == "template" and all(dec.reason for dec in d.decisions)
    assert derive(a, scan, side) == d  # deterministic
    text = prescription_yaml(d)
    assert validate_prescription(yaml.safe_load(text)) == rx
    assert not re.search(r"\{[a-z_]+\}", text)  # every placeholder of a warning filled in
    assert set(d.values) <= set(Prescription.model_fields)
