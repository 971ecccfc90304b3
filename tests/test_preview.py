"""The clinician preview: PNG output, determinism, panel layout, medial/lateral on the correct sides."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from orthogen.device.design import Design, design_scan
from orthogen.output.preview import pair_figure, pair_png, preview_figure, preview_png, write_preview
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


def _label_offsets(fig) -> dict[tuple[int, str], tuple[float, float]]:
    """(axes index, "medial"/"lateral") -> display offset (dx, dy) of that label from the axes centre."""
    fig.set_dpi(30)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = {}
    for i, ax in enumerate(fig.axes):
        ab = ax.get_window_extent(renderer)
        for t in ax.texts:
            if t.get_text() in ("medial", "lateral"):
                assert (i, t.get_text()) not in out, "one label of each per axes"
                tb = t.get_window_extent(renderer)
                out[i, t.get_text()] = (
                    (tb.x0 + tb.x1 - ab.x0 - ab.x1) / 2,
                    (tb.y0 + tb.y1 - ab.y0 - ab.y1) / 2,
                )
    return out


def test_preview_png_is_a_sensible_png_and_deterministic(designs):
    data = preview_png(designs["left"], dpi=50)
    w, h = _png_size(data)
    assert 500 <= w <= 700 and 300 <= h <= 500
    assert 5_000 < len(data) < 2_000_000
    assert preview_png(designs["left"], dpi=50) == data


def test_preview_has_four_panels_a_colour_bar_and_its_checks(designs):
    fig = preview_figure(designs["left"])
    assert len(fig.axes) == 4
    cbars = [c for c in fig.axes[0].child_axes if c.get_ylabel() == "thickness (mm)"]
    assert len(cbars) == 1
    assert Path(designs["left"].foot.path).name in fig.get_suptitle()
    assert "left foot" in fig.get_suptitle()
    assert "heel lift 5 mm" in fig.get_suptitle()
    assert "all checks passed" in fig.get_suptitle()
    # every clinical check is on the page with its mark, and none is marked failed
    texts = [t.get_text() for t in fig.axes[3].texts]
    assert "FAIL" not in texts and texts.count("pass") >= 5
    assert any(t.startswith("heel seat frontal angle") for t in texts)
    # the landmarks are drawn: five met heads numbered on the top view
    assert {str(k) for k in range(1, 6)} <= {t.get_text() for t in fig.axes[0].texts}


def test_medial_label_on_the_correct_side(designs):
    # from above (y up on the page): left foot medial (-y) below, right foot medial (+y) above;
    # from behind (viewer's right is -y): left foot medial on the right, right foot medial on the left
    left, right = (
        _label_offsets(preview_figure(designs["left"])),
        _label_offsets(preview_figure(designs["right"])),
    )
    assert left[0, "medial"][1] < 0 < left[0, "lateral"][1]
    assert right[0, "medial"][1] > 0 > right[0, "lateral"][1]
    assert left[2, "medial"][0] > 0 > left[2, "lateral"][0]
    assert right[2, "medial"][0] < 0 < right[2, "lateral"][0]


def test_pair_figure_puts_the_left_foot_on_the_left(designs):
    fig = pair_figure(designs["right"], designs["left"])  # given in the wrong order
    main = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert len(main) == 4 and len(fig.axes) == 5
    assert "left foot" in main[0].get_title()
    assert "right foot" in main[1].get_title()
    # both heel sections seen from behind: medial toward the midline between the feet
    off = _label_offsets(fig)
    assert off[0, "medial"][1] < 0 < off[1, "medial"][1]
    assert off[2, "medial"][0] > 0 > off[3, "medial"][0]
    data = pair_png(designs["left"], designs["right"], dpi=40)
    assert _png_size(data)[0] > _png_size(data)[1]


def test_write_preview_is_atomic(designs, tmp_path):
    out = write_preview(tmp_path / "sub" / "preview.png", designs["left"])
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in out.parent.iterdir()) == ["preview.png"]


def test_import_does_not_load_matplotlib():
    code = "import sys, orthogen.output.preview; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.skipif(not (SHARED_SCANS / "foambox" / "seraph_a_left.ply").exists(), reason="no shared scans")
def test_real_left_scan_medial_side():
    d = design_scan(SHARED_SCANS / "foambox" / "seraph_a_left.ply", _rx())
    off = _label_offsets(preview_figure(d))
    assert off[0, "medial"][1] < 0 and off[2, "medial"][0] > 0
