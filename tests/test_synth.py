"""Tests of orthogen.synth.model: the synthetic foot model, its meshes and its ground truth."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

from orthogen.synth import model as synth
from orthogen.synth.model import FootSpec, foot_surfaces, synth_scan, write_sample_scans

ROOT = Path(__file__).resolve().parents[1]
SCALE = {"mm": 1.0, "cm": 10.0, "m": 1000.0}


def to_standard(mesh: trimesh.Trimesh, truth: dict) -> np.ndarray:
    """Mesh vertices in the standard frame, via the truth transform."""
    t = np.asarray(truth["transform"], dtype=float)
    v = np.asarray(mesh.vertices, dtype=float) * SCALE[truth["units"]]
    return v @ t[:3, :3].T + t[:3, 3]


def silhouette_measures(pts: np.ndarray, length: float) -> tuple[float, float, float]:
    """(length, ball width, heel width) of points in the standard frame (band y-extents)."""
    x, y = pts[:, 0], pts[:, 1]
    ball = (x >= 0.55 * length) & (x <= 0.85 * length)
    heel = (x >= 0.0) & (x <= 0.25 * length)
    return float(np.ptp(x)), float(np.ptp(y[ball])), float(np.ptp(y[heel]))


def boundary_edges(mesh: trimesh.Trimesh) -> np.ndarray:
    e = mesh.edges_sorted
    uniq, cnt = np.unique(e, axis=0, return_counts=True)
    return uniq[cnt == 1]


# ----------------------------------------------------------------------------- FootSpec
def test_default_spec_and_scaling() -> None:
    s = FootSpec()
    assert (s.length_mm, s.ball_width_mm, s.heel_width_mm, s.arch_height_mm) == (260.0, 100.0, 66.0, 12.0)
    assert s.side == "left" and s.toes is True
    small = FootSpec(length_mm=130)
    assert small.ball_width_mm == pytest.approx(50.0)
    assert small.heel_width_mm == pytest.approx(33.0)
    assert small.arch_height_mm == pytest.approx(6.0)
    assert FootSpec(ball_width_mm=104).ball_width_mm == 104.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"length_mm": 50},
        {"side": "both"},
        {"arch_height_mm": -1},
        {"arch_height_mm": 40},
        {"ball_width_mm": 200},
        {"heel_width_mm": 95},
    ],
)
def test_spec_validation(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        FootSpec(**kwargs)


# ----------------------------------------------------------------------------- full foot
def test_full_foot_watertight_outward() -> None:
    mesh, truth = synth_scan(FootSpec())
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0  # outward normals
    assert mesh.is_volume
    assert 20_000 <= len(mesh.faces) <= 60_000
    assert mesh.body_count == 1
    v = to_standard(mesh, truth)
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-9)  # floor
    assert v[:, 2].max() == pytest.approx(truth["leg_cut_mm"], abs=0.01)  # flat leg cap
    top = v[:, 2] > truth["leg_cut_mm"] - 1e-6
    assert top.sum() > 100  # a flat cap, not a point
    assert 700e3 < mesh.volume < 1500e3  # about a litre incl. the ankle stub


@pytest.mark.parametrize(
    "spec",
    [
        FootSpec(),
        FootSpec(side="right"),
        FootSpec(length_mm=100),
        FootSpec(length_mm=350, side="right"),
        FootSpec(toes=False),
        FootSpec(length_mm=230, ball_width_mm=112, heel_width_mm=60, arch_height_mm=25),
    ],
)
@pytest.mark.parametrize("kind", ["full_foot", "plantar_shell"])
def test_silhouette_matches_truth_and_spec(spec: FootSpec, kind: str) -> None:
    mesh, truth = synth_scan(spec, kind=kind, units="cm", rotation="random", translation=(30, -20, 5), seed=4)
    v = to_standard(mesh, truth)
    length, ball, heel = silhouette_measures(v, truth["foot_length_mm"])
    assert length == pytest.approx(truth["foot_length_mm"], abs=0.1)
    assert ball == pytest.approx(truth["ball_width_mm"], abs=0.1)
    assert heel == pytest.approx(truth["heel_width_mm"], abs=0.1)
    assert truth["ball_width_mm"] == pytest.approx(spec.ball_width_mm, abs=0.006)
    assert truth["heel_width_mm"] == pytest.approx(spec.heel_width_mm, abs=0.006)
    expected_len = spec.length_mm if spec.toes else synth.TOELESS_LENGTH * spec.length_mm
    assert truth["foot_length_mm"] == pytest.approx(expected_len, abs=0.006)
    assert v[:, 0].min() == pytest.approx(0.0, abs=1e-6)
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-6)
    assert truth["arch_height_mm"] == pytest.approx(spec.arch_height_mm, abs=0.006)


def test_width_definitions_agree() -> None:
    """Slice-wise widest width equals the band y-extent (both extremes share one x)."""
    fs = foot_surfaces(FootSpec(ball_width_mm=96, heel_width_mm=63))
    L = fs.length_mm
    for x0, x1, want in [(0.55 * L, 0.85 * L, 96.0), (0.0, 0.25 * L, 63.0)]:
        xs = np.linspace(x0, x1, 20001)
        lo, hi = fs.extent(xs)
        assert np.nanmax(hi - lo) == pytest.approx(want, abs=1e-6)
        band = fs.outline[(fs.outline[:, 0] >= x0) & (fs.outline[:, 0] <= x1)]
        assert np.ptp(band[:, 1]) == pytest.approx(want, abs=1e-6)


def test_outline_shape() -> None:
    fs = foot_surfaces(FootSpec())
    L, W = 260.0, 100.0
    o = fs.outline
    tip = o[np.argmax(o[:, 0])]
    assert tip[0] == pytest.approx(L)
    lo, _ = fs.extent(np.array([0.63 * L]))
    medial_border = lo[0]  # left foot: medial is -y
    frac = (tip[1] - medial_border) / W
    assert 0.25 <= frac <= 0.35  # toe tip shifted medially
    assert fs.landmarks["mtp1_medial"][0] == pytest.approx(0.72 * L)
    assert fs.landmarks["mtp5_lateral"][0] == pytest.approx(0.63 * L)
    # counter-clockwise polygon
    x, y = o[:, 0], o[:, 1]
    assert 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
    right = foot_surfaces(FootSpec(side="right")).outline
    assert 0.5 * np.sum(right[:, 0] * np.roll(right[:, 1], -1) - np.roll(right[:, 0], -1) * right[:, 1]) > 0


# ----------------------------------------------------------------------------- plantar shell
def test_plantar_shell_open_and_facing_down() -> None:
    mesh, truth = synth_scan(FootSpec(side="right"), kind="plantar_shell", rotation="random", seed=2)
    assert not mesh.is_watertight
    assert mesh.is_winding_consistent
    v = to_standard(mesh, truth)
    be = boundary_edges(mesh)
    assert len(be) > 100
    assert np.allclose(v[np.unique(be), 2], synth.SHELL_CROP_MM, atol=1e-6)  # cropped flat
    assert v[:, 2].max() == pytest.approx(synth.SHELL_CROP_MM, abs=1e-6)
    # sole faces (away from the rounded edge) face -z in the standard frame
    tri = v[mesh.faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    c = tri.mean(axis=1)
    fs = foot_surfaces(truth_spec(truth))
    inner = fs.contains(c[:, 0], c[:, 1]) & (fs.distance_to_outline(c[:, 0], c[:, 1]) > 7.0)
    above = c[:, 2] - fs.plantar_height(c[:, 0], c[:, 1])
    sole = inner & (np.abs(above) < 1.0)
    assert sole.sum() > 8000
    assert np.all(n[sole, 2] < 0)
    # the toe dorsum lies below the crop height, so the shell keeps it (facing up)
    assert np.all(n[inner & (above > 5.0), 2] > 0)


def truth_spec(truth: dict) -> FootSpec:
    return FootSpec(**truth["spec"])


# ----------------------------------------------------------------------------- impression
def test_impression_is_height_field() -> None:
    spec = FootSpec()
    mesh, truth = synth_scan(spec, kind="impression", spikes=True, seed=5)
    v = to_standard(mesh, truth)
    xy = np.round(v[:, :2], 6)
    assert len(np.unique(xy, axis=0)) == len(v)  # one z per (x, y)
    tri = v[mesh.faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert np.all(n[:, 2] > 0)  # every face seen from +z: a height field opening up
    assert np.allclose(np.diff(np.unique(xy[:, 0])), synth.IMPRESSION_STEP_MM)
    # rim flat at 35 mm, spikes 30-80 mm above it, floor = the sole
    spikes = v[:, 2] > synth.RIM_HEIGHT_MM + 1e-6
    assert spikes.sum() == truth["spike_count"]
    assert 24 <= truth["spike_count"] <= 48
    up = v[spikes, 2] - synth.RIM_HEIGHT_MM
    assert up.min() >= 30 and up.max() <= 80
    assert v[:, 2].min() == pytest.approx(0.0, abs=0.01)
    fs = foot_surfaces(spec)
    inside = fs.contains(v[:, 0], v[:, 1])
    assert np.allclose(v[inside, 2], np.minimum(35.0, fs.plantar_height(v[inside, 0], v[inside, 1])))
    assert np.all(v[~inside & ~spikes, 2] == synth.RIM_HEIGHT_MM)
    # rectangle ~30 mm larger than the outline
    ext = np.ptp(v[:, :2], axis=0)
    assert ext[0] == pytest.approx(260 + 30, abs=2)
    # cavity footprint matches the truth to the grid step
    cav = v[v[:, 2] < synth.RIM_HEIGHT_MM - 1e-6]
    length, ball, heel = silhouette_measures(cav, truth["foot_length_mm"])
    assert length == pytest.approx(truth["foot_length_mm"], abs=1.01)
    assert ball == pytest.approx(truth["ball_width_mm"], abs=2.01)
    assert heel == pytest.approx(truth["heel_width_mm"], abs=2.01)


def test_impression_upside_down() -> None:
    mesh, truth = synth_scan(FootSpec(), kind="impression", upside_down=True, translation=(0, 0, 50))
    f = np.asarray(mesh.vertices)[mesh.faces]
    n = np.cross(f[:, 1] - f[:, 0], f[:, 2] - f[:, 0])
    assert np.all(n[:, 2] < 0)  # opening toward -z in the file
    z = np.asarray(mesh.vertices)[:, 2]
    assert z.max() == pytest.approx(50.0, abs=0.01)  # the sole's lowest point, now on top
    assert z.min() == pytest.approx(50.0 - synth.RIM_HEIGHT_MM)  # the foam top, now lowest
    v = to_standard(mesh, truth)
    assert np.isclose(v[:, 2].max(), synth.RIM_HEIGHT_MM)
    assert np.linalg.det(np.asarray(truth["transform"])[:3, :3]) == pytest.approx(1.0)


def test_spikes_only_for_impressions() -> None:
    with pytest.raises(ValueError):
        synth_scan(kind="full_foot", spikes=True)


# ----------------------------------------------------------------------------- arch / prints
@pytest.mark.parametrize("h", [0.0, 3.0, 12.0, 18.5, 22.0, 28.0])
def test_arch_truth_equals_spec(h: float) -> None:
    spec = FootSpec(arch_height_mm=h)
    truth = synth_scan(spec)[1]
    assert truth["arch_height_mm"] == pytest.approx(h, abs=1e-9)
    # independent check through the public model on its own grid
    fs = foot_surfaces(spec)
    L = fs.length_mm
    xs, ys = np.meshgrid(np.arange(0.30 * L, 0.62 * L, 0.5), np.arange(-60.0, 60.0, 0.5), indexing="ij")
    x, y = xs.ravel(), ys.ravel()
    lo, hi = fs.extent(x)
    reg = fs.contains(x, y) & (y < 0.5 * (lo + hi)) & (fs.distance_to_outline(x, y) >= 8.0)
    assert np.nanmax(fs.plantar_height(x[reg], y[reg])) == pytest.approx(h, abs=1e-9)


def test_arch_plateau_and_edge() -> None:
    fs = foot_surfaces(FootSpec())
    L = 260.0
    # a >= 20 mm plateau at exactly 12 mm inside [0.35 L, 0.55 L], 9 mm inside the medial border
    xs = np.arange(0.35 * L, 0.55 * L, 0.25)
    lo, _ = fs.extent(xs)
    h = fs.plantar_height(xs, lo + 9.0)
    assert np.sum(h == 12.0) * 0.25 >= 20.0
    # heel pad and ball are on the floor; the rounded edge rises to 6 mm at the outline
    assert fs.plantar_height(np.array([40.0]), np.array([0.0]))[0] == 0.0
    assert fs.plantar_height(np.array([0.7 * L]), np.array([0.0]))[0] == 0.0
    lo, hi = fs.extent(np.array([0.2 * L]))
    assert fs.plantar_height(np.array([0.2 * L]), hi)[0] == pytest.approx(6.0, abs=1e-6)
    assert fs.plantar_height(np.array([0.2 * L]), hi - 6.5)[0] == 0.0
    # everything >= 0 and the dorsum above the sole
    x, y = np.meshgrid(np.linspace(0, L, 300), np.linspace(-50, 55, 120), indexing="ij")
    inside = fs.contains(x, y)
    hp = fs.plantar_height(x[inside], y[inside])
    hd = fs.dorsum_height(x[inside], y[inside])
    assert hp.min() >= 0.0
    assert np.all(hd >= hp)
    midfoot = (x[inside] > 0.42 * L) & (x[inside] < 0.55 * L)
    assert 65 <= hd[midfoot].max() <= 85
    toes = x[inside] > 0.9 * L
    assert 12 <= hd[toes].max() <= 30


def independent_arch_index(spec: FootSpec, g: float = 0.5) -> float:
    fs = foot_surfaces(spec)
    L = fs.length_mm
    x, y = np.meshgrid(np.arange(g / 2, L, g), np.arange(-70 + g / 2, 70, g), indexing="ij")
    x, y = x.ravel(), y.ravel()
    inside = fs.contains(x, y)
    x, y = x[inside], y[inside]
    pr = fs.plantar_height(x, y) <= 3.0
    px = x[pr]
    x0, xs = px.min(), 0.78 * L
    px = px[px <= xs]
    k = np.clip(((px - x0) // ((xs - x0) / 3)).astype(int), 0, 2)
    c = np.bincount(k, minlength=3)
    return float(c[1] / c.sum())


def test_arch_index_bands() -> None:
    flat = synth_scan(FootSpec(arch_height_mm=3))[1]
    normal = synth_scan(FootSpec())[1]
    high = synth_scan(FootSpec(arch_height_mm=22))[1]
    assert flat["arch_index"] >= 0.26
    assert 0.21 <= normal["arch_index"] <= 0.26
    assert normal["arch_index"] == pytest.approx(0.23, abs=0.01)
    assert high["arch_index"] <= 0.21
    assert flat["chippaux_smirak_index"] > normal["chippaux_smirak_index"] > high["chippaux_smirak_index"]
    for spec, truth in [(FootSpec(arch_height_mm=3), flat), (FootSpec(), normal)]:
        assert independent_arch_index(spec) == pytest.approx(truth["arch_index"], abs=0.006)


# ----------------------------------------------------------------------------- mirror, units, rotation
def test_right_is_mirror_of_left() -> None:
    ml, tl = synth_scan(FootSpec(side="left"))
    mr, tr = synth_scan(FootSpec(side="right"))
    vl, vr = np.asarray(ml.vertices), np.asarray(mr.vertices)
    assert np.array_equal(vr, vl * [1, -1, 1])
    assert np.array_equal(np.asarray(mr.faces), np.asarray(ml.faces)[:, ::-1])
    assert mr.volume == pytest.approx(ml.volume)
    for key in ("foot_length_mm", "ball_width_mm", "heel_width_mm", "arch_height_mm", "arch_index"):
        assert tl[key] == tr[key]
    fl, fr = foot_surfaces(FootSpec()), foot_surfaces(FootSpec(side="right"))
    x = np.linspace(0, 260, 50)
    y = np.linspace(-40, 40, 50)
    assert np.allclose(fl.plantar_height(x, y), fr.plantar_height(x, -y), equal_nan=True)
    assert fr.landmarks["mtp1_medial"][1] > 0 > fl.landmarks["mtp1_medial"][1]


def test_units_scaling() -> None:
    mm = np.asarray(synth_scan(units="mm", translation=(1, 2, 3))[0].vertices)
    cm = np.asarray(synth_scan(units="cm", translation=(1, 2, 3))[0].vertices)
    m = np.asarray(synth_scan(units="m", translation=(1, 2, 3))[0].vertices)
    assert np.allclose(cm * 10, mm)
    assert np.allclose(m * 1000, mm)
    with pytest.raises(ValueError):
        synth_scan(units="inch")


def test_rotation_is_proper() -> None:
    for seed in range(5):
        mesh, truth = synth_scan(rotation="random", seed=seed)
        t = np.asarray(truth["transform"])
        assert np.linalg.det(t[:3, :3]) == pytest.approx(1.0)
        assert np.allclose(t[:3, :3] @ t[:3, :3].T, np.eye(3), atol=1e-9)
        assert mesh.volume > 0  # still outward
    mirror = np.diag([1.0, -1.0, 1.0])
    with pytest.raises(ValueError):
        synth_scan(rotation=mirror)
    with pytest.raises(ValueError):
        synth_scan(rotation=np.eye(3) * 2)
    a = synth_scan(rotation="random", seed=1)[1]["transform"]
    b = synth_scan(rotation="random", seed=2)[1]["transform"]
    assert a != b


def test_transform_round_trip() -> None:
    rot = synth._yaw(-90.0)
    mesh, truth = synth_scan(units="m", rotation=rot, translation=(60, 270, 1))
    v = np.asarray(mesh.vertices)
    # toes toward -y in the file: the tip has the smallest y
    assert np.argmin(v[:, 1]) == np.argmax(to_standard(mesh, truth)[:, 0])
    clean = np.asarray(synth_scan()[0].vertices)
    assert np.allclose(to_standard(mesh, truth), clean, atol=1e-9)


# ----------------------------------------------------------------------------- damage
def test_holes_and_noise() -> None:
    clean, _ = synth_scan(FootSpec(side="right"))
    holed, truth = synth_scan(FootSpec(side="right"), hole_fraction=0.02, seed=3)
    removed = 1 - len(holed.faces) / len(clean.faces)
    assert removed == pytest.approx(0.02, abs=0.002)
    assert not holed.is_watertight
    assert truth["hole_fraction"] == 0.02
    noisy, _ = synth_scan(FootSpec(side="right"), noise_mm=0.3, seed=3)
    d = np.linalg.norm(np.asarray(noisy.vertices) - np.asarray(clean.vertices), axis=1)
    assert np.sqrt(np.mean(d**2)) == pytest.approx(0.3, rel=0.05)
    # shell holes stay away from its open border: new boundary loops appear
    shell, _ = synth_scan(kind="plantar_shell")
    shell_h, _ = synth_scan(kind="plantar_shell", hole_fraction=0.03, seed=1)
    assert len(boundary_edges(shell_h)) > len(boundary_edges(shell)) + 50


def test_determinism() -> None:
    kw = {"kind": "impression", "spikes": True, "noise_mm": 0.2, "hole_fraction": 0.01, "rotation": "random"}
    a, ta = synth_scan(FootSpec(side="right"), seed=11, **kw)
    b, tb = synth_scan(FootSpec(side="right"), seed=11, **kw)
    assert np.asarray(a.vertices).tobytes() == np.asarray(b.vertices).tobytes()
    assert np.asarray(a.faces).tobytes() == np.asarray(b.faces).tobytes()
    assert json.dumps(ta) == json.dumps(tb)
    c, _ = synth_scan(FootSpec(side="right"), seed=12, **kw)
    assert np.asarray(a.vertices).tobytes() != np.asarray(c.vertices).tobytes()


def test_truth_json_serialisable_and_rounded() -> None:
    _, truth = synth_scan(FootSpec(length_mm=247.3, arch_height_mm=9.87), kind="plantar_shell")
    text = json.dumps(truth)
    back = json.loads(text)
    for key in ("foot_length_mm", "ball_width_mm", "heel_width_mm", "arch_height_mm", "arch_index"):
        assert back[key] == round(back[key], 2)
    assert back["kind"] == "plantar_shell" and back["units"] == "mm" and back["side"] == "left"
    assert np.asarray(back["transform"]).shape == (4, 4)


def test_generation_is_fast() -> None:
    spec = FootSpec(length_mm=261.0)  # not cached by other tests
    t0 = time.perf_counter()
    synth_scan(spec)
    assert time.perf_counter() - t0 < 3.0  # ~0.4 s on a laptop core; loose for slow CI


# ----------------------------------------------------------------------------- shipped samples
def test_shipped_samples_are_current(tmp_path: Path) -> None:
    written = write_sample_scans(tmp_path)
    assert sorted(p.name for p in written) == sorted(synth.SAMPLES)
    shipped = ROOT / "foot_scans"
    for p in written:
        for f in (p, p.with_name(p.name + ".truth.json")):
            assert f.stat().st_size < 3_000_000
            ref = shipped / f.name
            assert ref.exists(), f"missing {ref}; run python -m orthogen.synth foot_scans"
            assert ref.read_bytes() == f.read_bytes(), f"{ref.name} is stale; regenerate the samples"


@pytest.mark.parametrize("name", sorted(synth.SAMPLES))
def test_shipped_sample_matches_its_truth(name: str) -> None:
    path = ROOT / "foot_scans" / name
    truth = json.loads(path.with_name(name + ".truth.json").read_text())
    mesh = trimesh.load(path, process=False, force="mesh")
    v = to_standard(mesh, truth)
    if truth["kind"] == "impression":
        assert truth["spikes"]
        cavity = v[v[:, 2] < truth["rim_height_mm"] - 1e-3]
        assert np.ptp(cavity[:, 0]) == pytest.approx(truth["foot_length_mm"], abs=1.01)
    elif truth["noise_mm"]:
        assert np.ptp(v[:, 0]) == pytest.approx(truth["foot_length_mm"], abs=2.0)
    else:
        length, ball, heel = silhouette_measures(v, truth["foot_length_mm"])
        assert (length, ball, heel) == pytest.approx(
            (truth["foot_length_mm"], truth["ball_width_mm"], truth["heel_width_mm"]), abs=0.01
        )
    if name == "synth_left_full_foot.stl":
        assert truth["units"] == "m" and np.ptp(np.asarray(mesh.vertices), axis=0).max() < 1.0
        tip = np.asarray(mesh.vertices)[np.argmax(v[:, 0])]
        heel = np.asarray(mesh.vertices)[np.argmin(v[:, 0])]
        assert tip[1] < heel[1]  # toes toward -y


# ----------------------------------------------------------------------------- tilt, varus, toe spring
@pytest.mark.parametrize(
    "kwargs",
    [
        {"heel_tilt_deg": 21},
        {"heel_tilt_deg": -25},
        {"forefoot_varus_deg": 16},
        {"toe_raise_mm": -1},
        {"toe_raise_mm": 26},
        {"heel_tilt_deg": float("nan")},
    ],
)
def test_new_parameters_validated(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        FootSpec(**kwargs)


def frontal_slope(fs, x: float, medial_sign: float) -> float:
    """dz/dy of the sole across a frontal slice, medial up +, 10-20 mm inside both borders."""
    lo, hi = fs.extent(np.array([x]))
    y = np.linspace(lo[0] + 12.0, hi[0] - 12.0, 9)
    z = fs.plantar_height(np.full_like(y, x), y)
    return medial_sign * float(np.polyfit(y, z, 1)[0])


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("tilt,varus", [(8.0, 0.0), (-12.0, 0.0), (0.0, 7.0), (5.0, -9.0)])
def test_heel_tilt_and_forefoot_varus_are_exact(side: str, tilt: float, varus: float) -> None:
    spec = FootSpec(side=side, heel_tilt_deg=tilt, forefoot_varus_deg=varus)
    fs = foot_surfaces(spec)
    ms = -1.0 if side == "left" else 1.0
    L = spec.length_mm
    for x in (0.10 * L, 0.16 * L):  # heel seat: the capture's tilt
        assert frontal_slope(fs, x, ms) == pytest.approx(np.tan(np.radians(tilt)), abs=1e-9)
    # the ball between the arch's end (0.68 L) and the sulcus: the forefoot's angle
    assert frontal_slope(fs, 0.69 * L, ms) == pytest.approx(np.tan(np.radians(tilt + varus)), abs=1e-9)
    assert fs.frontal_angles == {
        "heel_seat_deg": tilt,
        "forefoot_deg": tilt + varus,
        "forefoot_to_rearfoot_deg": varus,
    }
    # the sole still rests on the floor and the full foot stays a closed solid above it
    x, y = np.meshgrid(np.linspace(0, L, 200), np.linspace(-60, 60, 100), indexing="ij")
    inside = fs.contains(x, y)
    assert fs.plantar_height(x[inside], y[inside]).min() == pytest.approx(0.0, abs=0.01)
    mesh, truth = synth_scan(spec)
    assert mesh.is_watertight and mesh.volume > 0
    assert truth["frontal_angles_deg"]["forefoot_deg"] == pytest.approx(tilt + varus)


def test_toe_raise_lifts_the_toes_only() -> None:
    flat, raised = foot_surfaces(FootSpec()), foot_surfaces(FootSpec(toe_raise_mm=10.0))
    tip = flat.anatomy["hallux_tip"]
    x = np.array([tip[0] - 0.5, 0.66 * 260, 0.3 * 260])
    y = np.array([tip[1], -20.0, 10.0])
    d = raised.plantar_height(x, y) - flat.plantar_height(x, y)
    assert d[0] == pytest.approx(10.0, abs=0.3)  # the tip stands the raise off the floor
    assert d[1] == 0.0 and d[2] == 0.0  # ball (behind the MTP line) and midfoot untouched
    assert synth_scan(FootSpec(toe_raise_mm=10.0))[0].is_watertight
    # no toes: nothing to raise
    assert np.array_equal(
        foot_surfaces(FootSpec(toes=False, toe_raise_mm=10.0)).plantar_height(x[1:], y[1:]),
        foot_surfaces(FootSpec(toes=False)).plantar_height(x[1:], y[1:]),
    )


def test_anatomy_truth_definitions() -> None:
    """The hand-marking rules (tests/fixtures/README.md) applied to the analytic model."""
    spec = FootSpec()
    fs = foot_surfaces(spec)
    a = fs.anatomy
    L, W = 260.0, 100.0
    assert a["heel_centre"] == (33.0, 0.0)  # half the heel width from the back, on the heel's centre
    # the MPJ prominences: the middle of the straight medial ball border (0.62-0.72 L), the lateral max
    assert a["mpj_1"] == pytest.approx((0.67 * L, -48.0)) and a["mpj_5"] == fs.landmarks["mtp5_lateral"]
    lo, hi = fs.extent(np.linspace(0.55 * L, 0.85 * L, 3001))
    assert lo.min() == pytest.approx(-48.0) and hi.max() == pytest.approx(52.0)
    # met heads at their prominence's x, 0.18 / 0.14 of the ball width inside the outline
    assert a["met_head_1"] == pytest.approx((0.67 * L, -48.0 + 0.18 * W))
    assert a["met_head_5"] == pytest.approx((0.63 * L, 52.0 - 0.14 * W))

    def mtp_x(y: float) -> float:  # the oblique MTP line; the sulcus crest lies 0.1 L distal of it
        return 0.72 * L - 0.09 * L * (y + 0.48 * W) / W

    # sulcus ends behind the hallux pad (between its medial edge 0.03 W and cleft 1 at 0.33 W) and the
    # 5th toe pad (between cleft 4 at 0.78 W and its edge 0.93 W); on the crest of the sulcus
    for name, frac in (("sulcus_medial", 0.18), ("sulcus_lateral", 0.855)):
        x, y = a[name]
        assert y == pytest.approx(-48.0 + frac * W)
        assert x == pytest.approx(mtp_x(y) + 0.1 * L)
        xs = np.linspace(x - 8.0, x + 8.0, 1601)
        h = fs.plantar_height(xs, np.full_like(xs, y))
        assert xs[np.argmax(h)] == pytest.approx(x, abs=0.02)  # the crest itself
    assert a["hallux_tip"] == fs.landmarks["toe_tip"]
    # the arch apex: on the line 0.2 of the width in from medial, on the dome's flat top
    x, y = a["arch_apex"]
    lo, hi = fs.extent(np.array([x]))
    assert y == pytest.approx(lo[0] + 0.2 * (hi[0] - lo[0]))
    assert fs.plantar_height(np.array([x]), np.array([y]))[0] >= 0.99 * spec.arch_height_mm
    # a right foot mirrors, a toeless one keeps the anatomy but has no hallux
    r = foot_surfaces(FootSpec(side="right")).anatomy
    assert all(r[k] == (v[0], -v[1] + 0.0) for k, v in a.items())
    t = foot_surfaces(FootSpec(toes=False)).anatomy
    assert t["hallux_tip"] is None and t["sulcus_medial"] == a["sulcus_medial"]
    # tilt, twist and toe spring move no landmark but the arch's apex (a marker reads it as captured)
    moved = foot_surfaces(FootSpec(heel_tilt_deg=9, forefoot_varus_deg=-5, toe_raise_mm=8)).anatomy
    assert all(moved[k] == v for k, v in a.items() if k != "arch_apex")
