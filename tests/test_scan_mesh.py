"""orthogen.scan.mesh: face cross products and areas, numpy's floats written out."""

from __future__ import annotations

import numpy as np


def test_face_cross_and_areas_are_numpys_floats() -> None:
    """The written-out cross product and face areas are np.cross's and np.linalg.norm's, float for float."""
    from orthogen.foot.classify import surface_area, vector_area
    from orthogen.scan.mesh import cross_rows, face_areas, face_cross, row_norms

    rng = np.random.default_rng(11)
    v = rng.normal(size=(2000, 3)) * 87.3
    f = rng.integers(0, 2000, (6000, 3))
    tri = v[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    u, w = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    assert np.array_equal(cross_rows(u, w), cross) and np.array_equal(face_cross(v, f), cross)
    assert np.array_equal(row_norms(cross), np.linalg.norm(cross, axis=1))
    assert np.array_equal(face_areas(v, f), 0.5 * np.linalg.norm(cross, axis=1))
    assert np.array_equal(vector_area(v, f), 0.5 * cross.sum(axis=0))
    assert surface_area(v, f) == float(0.5 * np.linalg.norm(cross, axis=1).sum())
