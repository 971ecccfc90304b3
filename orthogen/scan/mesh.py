"""Triangle-mesh arithmetic shared from the readers' checks to the written STL: cross products and
lengths of many 3-vectors, face by face.

Written out component by component in the order of operations of ``np.cross`` and
``np.linalg.norm(..., axis=1)``: the same floats (so outputs stay byte for byte what they were), with
less of numpy's set-up per call.
"""

from __future__ import annotations

import numpy as np


def cross_rows(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``np.cross(u, w)`` of two (m, 3) arrays, the same floats."""
    n = np.empty_like(u)
    n[:, 0] = u[:, 1] * w[:, 2] - u[:, 2] * w[:, 1]
    n[:, 1] = u[:, 2] * w[:, 0] - u[:, 0] * w[:, 2]
    n[:, 2] = u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]
    return n


def row_norms(n: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(n, axis=1)`` of an (m, 3) array, the same floats."""
    return np.sqrt((n[:, 0] * n[:, 0] + n[:, 1] * n[:, 1]) + n[:, 2] * n[:, 2])


def face_cross(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(b - a) x (c - a) of every face (m, 3): its normal times twice its area, in the units of
    ``vertices`` squared."""
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    return cross_rows(b - a, c - a)


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area of every face (m,), in the units of ``vertices`` squared."""
    return 0.5 * row_norms(face_cross(vertices, faces))
