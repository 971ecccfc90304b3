"""Prescription model, template layering, --set overrides, error messages and the committed schema."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pydantic
import pytest
import yaml

from orthogen.errors import PrescriptionError
from orthogen.rx import templates as templates_io
from orthogen.rx.limits import SCHEMA_PATH
from orthogen.rx.load import load_prescription, validate_prescription
from orthogen.rx.model import NESTED_MODELS, Prescription, json_schema_text, write_json_schema
from orthogen.rx.shoe_size import shoe_size_to_foot_length_mm

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "templates"
EXPECTED_TEMPLATES = {"standard", "sport", "dress", "flat_foot", "high_arch", "leg_length", "heel_pain"}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def error_of(*args, **kwargs) -> PrescriptionError:
    with pytest.raises(PrescriptionError) as info:
        load_prescription(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text, "errors must be one line"
    assert "pydantic" not in text and "validation error" not in text.lower()
    return info.value


@pytest.fixture
def tdir(tmp_path: Path) -> Path:
    """A private templates folder with one template, 'base'."""
    folder = tmp_path / "tpl"
    folder.mkdir()
    write(
        folder / "base.yaml",
        "name: base\ndescription: test template\n"
        "defaults:\n  shell_thickness_mm: 4\n  heel_cup_depth_mm: 13\n  top_cover_mm: 1\n"
        "geometry:\n  anything: [1, 2, 3]\n",
    )
    return folder


# --- defaults ----------------------------------------------------------------------------------------


def test_builtin_defaults():
    rx = Prescription()
    assert rx.template == "standard"
    assert (rx.side, rx.units, rx.scan_kind, rx.length) == ("auto", "auto", "auto", "full")
    assert rx.foot_length_mm is None and rx.shoe_size is None and rx.arch_height_mm is None
    assert rx.shell_thickness_mm == 3.0 and rx.top_cover_mm == 0.0
    assert rx.heel_cup_depth_mm == 12.0 and rx.arch_fill_mm == 0.0
    assert rx.rearfoot_post_deg == rx.forefoot_post_deg == rx.medial_heel_skive_mm == 0.0
    assert rx.heel_lift_mm == rx.medial_flange_mm == rx.lateral_flange_mm == 0.0
    for key in ("met_pad", "met_bar", "first_mpj_cutout", "heel_spur_pocket", "mortons_extension", "label"):
        assert getattr(rx, key) is None
    assert rx.warnings() == []


def test_accommodation_defaults():
    rx = load_prescription(None, ["met_pad={}", "first_mpj_cutout=true", "heel_spur_pocket={}"])
    assert rx.met_pad.model_dump() == {"height_mm": 5, "length_mm": 30, "width_mm": 22, "offset_mm": 8}
    assert rx.first_mpj_cutout.model_dump() == {"depth_mm": 2, "radius_mm": 14}
    assert rx.heel_spur_pocket.model_dump() == {
        "depth_mm": 3,
        "radius_mm": 14,
        "offset_mm": 0,
        "medial_offset_mm": 0,
    }
    assert load_prescription(None, ["mortons_extension={}"]).mortons_extension.model_dump() == {
        "thickness_mm": 3,
        "to_hallux_tip": False,
    }
    assert load_prescription(None, ["met_bar={}"]).met_bar.model_dump() == {
        "height_mm": 4,
        "length_mm": 20,
        "offset_mm": 8,
    }


def test_no_file_means_standard_template():
    rx = load_prescription(None)
    defaults = templates_io.load_template("standard")["defaults"]
    assert rx.template == "standard"
    for key, value in defaults.items():
        assert getattr(rx, key) == value
    assert rx == load_prescription(None, [])


def test_frozen_and_as_applied_round_trip():
    rx = load_prescription(TEMPLATES / "example_rx.yaml")
    with pytest.raises(pydantic.ValidationError):
        rx.heel_lift_mm = 3  # type: ignore[misc]
    applied = rx.as_applied()
    assert set(applied) == set(Prescription.model_fields)
    assert json.loads(json.dumps(applied)) == applied
    assert Prescription.model_validate(applied) == rx


# --- layering ----------------------------------------------------------------------------------------


def test_precedence_builtin_template_file_override(tmp_path, tdir):
    rx_file = write(tmp_path / "rx.yaml", "template: base\nheel_cup_depth_mm: 15\ntop_cover_mm: 2\n")
    rx = load_prescription(rx_file, ["top_cover_mm=3"], templates_dir=tdir)
    assert rx.arch_fill_mm == 0.0  # built-in (the template does not set it)
    assert rx.shell_thickness_mm == 4.0  # template
    assert rx.heel_cup_depth_mm == 15.0  # file beats template
    assert rx.top_cover_mm == 3.0  # override beats file


def test_template_key_from_override(tmp_path, tdir):
    write(tdir / "other.yaml", "name: other\ndescription: x\ndefaults:\n  shell_thickness_mm: 5\n")
    rx_file = write(tmp_path / "rx.yaml", "template: base\n")
    assert load_prescription(rx_file, templates_dir=tdir).shell_thickness_mm == 4.0
    rx = load_prescription(rx_file, ["template=other"], templates_dir=tdir)
    assert rx.template == "other" and rx.shell_thickness_mm == 5.0 and rx.heel_cup_depth_mm == 12.0


def test_nested_objects_merge_across_layers(tmp_path, tdir):
    write(tdir / "pads.yaml", "name: pads\ndescription: x\ndefaults:\n  met_pad:\n    height_mm: 6\n")
    rx_file = write(tmp_path / "rx.yaml", "template: pads\nmet_pad:\n  width_mm: 20\n")
    rx = load_prescription(rx_file, ["met_pad.length_mm=25"], templates_dir=tdir)
    assert rx.met_pad.model_dump() == {"height_mm": 6, "length_mm": 25, "width_mm": 20, "offset_mm": 8}
    assert load_prescription(rx_file, ["met_pad=null"], templates_dir=tdir).met_pad is None


def test_toml_false_removes_template_accommodation(tmp_path):
    assert load_prescription(None, ["template=heel_pain"]).heel_spur_pocket is not None
    rx_file = write(tmp_path / "rx.toml", 'template = "heel_pain"\nheel_spur_pocket = false\n')
    assert load_prescription(rx_file).heel_spur_pocket is None


def test_templates_env_variable(monkeypatch, tdir):
    monkeypatch.setenv("ORTHOGEN_TEMPLATES", str(tdir))
    assert templates_io.templates_dir() == tdir
    assert templates_io.list_templates() == [("base", "test template")]
    assert load_prescription(None, ["template=base"]).shell_thickness_mm == 4.0
    err = error_of(None)  # the default template 'standard' is not in that folder
    assert "unknown template 'standard'" in str(err) and "available: base" in str(err)


def test_templates_dir_default_is_repo_folder(monkeypatch):
    monkeypatch.delenv("ORTHOGEN_TEMPLATES", raising=False)
    assert templates_io.templates_dir() == TEMPLATES


# --- templates ---------------------------------------------------------------------------------------


def test_expected_templates_present_and_examples_excluded():
    names = [name for name, _ in templates_io.list_templates()]
    assert EXPECTED_TEMPLATES <= set(names)
    assert "example_rx" not in names
    for _, description in templates_io.list_templates():
        assert description and "\n" not in description and "invalid" not in description


@pytest.mark.parametrize("name", sorted(EXPECTED_TEMPLATES))
def test_each_template_validates(name):
    raw = templates_io.load_template(name)
    assert raw["name"] == name
    assert isinstance(raw["description"], str) and "\n" not in raw["description"].strip()
    assert isinstance(raw["defaults"], dict)
    text = (TEMPLATES / f"{name}.yaml").read_text(encoding="utf-8")
    assert "DOMAIN.md" in text, "each template cites its reasoning"
    # the defaults alone validate, and layered as a template they are all applied
    validate_prescription({**raw["defaults"], "template": name})
    rx = load_prescription(None, [f"template={name}"])
    for key, value in raw["defaults"].items():
        got = getattr(rx, key)
        assert (got.model_dump() if hasattr(got, "model_dump") else got) == value
    assert rx.warnings() == []


def test_template_specific_choices():
    get = {name: load_prescription(None, [f"template={name}"]) for name in EXPECTED_TEMPLATES}
    std = get["standard"]
    assert (std.shell_thickness_mm, std.heel_cup_depth_mm, std.length) == (3.0, 12.0, "full")
    assert 14 <= get["sport"].heel_cup_depth_mm <= 16
    assert get["sport"].arch_fill_mm < std.arch_fill_mm
    dress = get["dress"]
    assert dress.shell_thickness_mm == 2.5 and 8 <= dress.heel_cup_depth_mm <= 10
    assert dress.length == "three_quarter"
    flat = get["flat_foot"]
    assert flat.rearfoot_post_deg == 4 and flat.medial_flange_mm > 0
    assert flat.heel_cup_depth_mm == 14 and flat.arch_fill_mm == 0
    high = get["high_arch"]
    assert high.lateral_flange_mm > 0 and high.heel_cup_depth_mm == 14 and high.arch_fill_mm == 3.2
    assert high.forefoot_post_deg <= 0
    assert get["leg_length"].heel_lift_mm == 6
    pain = get["heel_pain"]
    assert pain.heel_spur_pocket is not None and pain.heel_cup_depth_mm == 14 and pain.top_cover_mm == 3


def test_load_template_keeps_other_sections(tdir):
    raw = templates_io.load_template("base", tdir)
    assert raw["geometry"] == {"anything": [1, 2, 3]}
    assert raw["defaults"]["shell_thickness_mm"] == 4


def test_unknown_template_lists_available():
    with pytest.raises(PrescriptionError) as info:
        templates_io.load_template("sprot")
    text = str(info.value)
    assert "unknown template 'sprot'" in text and "did you mean 'sport'" in text
    assert all(name in text for name in EXPECTED_TEMPLATES)
    err = error_of(None, ["template=sprot"])
    assert err.path == "--set" and str(err).count("unknown template") == 1


def test_unknown_template_in_file_names_the_file(tmp_path):
    rx_file = write(tmp_path / "rx.yaml", "template: nope\n")
    err = error_of(rx_file)
    assert err.path == str(rx_file) and "unknown template 'nope'" in err.problem


def test_malformed_template(tdir):
    write(tdir / "broken.yaml", "name: broken\ndefaults: [1, 2]\n")
    listed = dict(templates_io.list_templates(tdir))
    assert listed["broken"].startswith("(invalid template:")
    err = error_of(None, ["template=broken"], templates_dir=tdir)
    assert err.path.endswith("broken.yaml") and "defaults must be a mapping" in err.problem
    write(tdir / "bad_values.yaml", "name: bad_values\ndescription: x\ndefaults:\n  heel_lift_mm: 40\n")
    err = error_of(None, ["template=bad_values"], templates_dir=tdir)
    assert err.path.endswith("bad_values.yaml") and "heel_lift_mm = 40 is out of range" in err.problem


# --- file formats ------------------------------------------------------------------------------------

NESTED_YAML = """\
template: sport
side: right
units: mm
scan_kind: plantar_shell
foot_length_mm: 262.5
shoe_size: {system: US_men, size: 9}
length: sulcus
heel_lift_mm: 4
met_bar: {height_mm: 5}
heel_spur_pocket:
  depth_mm: 2.5
  medial_offset_mm: -3
