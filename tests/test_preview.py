"""The clinician preview: PNG output, determinism, panel layout, the checks with their marks, medial/lateral
on the correct sides (read from what the renderer drew where, and from the picture's pixels)."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from orthogen.device.design import Design, design_scan
from orthogen.output.preview import pair_picture, pair_png, preview_picture, preview_png, write_preview
from orthogen.rx.load import load_prescription

ROOT = Path(__file__).resolve().parents[1]
SHARED_SCANS = ROOT.parent / "shared" / "foot_scans"
BUNDLED_SCANS = ROOT / "foot_scans"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _rx():
    return load_prescription(None, ["rearfoot_post_deg=4", "heel_lift_mm=5"])


@pytest.fixture(scope="module")
def designs(tmp_path_factory) -> dict[str, Design]:
    """A left and a right device from the bundled synthetic scans (or freshly synthesised ones)."""
    out = {}
    for side, name in (("left", "synth_left_full_foot.stl"), ("right", "synth_right_plantar_shell.obj")):
        path = BUNDLED_SCANS / name
        if not path.exists():
            synth = pytest.importorskip("orthogen.synth.model")
            mesh, _ = synth.synth_scan(synth.FootSpec(side=side), kind="plantar_shell")
            path = tmp_path_factory.mktemp("scans") / f"synth_{side}.stl"
            mesh.export(path)
        out[side] = design_scan(path, _rx())
        assert out[side].foot.side == side
    return out


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _label_offsets(canvas) -> dict[tuple[str, str], tuple[float, float]]:
    """(panel, "medial"/"lateral") -> offset (dx, dy) of that label from its panel's centre, in pixels
    with y up (as on the page); also checks that the label's pixels were actually drawn (dark)."""
    img = np.asarray(canvas.image.convert("L"))
    out = {}
    for t in canvas.texts:
        if t.text not in ("medial", "lateral"):
            continue
        assert (t.panel, t.text) not in out, "one label of each per panel"
        x0, y0, x1, y1 = (round(v) for v in t.box)
        assert (img[y0:y1, x0:x1] < 80).sum() > 20, f"{t.text} on {t.panel} is not on the picture"
        pcx, pcy = canvas.panels[t.panel].centre
        cx, cy = t.centre
        out[t.panel, t.text] = (cx - pcx, pcy - cy)
    return out


def _texts(canvas, panel: str) -> list[str]:
    return [t.text for t in canvas.texts if t.panel == panel]


def test_preview_png_is_a_sensible_png_and_deterministic(designs):
    data = preview_png(designs["left"], dpi=50)
    w, h = _png_size(data)
    assert 500 <= w <= 700 and 300 <= h <= 500
    assert 5_000 < len(data) < 2_000_000
    assert preview_png(designs["left"], dpi=50) == data
    assert _png_size(preview_png(designs["left"])) == (1300, 900)


def test_preview_has_four_panels_a_colour_bar_and_its_checks(designs):
    d = designs["left"]
    pic = preview_picture(d)
    assert {"top", "profile", "heel", "checks", "colourbar"} <= set(pic.panels)
    assert "thickness (mm)" in _texts(pic, "colourbar")
    title = "\n".join(_texts(pic, "title"))
    assert Path(d.foot.path).name in title and "left foot" in title
    assert "heel lift 5 mm" in title and "all checks passed" in title
    # every clinical check is on the page with its mark, and none is marked failed
    texts = _texts(pic, "checks")
    assert "FAIL" not in texts and texts.count("pass") >= 5
    assert texts.count("pass") == sum(1 for i in d.intent.items if i.kind != "info")
    assert any(t.startswith("heel seat frontal angle") for t in texts)
    # the landmarks are drawn: five met heads numbered on the top view, heel centre and arch apex named
    assert {str(k) for k in range(1, 6)} | {"heel centre", "arch apex"} <= set(_texts(pic, "top"))
    # the thickness map is in colour inside the top view, and the colour bar spans it
    x0, y0, x1, y1 = (int(v) for v in pic.panels["top"].box)
    rgb = np.asarray(pic.image)[y0:y1, x0:x1].astype(int)
    assert (np.ptp(rgb, axis=2) > 60).mean() > 0.2


def test_a_failed_check_is_marked(designs):
    from dataclasses import replace

    from orthogen.device.verify import Intent

    d = designs["left"]
    items = list(d.intent.items)
    k = next(n for n, i in enumerate(items) if i.key.startswith("heel seat"))
    items[k] = replace(items[k], measured=items[k].prescribed + 3.0)
    pic = preview_picture(replace(d, intent=Intent(tuple(items))))
    assert _texts(pic, "checks").count("FAIL") == 1
    assert "1 checks FAILED" in "\n".join(_texts(pic, "title"))


