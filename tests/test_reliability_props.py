"""Property-based reliability tests: any foot, any prescription -> a correct device or a clear refusal.

Feet are synthetic (``orthogen.synth.model``): 100-350 mm, left/right, all three scan kinds, mm/cm/m,
noise, holes, random rotation and translation, mirrored, inverted winding, STL/PLY/OBJ. Every
outcome must be either a device that

* is one closed manifold solid (read back from the STL bytes that would be written),
* sits in the standard frame (lowest point z = 0, back edge x = 0),
* is nowhere thinner than ``MIN_THICKNESS_MM`` (measured independently on a 0.5 mm grid),
* is for the right side and the right foot length, and
* matches the prescription measured back from the mesh: heel lift within 0.2 mm of the same
  design without the lift, posts within 0.5 deg of the same design unposted, heel cup rim
  within 1 mm, arch peak within 1 mm of ``arch_height_mm``;

or an :class:`~orthogen.errors.OrthogenError` whose message is one line. Nothing else may escape.

The suite runs a few examples per property (``ORTHOGEN_LONG=1`` runs many more;
``tools/reliability_table.py`` reruns them and counts outcomes).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from orthogen.device.construction import MIN_THICKNESS_MM
from orthogen.errors import OrthogenError, ScanError

LONG = bool(os.environ.get("ORTHOGEN_LONG"))
EXAMPLES = int(os.environ.get("ORTHOGEN_PROP_EXAMPLES", "0")) or (150 if LONG else 0)


def _settings(n: int):
    return settings(
        max_examples=EXAMPLES or n,
        deadline=None,
        derandomize=not LONG,
        database=None,
        print_blob=True,
        # the suite only looks for failures (a design takes ~1 s: shrinking would take minutes);
        # the long run shrinks them to a minimal example
        phases=tuple(Phase) if LONG else (Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ------------------------------------------------------------------------------------ feet
@dataclass(frozen=True)
class FootCase:
    """One synthetic scan as drawn; ``side`` is the truth after mirroring."""

    length_mm: float
    ball_ratio: float  # ball width / length
    heel_ratio: float  # heel width / ball width
    arch_mm: float
    side: str
    toes: bool
    kind: str
    units: str
    give_units: bool
    noise_mm: float
    hole_fraction: float
    translation: tuple[float, float, float]
    upside_down: bool
    spikes: bool
    mirrored: bool
    flip_winding: bool
    fmt: str
    seed: int

    @property
    def true_side(self) -> str:
        if not self.mirrored:
            return self.side
        return "right" if self.side == "left" else "left"


@st.composite
def foot_cases(draw, kinds=("full_foot", "plantar_shell", "impression")) -> FootCase:
    length = draw(st.integers(100, 350).map(float))
    kind = draw(st.sampled_from(kinds))
    units = draw(st.sampled_from(["mm", "mm", "cm", "m"]))
    return FootCase(
        length_mm=length,
        ball_ratio=draw(st.floats(0.34, 0.42)),
        heel_ratio=draw(st.floats(0.58, 0.75)),
        arch_mm=draw(st.floats(2.0, 20.0)) * length / 260.0,
        side=draw(st.sampled_from(["left", "right"])),
        toes=draw(st.booleans()) if kind != "impression" else True,
        kind=kind,
        units=units,
        give_units=units == "cm" and draw(st.booleans()),
        noise_mm=draw(st.sampled_from([0.0, 0.0, 0.2, 0.5])),
        hole_fraction=draw(st.sampled_from([0.0, 0.0, 0.02, 0.05])) if kind != "impression" else 0.0,
        translation=tuple(draw(st.floats(-1000.0, 1000.0)) for _ in range(3)),
        upside_down=draw(st.booleans()),
        spikes=kind == "impression" and draw(st.booleans()),
        mirrored=draw(st.booleans()),
        flip_winding=draw(st.booleans()),
        fmt=draw(st.sampled_from(["stl", "stl", "ply", "obj"])),
        seed=draw(st.integers(0, 2**16)),
    )


def write_scan(case: FootCase, folder: Path) -> Path:
    """Make the scan ``case`` describes and write it to ``folder``; return its path."""
    from orthogen.synth.model import FootSpec, synth_scan

    spec = FootSpec(
        length_mm=case.length_mm,
        ball_width_mm=case.ball_ratio * case.length_mm,
        heel_width_mm=case.heel_ratio * case.ball_ratio * case.length_mm,
        arch_height_mm=case.arch_mm,
        side=case.side,
        toes=case.toes,
    )
    mesh, _ = synth_scan(
        spec,
        kind=case.kind,
        units=case.units,
        noise_mm=case.noise_mm,
        hole_fraction=case.hole_fraction,
        rotation="random",
        translation=np.array(case.translation),
        upside_down=case.upside_down,
        spikes=case.spikes,
        seed=case.seed,
    )
    if case.mirrored:  # mirror in the file frame and keep the normals outward
        mesh.vertices = mesh.vertices * np.array([-1.0, 1.0, 1.0])
        mesh.faces = mesh.faces[:, ::-1]
    if case.flip_winding:  # a scanner that writes inward normals
        mesh.faces = mesh.faces[:, ::-1]
    path = folder / f"foot.{case.fmt}"
    mesh.export(path)
    return path


def measure_case(case: FootCase, rx=None):
    """Write the scan and measure it with the options a user would give (``--units cm`` if drawn)."""
    from orthogen.device.design import measure_options_from_rx
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan
    from orthogen.rx.load import load_prescription

    rx = rx or load_prescription(None, [])
    with tempfile.TemporaryDirectory() as d:
        path = write_scan(case, Path(d))
        opts = MeasureOptions(units="cm" if case.give_units else None)
        return measure_scan(path, measure_options_from_rx(rx, opts))


# ------------------------------------------------------------------------------------ prescriptions
TEMPLATES = ["standard", "sport", "dress", "flat_foot", "high_arch", "leg_length", "heel_pain"]
ACCOMMODATIONS = {
    "met_pad": lambda d: [
        f"met_pad.height_mm={d(st.floats(2, 8)):.2f}",
        f"met_pad.offset_mm={d(st.floats(5, 30)):.1f}",
    ],
    "met_bar": lambda d: [
        f"met_bar.height_mm={d(st.floats(2, 8)):.2f}",
        f"met_bar.offset_mm={d(st.floats(5, 30)):.1f}",
    ],
    "first_mpj_cutout": lambda d: [f"first_mpj_cutout.depth_mm={d(st.floats(1, 2)):.2f}"],
    "heel_spur_pocket": lambda d: [
        f"heel_spur_pocket.depth_mm={d(st.floats(1, 2)):.2f}",
        f"heel_spur_pocket.offset_mm={d(st.floats(-20, 20)):.1f}",
        f"heel_spur_pocket.medial_offset_mm={d(st.floats(-20, 20)):.1f}",
    ],
    "mortons_extension": lambda d: [f"mortons_extension.thickness_mm={d(st.floats(1, 6)):.2f}"],
}


def _r(x: float, nd: int = 2) -> str:
    return f"{round(x, nd):g}"


@st.composite
def rx_sets(draw, lift=None, rearfoot=None, forefoot=None) -> list[str]:
    """``--set`` overrides of a valid prescription (every key explicit; template defaults dropped)."""
    template = draw(st.sampled_from(TEMPLATES))
    length = draw(st.sampled_from(["full", "full", "sulcus", "metatarsal", "three_quarter"]))
    cup = draw(st.floats(0, 30))
    skive = draw(st.sampled_from([0.0, 0.0, 3.0, 6.0])) if cup >= 14 else 0.0
    sets = [
        f"template={template}",
        f"length={length}",
        f"shell_thickness_mm={_r(draw(st.floats(1.5, 8)))}",
        f"top_cover_mm={_r(draw(st.sampled_from([0.0, 0.0, 1.5, 3.0, 6.0])))}",
        f"heel_cup_depth_mm={_r(cup)}",
        f"arch_fill_mm={_r(draw(st.floats(0, 10)))}",
        f"medial_heel_skive_mm={_r(skive)}",
        f"heel_lift_mm={_r(draw(st.floats(0, 12)) if lift is None else lift)}",
        f"rearfoot_post_deg={_r(draw(st.floats(-10, 10)) if rearfoot is None else rearfoot)}",
        f"forefoot_post_deg={_r(draw(st.floats(-10, 10)) if forefoot is None else forefoot)}",
        f"medial_flange_mm={_r(draw(st.sampled_from([0.0, 0.0, 8.0, 25.0])))}",
        f"lateral_flange_mm={_r(draw(st.sampled_from([0.0, 0.0, 8.0, 25.0])))}",
    ]
    arch = draw(st.one_of(st.none(), st.none(), st.floats(8, 30), st.floats(0, 40)))
    sets.append(f"arch_height_mm={'null' if arch is None else _r(arch)}")
    for name in ACCOMMODATIONS:
        sets.append(f"{name}=false")
    choices = ["met_pad", "met_bar", "first_mpj_cutout", "heel_spur_pocket"]
    if length in ("full", "sulcus"):
        choices.append("mortons_extension")
    acc = draw(st.one_of(st.none(), st.sampled_from(choices)))
    if acc is not None:
        sets += ACCOMMODATIONS[acc](draw)
    if draw(st.booleans()):
        sets.append(f"label={draw(st.from_regex(r'[A-Z_]{1,3}-?[0-9A-Z]{1,5}', fullmatch=True))}")
    return sets


def load_rx(sets: list[str]):
    from orthogen.rx.load import load_prescription

    return load_prescription(None, sets)


def replaced(sets: list[str], **values) -> list[str]:
    """The same overrides with some keys replaced."""
    out = [s for s in sets if s.split("=", 1)[0] not in values]
    return out + [f"{k}={v}" for k, v in values.items()]


# ------------------------------------------------------------------------------------ checks
@dataclass
class Outcome:
    kind: str  # "device", "refused", "bug"
    detail: str = ""
    problems: list[str] = field(default_factory=list)


def read_back(stl: bytes):
    """Vertices and faces of an STL as a slicer sees them: float32, exactly-equal corners merged."""
    from orthogen.scan.stl import BINARY_RECORD, merge_soup

    count = int(np.frombuffer(stl, "<u4", count=1, offset=80)[0])
    assert len(stl) == 84 + 50 * count
    rec = np.frombuffer(stl, dtype=BINARY_RECORD, count=count, offset=84)
    return merge_soup(rec["vertices"].reshape(-1, 3))


def device_problems(design, case: FootCase | None) -> list[str]:
    """Everything wrong with a finished design, read back from its output bytes."""
    import manifold3d
    import trimesh
    from scipy import ndimage

    from orthogen.foot.heightmap import Grid, envelopes
    from orthogen.output.export import stl_bytes

    problems: list[str] = []
    v, f = read_back(stl_bytes(design.vertices, design.faces))
    tm = trimesh.Trimesh(v, f, process=False)
    if not tm.is_watertight:
        problems.append("output STL is not watertight")
    if not tm.is_winding_consistent:
        problems.append("output STL winding is inconsistent")
    man = manifold3d.Manifold(
        manifold3d.Mesh(vert_properties=v.astype(np.float32), tri_verts=f.astype(np.uint32))
    )
    if man.status() != manifold3d.Error.NoError:
        problems.append(f"output STL is not manifold ({man.status().name})")
    elif len(man.decompose()) != 1:
        problems.append(f"output STL has {len(man.decompose())} bodies")
    elif not man.volume() > 0:
        problems.append(f"output volume {man.volume():.0f} mm3 is not positive (inside out)")
    if v[:, 2].min() != 0.0:
        problems.append(f"lowest point z = {v[:, 2].min():.4f}, not 0")
    if abs(v[:, 0].min()) > 1e-4:
        problems.append(f"back edge x = {v[:, 0].min():.4f}, not 0")
    # thickness on a 0.5 mm grid offset from the design grid (the outermost cell skipped)
    g = Grid.covering(v[:, :2].min(axis=0) + 0.173, v[:, :2].max(axis=0), 0.5, margin=1.0)
    bot, top = envelopes(v, f, g)
    inner = ndimage.binary_erosion(np.isfinite(top) & np.isfinite(bot), iterations=2)
    thick = np.where(inner, top - bot, np.nan)
    if np.isfinite(thick).any() and np.nanmin(thick) < MIN_THICKNESS_MM - 0.05:
        i = np.unravel_index(np.nanargmin(thick), thick.shape)
        x, y = g.axes()
        problems.append(
            f"thinnest point {np.nanmin(thick):.2f} mm < {MIN_THICKNESS_MM:g} mm "
            f"at x={x[i[0]]:.1f}, y={y[i[1]]:.1f}"
        )
    c = design.checks
    if not c.min_thickness_mm >= MIN_THICKNESS_MM - 0.05:
        problems.append(f"checks.min_thickness_mm {c.min_thickness_mm:.2f} < {MIN_THICKNESS_MM:g}")
    rx = design.prescription
    foot = design.foot
    if case is not None:
        if foot.side != case.true_side:
            problems.append(f"designed for a {foot.side} foot, the scan is a {case.true_side} foot")
        truth = case.length_mm * (1.0 if case.toes else 0.8)
        L = foot.measurements.foot_length_mm
        if abs(L - truth) > 2.0 + 0.02 * truth:
            problems.append(f"foot length measured {L:.1f} mm, truth {truth:.1f} mm")
    problems += [f"{i.key} failed: {i.measured} vs {i.prescribed}" for i in design.intent.failed]
    seat = measured(design, "rearfoot_post_deg")
    want = rx.balance_inversion_deg + rx.rearfoot_post_deg
    if rx.medial_heel_skive_mm == 0 and not abs(seat - want) <= 0.5:
        problems.append(f"heel seat {seat:.2f} deg against the floor, prescribed {want:g}")
    return problems


def measured(design, rx_key: str) -> float:
    """What the mesh shows for the first clinical check answering to ``rx_key``."""
    return next(i.measured for i in design.intent.items if i.rx_key == rx_key)


def dfoot(foot, rx):
    from orthogen.device.design import design_foot
    from orthogen.device.template import template_geometry

    return design_foot(foot, rx, template_geometry(rx.template))


def refusal_problems(err: OrthogenError, case: FootCase | None = None) -> list[str]:
    """Problems with a refusal: it must be one line, name the scan, and ask for --units on a cm scan."""
    msg = str(err)
    problems = []
    if "\n" in msg or not msg.strip():
        problems.append(f"refusal message is not one line: {msg!r}")
    if isinstance(err, ScanError) and err.path is None:
        problems.append(f"scan refusal does not name the file: {msg!r}")
    if case is not None and case.units == "cm" and not case.give_units and "--units" not in msg:
        problems.append(f"a cm scan without --units is refused without asking for --units: {msg!r}")
    return problems


def _fmt(case, sets) -> str:
    return f"\nfoot: {case}\nrx: {sets}"


def design_or_refusal(case: FootCase, sets: list[str]):
    """(foot, design) or raise OrthogenError; anything else propagates."""

    rx = load_rx(sets)
    foot = measure_case(case, rx)
    return foot, dfoot(foot, rx)


def refusal_kind(err: OrthogenError) -> str:
    """A refusal message with its numbers and file name taken out, for counting."""
    import re

    return re.sub(r"-?\d+(\.\d+)?", "N", err.problem)[:90]


def check_any(case: FootCase, sets: list[str]) -> list[str]:
    """Problems with the device for one foot and prescription; raises OrthogenError for a refusal."""
    _, design = design_or_refusal(case, sets)
    if case.units == "cm" and not case.give_units:
        return ["a cm scan was guessed without --units"]
    return device_problems(design, case)


def check_lift(case: FootCase, sets: list[str], lift: float) -> list[str]:
    """The heel lift measured back against the same design without it (0.2 mm)."""

    sets = replaced(sets, heel_lift_mm=_r(lift))
    foot, with_lift = design_or_refusal(case, sets)
    if with_lift.prescription.length in ("metatarsal", "three_quarter"):
        return []  # a short shell ends before the met heads the lift is read against
    without = dfoot(foot, load_rx(replaced(sets, heel_lift_mm="0")))
    got = measured(with_lift, "heel_lift_mm") - measured(without, "heel_lift_mm")
    return [] if abs(got - round(lift, 2)) <= 0.2 else [f"lift {lift:.2f} measured back as {got:.2f}"]


def check_posts(case: FootCase, sets: list[str], rf: float, ff: float) -> list[str]:
    """Rearfoot and forefoot posts measured back against the same design unposted (0.5 deg)."""

    rf, ff = round(rf, 2), round(ff, 2)
    sets = replaced(sets, rearfoot_post_deg=_r(rf), forefoot_post_deg=_r(ff))
    foot, posted = design_or_refusal(case, sets)
    flat = dfoot(foot, load_rx(replaced(sets, rearfoot_post_deg="0", forefoot_post_deg="0")))
    # the angles are against the floor, whatever the capture: the unposted device is level
    d_rf = measured(posted, "rearfoot_post_deg") - measured(flat, "rearfoot_post_deg")
    d_ff = measured(posted, "forefoot_post_deg") - measured(flat, "forefoot_post_deg")
    problems = []
    if not abs(d_rf - rf) <= 0.5:
        problems.append(f"rearfoot post {rf} measured back as {d_rf:.2f}")
    if not abs(d_ff - ff) <= 0.5:
        problems.append(f"forefoot post {ff} measured back as {d_ff:.2f}")
    return problems


def _property(check, case: FootCase, sets: list[str], **kw) -> None:
    try:
        problems = check(case, sets, **kw)
    except OrthogenError as err:
        event(f"refused: {refusal_kind(err)}")
        assert not refusal_problems(err, case), _fmt(case, sets)
        return
    event("device")
    assert not problems, f"{problems}{_fmt(case, sets)}"


# ------------------------------------------------------------------------------------ properties
@_settings(10)
@given(case=foot_cases(), sets=rx_sets())
def test_any_foot_any_prescription_gives_a_valid_device_or_a_clear_refusal(case, sets):
    _property(check_any, case, sets)


@_settings(6)
@given(case=foot_cases(), sets=rx_sets(), lift=st.floats(0.5, 12))
def test_heel_lift_is_measured_back(case, sets, lift):
    _property(check_lift, case, sets, lift=lift)


@_settings(6)
@given(case=foot_cases(), sets=rx_sets(), rf=st.floats(-10, 10), ff=st.floats(-10, 10))
def test_posts_are_measured_back(case, sets, rf, ff):
    _property(check_posts, case, sets, rf=rf, ff=ff)


@pytest.mark.parametrize("side", ["left", "right"])
def test_mirrored_scan_gives_the_mirrored_device(side):
    """A scan and its mirror image give devices that are mirror images of each other (to the grid)."""

    base = _case(length_mm=230.0, ball_ratio=0.38, heel_ratio=0.66, side=side, seed=3)
    rx = load_rx(["rearfoot_post_deg=4", "heel_lift_mm=3"])
    a = dfoot(measure_case(base, rx), rx)
    b = dfoot(measure_case(_case(**{**base.__dict__, "mirrored": True}), rx), rx)
    assert a.foot.side != b.foot.side
    for key in ("heel_lift_mm", "heel_cup_depth_mm", "arch_height_mm", "rearfoot_post_deg"):
        assert measured(a, key) == pytest.approx(measured(b, key), abs=0.3), key
    assert a.checks.volume_mm3 == pytest.approx(b.checks.volume_mm3, rel=0.01)


# ------------------------------------------------------------------------------------ regressions
# Bugs the properties found, pinned as plain examples (each was fixed after being reported).
def _case(**kw) -> FootCase:
    base = dict(
        length_mm=260.0, ball_ratio=0.375, heel_ratio=0.7, arch_mm=10.0, side="left", toes=True,
        kind="plantar_shell", units="mm", give_units=False, noise_mm=0.0, hole_fraction=0.0,
        translation=(0.0, 0.0, 0.0), upside_down=False, spikes=False, mirrored=False,
        flip_winding=False, fmt="stl", seed=0,
    )  # fmt: skip
    return FootCase(**{**base, **kw})


@pytest.mark.parametrize(
    ("kind", "length"), [("impression", 190.0), ("impression", 238.0), ("plantar_shell", 350.0)]
)
def test_open_scan_with_inverted_winding_is_not_misread(kind, length):
    """Was: an inverted impression gave a RIGHT insole 20 mm too long for a left foot; an inverted
    350 mm plantar shell was measured 279 mm long (the winding alone decided the scan kind). Each is now
    measured right (a refusal would hide a regression, so none is accepted)."""
    foot = measure_case(_case(kind=kind, length_mm=length, flip_winding=True))
    assert foot.side == "left"
    assert foot.measurements.foot_length_mm == pytest.approx(length, abs=4.0)


@pytest.mark.parametrize("length_mm", [100.0, 260.0])
def test_forefoot_post_on_a_short_shell_is_delivered(length_mm):
    """Was: a 5 deg forefoot post on a three-quarter shell turned the forefoot by 0.1-2.9 deg and the
    device passed its checks (only a warning was given)."""

    foot = measure_case(_case(length_mm=length_mm, kind="full_foot", arch_mm=0.077 * length_mm))
    sets = ["length=three_quarter", "arch_fill_mm=0"]
    flat = dfoot(foot, load_rx(sets))
    posted = dfoot(foot, load_rx([*sets, "forefoot_post_deg=5"]))  # delivered, not refused
    delta = measured(posted, "forefoot_post_deg") - measured(flat, "forefoot_post_deg")
    assert delta == pytest.approx(5.0, abs=0.5)


@pytest.mark.parametrize("label", ["KA-0", "YY-12", "_J"])
def test_engraved_label_keeps_the_written_stl_closed(label):
    """Was: glyphs touching at a point (KA, KX, KY, TY, VY, YT, YV, YY, _J) pinched the engraved solid:
    two vertices at one position, so the STL as written was not watertight though the checks passed."""

    case = _case(seed=1)
    design = dfoot(measure_case(case), load_rx([f"label={label}"]))  # engraved, not refused
    assert design.label_engraved
    assert not any("not engraved" in w for w in design.warnings)
    assert not device_problems(design, case)