label: "ORD #77"
"""

NESTED_TOML = """\
template = "sport"
side = "right"
units = "mm"
scan_kind = "plantar_shell"
foot_length_mm = 262.5
length = "sulcus"
heel_lift_mm = 4
label = "ORD #77"

[shoe_size]
system = "US_men"
size = 9

[met_bar]
height_mm = 5

[heel_spur_pocket]
depth_mm = 2.5
medial_offset_mm = -3
"""


def test_yaml_and_toml_load_equal(tmp_path):
    a = load_prescription(write(tmp_path / "rx.yaml", NESTED_YAML))
    b = load_prescription(write(tmp_path / "rx.toml", NESTED_TOML))
    c = load_prescription(write(tmp_path / "rx.yml", NESTED_YAML))
    assert a == b == c
    assert a.heel_spur_pocket.depth_mm == 2.5 and a.heel_spur_pocket.radius_mm == 14
    assert a.label == "ORD #77" and a.met_bar.length_mm == 20


def test_example_files_load_and_agree():
    a = load_prescription(TEMPLATES / "example_rx.yaml")
    b = load_prescription(TEMPLATES / "example_rx.toml")
    assert a == b
    assert a.warnings() == []


@pytest.mark.parametrize("example", ["example_rx.yaml", "example_rx.toml"])
def test_example_files_document_every_key(example):
    text = (TEMPLATES / example).read_text(encoding="utf-8")
    for key in Prescription.model_fields:
        assert key in text, f"{example} does not mention {key}"
    for model in NESTED_MODELS.values():
        for key in model.model_fields:
            assert key in text, f"{example} does not mention {key}"


def test_empty_yaml_file_is_all_defaults(tmp_path):
    assert load_prescription(write(tmp_path / "rx.yaml", "# nothing\n")) == load_prescription(None)


def test_missing_file(tmp_path):
    err = error_of(tmp_path / "nope.yaml")
    assert err.path == str(tmp_path / "nope.yaml") and "not found" in err.problem


def test_unsupported_extension(tmp_path):
    err = error_of(write(tmp_path / "rx.txt", "heel_lift_mm: 3\n"))
    assert "unsupported file type" in err.problem


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- 1\n- 2\n", "list"), ("just text\n", "single text value"), ("42\n", "single number")],
)
def test_file_not_a_mapping(tmp_path, text, kind):
    err = error_of(write(tmp_path / "rx.yaml", text))
    assert "must be a mapping" in err.problem and kind in err.problem


def test_yaml_syntax_error_line(tmp_path):
    rx_file = write(tmp_path / "rx.yaml", "side: left\nheel_lift_mm: 3\nmet_pad: [1, 2\nlabel: x\n")
    err = error_of(rx_file)
    assert err.path == str(rx_file)
    assert err.problem.startswith("YAML syntax error at line 4")


def test_yaml_bad_indent_line(tmp_path):
    err = error_of(write(tmp_path / "rx.yaml", "side: left\nmet_pad:\n  height_mm: 4\n width_mm: 3\n"))
    assert "line 4" in err.problem


def test_yaml_duplicate_key_line(tmp_path):
    err = error_of(write(tmp_path / "rx.yaml", "heel_lift_mm: 3\nside: left\nheel_lift_mm: 4\n"))
    assert "line 3" in err.problem and "duplicate key 'heel_lift_mm'" in err.problem


def test_toml_syntax_error_line(tmp_path):
    rx_file = write(tmp_path / "rx.toml", 'side = "left"\nheel_lift_mm = = 3\n')
    err = error_of(rx_file)
    assert err.path == str(rx_file) and err.problem.startswith("TOML syntax error at line 2")


# --- ranges ------------------------------------------------------------------------------------------

RANGES = [
    # key, low, high, unit
    ("foot_length_mm", 100, 350, "mm"),
    ("shell_thickness_mm", 1.5, 8, "mm"),
    ("top_cover_mm", 0, 6, "mm"),
    ("heel_cup_depth_mm", 0, 30, "mm"),
    ("arch_height_mm", 0, 40, "mm"),
    ("arch_fill_mm", 0, 10, "mm"),
    ("balance_inversion_deg", 0, 25, "deg"),
    ("shoe_drop_mm", 0, 40, "mm"),
    ("rearfoot_post_deg", -10, 10, "deg"),
    ("forefoot_post_deg", -10, 10, "deg"),
    ("medial_heel_skive_mm", 0, 8, "mm"),
    ("heel_lift_mm", 0, 12, "mm"),
    ("medial_flange_mm", 0, 25, "mm"),
    ("lateral_flange_mm", 0, 25, "mm"),
    ("met_pad.height_mm", 2, 8, "mm"),
    ("met_pad.length_mm", 15, 50, "mm"),
    ("met_pad.width_mm", 10, 40, "mm"),
    ("met_pad.offset_mm", 0, 30, "mm"),
    ("met_bar.height_mm", 2, 8, "mm"),
    ("met_bar.length_mm", 10, 40, "mm"),
    ("met_bar.offset_mm", 0, 30, "mm"),
    ("first_mpj_cutout.depth_mm", 1, 6, "mm"),
    ("first_mpj_cutout.radius_mm", 8, 25, "mm"),
    ("heel_spur_pocket.depth_mm", 1, 6, "mm"),
    ("heel_spur_pocket.radius_mm", 8, 25, "mm"),
    ("heel_spur_pocket.offset_mm", -20, 20, "mm"),
    ("heel_spur_pocket.medial_offset_mm", -20, 20, "mm"),
    ("mortons_extension.thickness_mm", 1, 6, "mm"),
]
# keep the cross-field rules satisfied while a key sits at its boundary
CONTEXT = {"medial_heel_skive_mm": ["heel_cup_depth_mm=14", "rearfoot_post_deg=2"]}


def _numeric_keys() -> set[str]:
    keys = set()
    models = {"": Prescription, **{f"{k}.": m for k, m in NESTED_MODELS.items() if k != "shoe_size"}}
    for prefix, model in models.items():
        for name, field in model.model_fields.items():
            if field.annotation is float or float in getattr(field.annotation, "__args__", ()):
                keys.add(prefix + name)
    return keys


def test_range_table_covers_every_numeric_key():
    assert {key for key, *_ in RANGES} == _numeric_keys()


def _get(rx: Prescription, key: str):
    value = rx
    for part in key.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("key", "low", "high", "unit"), RANGES)
def test_range_boundaries_accepted(key, low, high, unit):
    for value in (low, high):
        rx = load_prescription(None, [f"{key}={value}", *CONTEXT.get(key, [])])
        assert _get(rx, key) == value


@pytest.mark.parametrize(("key", "low", "high", "unit"), RANGES)
@pytest.mark.parametrize("side", ["below", "above"])
def test_range_just_outside_rejected(key, low, high, unit, side):
    value = round(low - 0.01, 2) if side == "below" else round(high + 0.01, 2)
    err = error_of(None, [f"{key}={value}", *CONTEXT.get(key, [])])
    assert err.path == "--set"
    assert f"{key} = {value:g} is out of range (allowed {low:g} to {high:g} {unit}" in err.problem


def test_range_message_exact(tmp_path):
    rx_file = write(tmp_path / "rx.yaml", "heel_lift_mm: 15\n")
    err = error_of(rx_file)
    assert str(err) == f"{rx_file}: heel_lift_mm = 15 is out of range (allowed 0 to 12 mm)"


def test_nullable_fields_accept_null():
    rx = load_prescription(None, ["foot_length_mm=null", "arch_height_mm=~", "label="])
    assert rx.foot_length_mm is None and rx.arch_height_mm is None and rx.label is None
    assert "or null" in error_of(None, ["arch_height_mm=41"]).problem


# --- unknown keys ------------------------------------------------------------------------------------


def test_did_you_mean_top_level(tmp_path):
    rx_file = write(tmp_path / "rx.yaml", "arch_hieght_mm: 20\n")
    err = error_of(rx_file)
    assert err.problem == "unknown key 'arch_hieght_mm' (did you mean 'arch_height_mm'?)"


def test_did_you_mean_nested(tmp_path):
    err = error_of(write(tmp_path / "rx.yaml", "met_pad:\n  hieght_mm: 5\n"))
    assert err.problem == "unknown key 'met_pad.hieght_mm' (did you mean 'met_pad.height_mm'?)"
    err = error_of(None, ["heel_spur_pocket.medial_ofset_mm=2"])
    assert "did you mean 'heel_spur_pocket.medial_offset_mm'?" in err.problem


def test_did_you_mean_nested_key_written_at_top_level():
    err = error_of(None, ["to_hallux_tip=true"])
    assert "did you mean 'mortons_extension.to_hallux_tip'?" in err.problem
    err = error_of(None, ["metpad.height_mm=5"])
    assert "unknown key 'metpad' (did you mean 'met_pad'?)" in err.problem


def test_unknown_key_without_suggestion():
    assert error_of(None, ["zzz=1"]).problem == "unknown key 'zzz'"


# --- several errors, types ---------------------------------------------------------------------------


def test_several_errors_in_one_message(tmp_path):
    rx_file = write(
        tmp_path / "rx.yaml",
        "arch_hieght_mm: 20\nheel_lift_mm: 15\nrearfoot_post_deg: abc\nside: up\nmet_pad:\n  height_mm: 9\n",
    )
    err = error_of(rx_file)
    parts = err.problem.split("; ")
    assert len(parts) == 5
    assert err.path == str(rx_file)
    for expected in (
        "unknown key 'arch_hieght_mm' (did you mean 'arch_height_mm'?)",
        "heel_lift_mm = 15 is out of range (allowed 0 to 12 mm)",
        "rearfoot_post_deg = 'abc' is not a number",
        "side = 'up' is not allowed (allowed: auto, left, right)",
        "met_pad.height_mm = 9 is out of range (allowed 2 to 8 mm)",
    ):
        assert expected in parts


def test_errors_from_file_and_overrides_are_both_reported(tmp_path):
    rx_file = write(tmp_path / "rx.yaml", "heel_lift_mm: 15\n")
    err = error_of(rx_file, ["top_cover_mm=7"])
    assert err.path == str(rx_file)
    assert "heel_lift_mm = 15 is out of range" in err.problem
    assert "--set: top_cover_mm = 7 is out of range (allowed 0 to 6 mm)" in err.problem
    only_set = error_of(write(tmp_path / "ok.yaml", "heel_lift_mm: 3\n"), ["top_cover_mm=7"])
    assert only_set.path == "--set"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("rearfoot_post_deg=abc", "rearfoot_post_deg = 'abc' is not a number"),
        ("heel_lift_mm=true", "heel_lift_mm = true is not a number"),
        ("heel_lift_mm=[1, 2]", "heel_lift_mm = [1, 2] is not a number"),
        ("heel_lift_mm=.nan", "heel_lift_mm = nan is not a finite number"),
        ("side=up", "side = 'up' is not allowed (allowed: auto, left, right)"),
        ("units=inch", "units = 'inch' is not allowed (allowed: auto, mm, cm, m)"),
        ("scan_kind=mri", "allowed: auto, full_foot, plantar_shell, impression"),
        ("length=long", "length = 'long' is not allowed (allowed: full, sulcus, metatarsal, three_quarter)"),
        (
            "mortons_extension.to_hallux_tip=maybe",
            "mortons_extension.to_hallux_tip = 'maybe' is not true or false",
        ),
        (
            "met_pad=5",
            "met_pad = 5 must be a mapping (keys height_mm, length_mm, width_mm, offset_mm) or null",
        ),
        ("shoe_size.system=FR", "shoe_size.system = 'FR' is not allowed (allowed: EU, US_men, US_women, UK"),
        ("label=Ünïcödé", "label = 'Ünïcödé' must be 1 to 24 characters of A-Z a-z 0-9 space - _ # ."),
        ("label=" + "x" * 25, "must be 1 to 24 characters"),
        ("heel_lift_mm.x=3", "'heel_lift_mm.x': heel_lift_mm is a single value, it has no sub-keys"),
        ("heel_lift_mm", "'heel_lift_mm' is not key=value"),
        (".x=1", "has an empty key"),
    ],
)
def test_wrong_values(override, expected):
    err = error_of(None, [override])
    assert err.path == "--set"
    assert expected in err.problem


def test_wrong_type_in_file(tmp_path):
    err = error_of(write(tmp_path / "rx.yaml", "template: 5\nlabel: [a]\nmet_pad: {height_mm: high}\n"))
    assert "template = 5 is not text" in err.problem
    assert 'label = ["a"] is not text' in err.problem
    assert "met_pad.height_mm = 'high' is not a number" in err.problem


def test_missing_nested_key():
    err = error_of(None, ["shoe_size.size=42"])
    assert "missing key 'shoe_size.system'" in err.problem


def test_lenient_spellings():
    rx = load_prescription(
        None, ["side=Left", "length=Three-Quarter", "shoe_size.system=eu", "shoe_size.size=42"]
    )
    assert (rx.side, rx.length, rx.shoe_size.system) == ("left", "three_quarter", "EU")
    assert load_prescription(None, ["shoe_size=US_women 8"]).shoe_size.model_dump() == {
        "system": "US_women",
        "size": 8,
    }
    assert load_prescription(None, ["shoe_size=EU42"]).shoe_size.model_dump() == {"system": "EU", "size": 42}


def test_override_values():
    rx = load_prescription(None, ["label=#12 A-b_c.d", "met_pad.height_mm=6", "heel_lift_mm=2.5"])
    assert rx.label == "#12 A-b_c.d"
    assert rx.met_pad.height_mm == 6 and rx.met_pad.width_mm == 22  # created with defaults
    assert rx.heel_lift_mm == 2.5
    assert load_prescription(None, ["mortons_extension.to_hallux_tip=true"]).mortons_extension.to_hallux_tip
    assert load_prescription(None, ["label=10234"]).label == "10234"


def test_numeric_label_in_file(tmp_path):
    assert load_prescription(write(tmp_path / "rx.yaml", "label: 10234\n")).label == "10234"


# --- cross-field rules -------------------------------------------------------------------------------


def test_skive_needs_deep_heel_cup():
    err = error_of(None, ["medial_heel_skive_mm=3", "rearfoot_post_deg=2"])
    assert "medial_heel_skive_mm" in err.problem and "heel_cup_depth_mm" in err.problem
    assert "at least 14 mm (got 12)" in err.problem
    rx = load_prescription(None, ["medial_heel_skive_mm=3", "rearfoot_post_deg=2", "heel_cup_depth_mm=14"])
    assert rx.medial_heel_skive_mm == 3 and rx.warnings() == []


def test_skive_error_source_is_the_layer_that_set_it(tmp_path):
    rx_file = write(tmp_path / "rx.yaml", "side: left\n")
    assert error_of(rx_file, ["medial_heel_skive_mm=3"]).path == "--set"
    rx_file = write(tmp_path / "rx2.yaml", "medial_heel_skive_mm: 3\n")
    assert error_of(rx_file).path == str(rx_file)


def test_met_pad_and_met_bar_exclusive():
    err = error_of(None, ["met_pad={}", "met_bar={}"])
    assert "met_pad and met_bar cannot both be used" in err.problem


def test_first_mpj_cutout_and_mortons_extension_exclusive():
    err = error_of(None, ["first_mpj_cutout={}", "mortons_extension={}"])
    assert "first_mpj_cutout and mortons_extension" in err.problem


@pytest.mark.parametrize("length", ["metatarsal", "three_quarter"])
def test_short_shell_rules(length):
    err = error_of(None, [f"length={length}", "mortons_extension={}"])
    assert f"mortons_extension lies under the 1st MPJ, beyond a length {length} shell" in err.problem
    # the short shell ends 6 mm behind the met heads and is skived over the 12 mm behind that: a pad
    # or bar closer to the met heads than 18 mm would be pared away by the skive
    err = error_of(None, [f"length={length}", "met_pad.offset_mm=8"])
    problem = f"met_pad.offset_mm = 8 puts its distal edge in the skive of a length {length} shell"
    assert problem in err.problem
    assert "use length sulcus or full" in err.problem and "offset_mm of at least 18" in err.problem
    err = error_of(None, [f"length={length}", "met_bar.offset_mm=17.5"])
    assert "met_bar.offset_mm = 17.5" in err.problem
    rx = load_prescription(None, [f"length={length}", "met_pad.offset_mm=18"])
    assert rx.met_pad.offset_mm == 18


def test_mortons_to_hallux_tip_needs_full_length():
    err = error_of(None, ["length=sulcus", "mortons_extension.to_hallux_tip=true"])
    assert "use length full" in err.problem
    assert load_prescription(None, ["length=sulcus", "mortons_extension={}"]).mortons_extension
    assert load_prescription(None, ["mortons_extension.to_hallux_tip=true"]).mortons_extension


def test_several_cross_field_errors_together():
    err = error_of(
        None, ["length=metatarsal", "met_pad.offset_mm=20", "met_bar.offset_mm=20", "mortons_extension={}"]
    )
    assert err.problem.count("; ") == 1
    assert "met_pad and met_bar" in err.problem and "mortons_extension lies" in err.problem


def test_cross_field_rules_apply_to_direct_construction():
    with pytest.raises(pydantic.ValidationError):
        Prescription(medial_heel_skive_mm=3)
    with pytest.raises(PrescriptionError) as info:
        validate_prescription({"medial_heel_skive_mm": 3})
    assert "heel_cup_depth_mm" in str(info.value)


# --- warnings ----------------------------------------------------------------------------------------


def test_heel_lift_warning():
    assert load_prescription(None, ["heel_lift_mm=6"]).warnings() == []
    warnings = load_prescription(None, ["heel_lift_mm=6.5"]).warnings()
    assert len(warnings) == 1 and warnings[0].startswith("heel_lift_mm = 6.5 is above")


def test_skive_without_post_warning():
    warnings = load_prescription(None, ["medial_heel_skive_mm=3", "heel_cup_depth_mm=14"]).warnings()
    assert len(warnings) == 1 and "without a rearfoot post" in warnings[0]
    warnings = load_prescription(
        None, ["medial_heel_skive_mm=3", "heel_cup_depth_mm=14", "rearfoot_post_deg=-2"]
    ).warnings()
    assert "valgus rearfoot post" in warnings[0]


def test_forefoot_post_with_short_shell_warning():
    assert load_prescription(None, ["forefoot_post_deg=3"]).warnings() == []
    warnings = load_prescription(None, ["forefoot_post_deg=3", "length=metatarsal"]).warnings()
    assert len(warnings) == 1 and "forefoot_post_deg = 3 with length metatarsal" in warnings[0]


def test_other_warnings():
    rx = load_prescription(
        None,
        [
            "rearfoot_post_deg=9",
            "medial_heel_skive_mm=7",
            "heel_cup_depth_mm=14",
            "length=metatarsal",
            "first_mpj_cutout={}",
            "foot_length_mm=300",
            "shoe_size=EU 42",
        ],
    )
    text = " | ".join(rx.warnings())
    assert "rearfoot_post_deg = 9 is beyond the usual" in text
    assert "medial_heel_skive_mm = 7 is extreme" in text
    assert "first_mpj_cutout has no effect" in text
    assert "disagrees with shoe_size EU 42" in text
    assert all("\n" not in w for w in rx.warnings())


# --- shoe sizes --------------------------------------------------------------------------------------


def test_shoe_size_conversion():
    assert math.isclose(shoe_size_to_foot_length_mm("EU", 42), (42 - 2) / 1.5 * 10)
    assert math.isclose(shoe_size_to_foot_length_mm("EU", 42), 266.67, abs_tol=0.01)
    assert math.isclose(shoe_size_to_foot_length_mm("US_men", 9), (9 + 22) / 3 * 25.4)
    assert math.isclose(shoe_size_to_foot_length_mm("US_women", 8), (8 + 21) / 3 * 25.4)
    assert math.isclose(shoe_size_to_foot_length_mm("UK", 8), (8 + 23) / 3 * 25.4)
    assert shoe_size_to_foot_length_mm("mondopoint", 265) == 265
    # a man's US 9 and a woman's US 10 are the same foot
    assert math.isclose(shoe_size_to_foot_length_mm("US_men", 9), shoe_size_to_foot_length_mm("US_women", 10))


@pytest.mark.parametrize(("system", "size"), [("EU", 80), ("EU", 10), ("mondopoint", 99), ("UK", -20)])
def test_shoe_size_out_of_range(system, size):
    with pytest.raises(PrescriptionError, match="outside 100 to 350 mm"):
        shoe_size_to_foot_length_mm(system, size)
    err = error_of(None, [f"shoe_size.system={system}", f"shoe_size.size={size}"])
    assert f"shoe_size = {system} {size} gives a foot length of" in err.problem


def test_shoe_size_bad_system():
    with pytest.raises(PrescriptionError, match="unknown shoe size system 'FR'"):
        shoe_size_to_foot_length_mm("FR", 42)


def test_foot_length_hint():
    assert load_prescription(None).foot_length_hint_mm is None
    hint = load_prescription(None, ["shoe_size=EU 42"]).foot_length_hint_mm
    assert math.isclose(hint, 266.667, abs_tol=1e-3)
    assert load_prescription(None, ["shoe_size=EU 42", "foot_length_mm=270"]).foot_length_hint_mm == 270


# --- JSON schema -------------------------------------------------------------------------------------


def test_json_schema_file_is_up_to_date():
    assert SCHEMA_PATH == TEMPLATES / "prescription.schema.json"
    assert SCHEMA_PATH.read_text(encoding="utf-8") == json_schema_text(), (
        "run: python -c 'from orthogen.rx.model import write_json_schema; write_json_schema()'"
    )


def test_json_schema_states_units_and_ranges(tmp_path):
    path = write_json_schema(tmp_path / "schema.json")
    schema = json.loads(path.read_text(encoding="utf-8"))
    props = schema["properties"]
    assert schema["additionalProperties"] is False
    assert props["heel_lift_mm"]["minimum"] == 0 and props["heel_lift_mm"]["maximum"] == 12
    assert props["heel_lift_mm"]["unit"] == "mm" and "(mm)" in props["heel_lift_mm"]["title"]
    rearfoot = props["rearfoot_post_deg"]
    assert rearfoot["unit"] == "deg" and "varus" in rearfoot["description"]
    for name, prop in props.items():
        assert prop.get("description"), f"{name} has no description"


def test_example_yaml_is_plain_yaml():
    # the example must stay loadable by any YAML tool, not just orthogen
    assert isinstance(yaml.safe_load((TEMPLATES / "example_rx.yaml").read_text(encoding="utf-8")), dict)


def test_schema_is_valid_and_accepts_the_examples():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    yaml_data = yaml.safe_load((TEMPLATES / "example_rx.yaml").read_text(encoding="utf-8"))
    toml_data = tomllib.loads((TEMPLATES / "example_rx.toml").read_text(encoding="utf-8"))
    for data in (yaml_data, toml_data, load_prescription(None).as_applied()):
        assert list(validator.iter_errors(data)) == []
    assert list(validator.iter_errors({"heel_lift_mm": 15}))
    assert list(validator.iter_errors({"arch_hieght_mm": 1}))
