"""Seraph Robotics foam-box ``.scan`` reader.

The file is XML: ``<Scan>`` holding CSV height grids ``<rawscan>``,
``<processedscan>`` and ``<postedscan>``. A grid's first line gives the steps
``step_x,step_y`` in mm (``2,0.6``: 2 mm per row along x, 0.6 mm per column
along y); the other lines are rows of z in mm. Values outside ``0 < z < 200``
(the scanner writes e.g. 295.509) mean no data.

The grid becomes a height-field mesh: valid cells of the largest 4-connected
component (dropping the reference bar at the far end and strays) are vertices
``(row * step_x, col * step_y, z)``; each grid quad with 4 valid corners gives
2 triangles, one with 3 valid corners gives 1; normals face +z (out of the box).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from orthogen.errors import ScanError

#: Heights (mm) strictly between these are data; anything else is "no data".
Z_MIN, Z_MAX = 0.0, 200.0
GRIDS = ("processedscan", "rawscan")  # read in this order of preference


def read_seraph(path: str | Path, check_faces: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Read a Seraph ``.scan`` file as a height-field triangle mesh in mm.

    Parameters
    ----------
    path : the file.
    check_faces : called with an upper bound on the face count (two per grid
        cell) before the mesh is built; raises to refuse the file.

    Returns
    -------
    dict with ``vertices`` (n, 3) float64, ``faces`` (m, 3) int64,
    ``units_hint`` ``"mm"`` and ``meta`` (grid step and shape).
    """
    path = Path(path)
    from lxml import etree  # only for .scan files

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)
    try:
        root = etree.fromstring(path.read_bytes(), parser)
    except etree.XMLSyntaxError as exc:
        raise ScanError(f"malformed .scan XML: {exc}", path) from None
    if root.tag != "Scan":
        raise ScanError(f"not a Seraph .scan file: root element is <{root.tag}>, not <Scan>", path)
    grids = (root.find(g) for g in GRIDS)
    node = next((n for n in grids if n is not None and (n.text or "").strip()), None)
    if node is None:
        raise ScanError("Seraph .scan has no <processedscan> or <rawscan> grid", path)
    steps, z = parse_grid(node.text, path)
    if check_faces is not None:
        check_faces(2 * max(z.shape[0] - 1, 0) * max(z.shape[1] - 1, 0))
    vertices, faces = grid_to_mesh(z, steps)
    if len(vertices) == 0:
        raise ScanError(f"Seraph grid has no valid heights ({Z_MIN:g} < z < {Z_MAX:g} mm)", path)
    meta = {
        "grid": node.tag,
        "grid_step_mm": [float(steps[0]), float(steps[1])],
        "grid_shape": [int(z.shape[0]), int(z.shape[1])],
    }
    return {"vertices": vertices, "faces": faces, "units_hint": "mm", "meta": meta}


def parse_grid(text: str, path: Path) -> tuple[tuple[float, float], np.ndarray]:
    """Parse a CSV grid: first line ``step_x,step_y``, then rows of z (mm)."""
    lines = [ln.strip().rstrip(",") for ln in text.strip().splitlines() if ln.strip()]
    try:
        steps = tuple(float(s) for s in lines[0].split(","))
    except ValueError:
        steps = ()
    if len(steps) != 2 or not all(np.isfinite(s) and s > 0 for s in steps):
        raise ScanError(f"Seraph grid's first line {lines[0][:30]!r} is not 'step_x,step_y'", path)
    rows = lines[1:]
    if not rows:
        raise ScanError("Seraph grid has no rows of heights", path)
    width = rows[0].count(",") + 1
    if any(r.count(",") + 1 != width for r in rows):
        raise ScanError("corrupt Seraph grid: rows have different lengths", path)
    try:
        z = np.array(",".join(rows).split(","), dtype=np.float64)
    except ValueError:
        raise ScanError("non-numeric value in the Seraph height grid", path) from None
    return (steps[0], steps[1]), z.reshape(len(rows), width)


def grid_to_mesh(z: np.ndarray, steps: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Turn a height grid into a triangle mesh (largest 4-connected valid part).

    Parameters
    ----------
    z : (rows, cols) heights in mm; values outside ``0 < z < 200`` are no data.
    steps : (step_x, step_y) mm per row and per column.

    Returns
    -------
    vertices (n, 3) float64 in row-major cell order, faces (m, 3) int64.
    """
    with np.errstate(invalid="ignore"):
        valid = (z > Z_MIN) & (z < Z_MAX)
    labels, n = ndimage.label(valid)  # default structure: 4-connectivity
    if n == 0:
        return np.empty((0, 3)), np.empty((0, 3), dtype=np.int64)
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    keep = labels == largest
    rows, cols = np.nonzero(keep)
    vertices = np.column_stack([rows * steps[0], cols * steps[1], z[rows, cols]])
    index = np.full(z.shape, -1, dtype=np.int64)
    index[rows, cols] = np.arange(len(rows))
    # Quad corners: a=(r, c), b=(r, c+1), c=(r+1, c), d=(r+1, c+1). The cycle
    # a, c, d, b is counter-clockwise seen from +z, so triangles follow it.
    a, b = index[:-1, :-1], index[:-1, 1:]
    c, d = index[1:, :-1], index[1:, 1:]
    va, vb, vc, vd = a >= 0, b >= 0, c >= 0, d >= 0
    full = va & vb & vc & vd
    three = (va.astype(int) + vb + vc + vd) == 3
    # Two triangle slots per quad, filled in quad (row-major) order.
    cases = [full, three & ~va, three & ~vb, three & ~vc, three & ~vd]
    tris = [(a, c, d), (c, d, b), (a, c, d), (a, d, b), (a, c, b)]
    first = np.select([m[..., None] for m in cases], [np.stack(t, axis=-1) for t in tris], -1)
    second = np.where(full[..., None], np.stack((a, d, b), axis=-1), -1)
    slots = np.stack([first, second], axis=2).reshape(-1, 3)
    faces = slots[slots[:, 0] >= 0]
    return vertices, faces