def test_medial_label_on_the_correct_side(designs):
    # from above (y up on the page): left foot medial (-y) below, right foot medial (+y) above;
    # from behind (viewer's right is -y): left foot medial on the right, right foot medial on the left
    left = _label_offsets(preview_picture(designs["left"]))
    right = _label_offsets(preview_picture(designs["right"]))
    assert left["top", "medial"][1] < 0 < left["top", "lateral"][1]
    assert right["top", "medial"][1] > 0 > right["top", "lateral"][1]
    assert left["heel", "medial"][0] > 0 > left["heel", "lateral"][0]
    assert right["heel", "medial"][0] < 0 < right["heel", "lateral"][0]


def test_pair_picture_puts_the_left_foot_on_the_left(designs):
    pic = pair_picture(designs["right"], designs["left"])  # given in the wrong order
    assert pic.panels["top0"].centre[0] < pic.panels["top1"].centre[0]
    assert any("left foot" in t for t in _texts(pic, "top0.title"))
    assert any("right foot" in t for t in _texts(pic, "top1.title"))
    assert "thickness (mm)" in _texts(pic, "colourbar")
    # both heel sections seen from behind: medial toward the midline between the feet
    off = _label_offsets(pic)
    assert off["top0", "medial"][1] < 0 < off["top1", "medial"][1]
    assert off["heel0", "medial"][0] > 0 > off["heel1", "medial"][0]
    data = pair_png(designs["left"], designs["right"], dpi=40)
    assert _png_size(data)[0] > _png_size(data)[1]


def test_write_preview_is_atomic(designs, tmp_path):
    out = write_preview(tmp_path / "sub" / "preview.png", designs["left"])
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in out.parent.iterdir()) == ["preview.png"]


def test_preview_needs_no_matplotlib(designs, monkeypatch):
    code = "import sys, orthogen.output.preview; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    # drawn with matplotlib unavailable (its font then falls back to Pillow's own): same panels
    from orthogen.output import raster

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    raster.font.cache_clear()
    raster._font_file.cache_clear()
    try:
        pic = preview_picture(designs["left"], dpi=40)
        assert {"top", "profile", "heel", "checks"} <= set(pic.panels)
        assert _png_size(pic.png()) == (520, 360)
    finally:
        raster.font.cache_clear()
        raster._font_file.cache_clear()


@pytest.mark.skipif(not (SHARED_SCANS / "foambox" / "seraph_a_left.ply").exists(), reason="no shared scans")
def test_real_left_scan_medial_side():
    d = design_scan(SHARED_SCANS / "foambox" / "seraph_a_left.ply", _rx())
    off = _label_offsets(preview_picture(d))
    assert off["top", "medial"][1] < 0 and off["heel", "medial"][0] > 0


def test_png_holds_the_exact_pixels_and_nothing_else():
    import io

    from PIL import Image

    from orthogen.output.raster import png_rgb

    rgb = np.random.default_rng(3).integers(0, 256, (41, 67, 3)).astype(np.uint8)
    data = png_rgb(rgb)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "RGB" and im.size == (67, 41) and not im.info
        assert np.array_equal(np.asarray(im), rgb)
    assert png_rgb(rgb) == data  # no time stamp or other varying chunk


def test_check_labels_never_run_under_their_values(designs):
    """A long check name is shortened with an ellipsis so it ends before its value column."""
    pic = preview_picture(designs["left"])
    texts = [t for t in pic.texts if t.panel == "checks" and t.text not in ("pass", "FAIL", "info")]
    right = max(t.box[2] for t in texts)
    values = [t for t in texts if abs(t.box[2] - right) < 1.0]
    names = [t for t in texts if t not in values and "clinical checks" not in t.text]
    assert len(values) >= 5 and len(names) == len(values)
    for v in values:  # the name on the same row: the one overlapping it most in height
        name = max(names, key=lambda t: min(t.box[3], v.box[3]) - max(t.box[1], v.box[1]))
        assert name.box[2] < v.box[0], (name.text, v.text)
    keys = {i.key for i in designs["left"].intent.items}
    assert all(t.text in keys or t.text.endswith("…") for t in names)  # whole, or visibly shortened


def test_a_label_too_long_for_its_room_ends_in_an_ellipsis():
    from orthogen.output.preview import _fitted
    from orthogen.output.raster import Canvas

    c = Canvas(400, 100)
    text = "heel lift (heel over ball, against the balanced foot)"
    assert _fitted(c, text, 7, 1000.0) == text
    short = _fitted(c, text, 7, 80.0)
    assert short.endswith("…") and c.text_width(short, 7) <= 80.0 and text.startswith(short[:-1])
