"""Holes in the sole of a closed scan: the view from below must not reach the inside of the foot.

The bundled noisy sample (2 % of its faces cut out in round patches, one at the lateral border of
the midfoot) once gave a 50 mm lump of fill under the lateral column (181 cm³ against 83 cm³): the
z-buffer from below saw the inside of the dorsum through the hole. The device from the holed scan
is held against the device from the same foot captured whole, measured on the two meshes by ray
casting (``tests/meshprobe.py``), not read from the design.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from orthogen.device.design import design_foot
from orthogen.device.template import template_geometry
from orthogen.foot.measure_scan import MeasureOptions, measure_scan
from orthogen.rx.load import load_prescription
from orthogen.synth.model import SAMPLES

from .conftest import BUNDLED_SCANS
from .meshprobe import thickness

NAME = "synth_right_full_foot_noisy.stl"


def _device(path):
    foot = measure_scan(path, MeasureOptions())
    rx = load_prescription(None, [])
    return design_foot(foot, rx, template_geometry(rx.template))


@pytest.mark.parametrize("seed", [7, 11])
def test_a_holed_sole_makes_the_device_of_the_whole_foot(write_synth, seed):
    import trimesh

    spec, kw = SAMPLES[NAME]
    kw = {**kw, "seed": seed}
    holed_path, _ = write_synth(spec, name="holed.stl", **kw)
    whole_path, _ = write_synth(spec, name="whole.stl", **{**kw, "hole_fraction": 0.0})
    holed, whole = _device(holed_path), _device(whole_path)
    m_holed = trimesh.Trimesh(holed.vertices, holed.faces)
    m_whole = trimesh.Trimesh(whole.vertices, whole.faces)
    assert m_holed.volume < 1.15 * m_whole.volume, (m_holed.volume, m_whole.volume)
    # the top of the device over the inside of both outlines (10 mm in: clear of the walls)
    lo = np.minimum(m_holed.bounds[0], m_whole.bounds[0])
    hi = np.maximum(m_holed.bounds[1], m_whole.bounds[1])
    X, Y = np.meshgrid(np.arange(lo[0], hi[0], 2.0), np.arange(lo[1], hi[1], 2.0), indexing="ij")
    xy = np.c_[X.ravel(), Y.ravel()]
    t_holed, t_whole = thickness(m_holed, xy), thickness(m_whole, xy)
    inner = np.isfinite(t_holed) & np.isfinite(t_whole)
    inner[inner] = shapely.contains_xy(
        shapely.MultiPoint(xy[inner]).convex_hull.buffer(-10.0), xy[inner, 0], xy[inner, 1]
    )
    diff = np.abs(t_holed[inner] - t_whole[inner])
    assert inner.sum() > 2000
    assert diff.max() < 4.0, f"thickness differs by up to {diff.max():.1f} mm at {xy[inner][diff.argmax()]}"
    assert np.percentile(diff, 95) < 1.5


def test_the_bundled_noisy_sample_designs_with_the_standard_template():
    d = _device(BUNDLED_SCANS / NAME)
    import trimesh

    assert trimesh.Trimesh(d.vertices, d.faces).volume < 100_000  # mm³; 181k with the lump
