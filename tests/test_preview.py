"""Preview pictures: valid, deterministic PNGs with medial and lateral on the right sides."""

from __future__ import annotations

import pytest

from orthogen.design import design_foot
from orthogen.pipeline import measure_scan
from orthogen.prescription import load_prescription
from orthogen.preview import pair_png, preview_figure, preview_png

from .conftest import BUNDLED_SCANS


@pytest.fixture(scope="module")
def designs():
    rx = load_prescription(None, ["rearfoot_post_deg=4", "heel_lift_mm=3"])
    left = design_foot(measure_scan(BUNDLED_SCANS / "synth_left_full_foot.stl"), rx)
    right = design_foot(measure_scan(BUNDLED_SCANS / "synth_right_plantar_shell.obj"), rx)
    return left, right


def test_png_valid_and_deterministic(designs):
    a = preview_png(designs[0])
    assert a[:8] == b"\x89PNG\r\n\x1a\n" and len(a) > 20_000
    assert preview_png(designs[0]) == a


def _label_y(fig, word):
    ax = fig.axes[0]  # the top view
    for t in ax.texts:
        if t.get_text() == word:
            return ax.transData.inverted().transform(
                t.get_window_extent(fig.canvas.get_renderer()).get_points().mean(0)
            )[1]
    raise AssertionError(f"no {word!r} label")


def test_medial_label_on_the_medial_side(designs):
    left, right = designs
    fl, fr = preview_figure(left), preview_figure(right)
    assert len(fl.axes) >= 3
    # a left foot's medial side is -y, a right foot's +y
    assert _label_y(fl, "medial") < _label_y(fl, "lateral")
    assert _label_y(fr, "medial") > _label_y(fr, "lateral")


def test_pair_png(designs):
    assert pair_png(*designs)[:8] == b"\x89PNG\r\n\x1a\n"
