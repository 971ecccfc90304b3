"""Wavefront OBJ reader (geometry only).

Reads ``v`` and ``f`` lines; ignores texture coordinates, normals, groups and
materials. Face corners may be ``v``, ``v/vt``, ``v//vn`` or ``v/vt/vn``;
negative indices count back from the last vertex defined so far; polygons are
fan-triangulated.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orthogen.errors import ScanError
from orthogen.scan.types import check_vertex_count

# Line starts of vertex and face lines ("v" alone is a malformed vertex line).
_V_HEADS = ("v ", "v\t", "v")
_F_HEADS = ("f ", "f\t", "f")
_SLASH_RE = re.compile(r"/[^ \t\r\n]*")  # "/vt/vn" part of a face corner


def read_obj(path: str | Path, check_faces: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Read the triangle mesh of an OBJ file.

    Parameters
    ----------
    path : the file.
    check_faces : called with the number of ``f`` lines before they are parsed;
        raises to refuse the file (e.g. too many faces).

    Returns
    -------
    dict with ``vertices`` (n, 3) float64, ``faces`` (m, 3) int64 and ``meta``.
    """
    path = Path(path)
    data = path.read_bytes()
    check_vertex_count(data.count(b"\nv ") + data.startswith(b"v "), path)
    if check_faces is not None:  # a byte count first: splitting a huge file into lines costs ~20x its size
        check_faces(data.count(b"\nf ") + data.startswith(b"f "))
    if b"\x00" in data:
        raise ScanError("contains binary data, not a text OBJ file", path)
    text = data.decode("utf-8", errors="replace").replace("\\\r\n", " ").replace("\\\n", " ")
    lines = text.splitlines()
    if "#" in text:  # a comment runs to the end of its line, also after a vertex or a face
        lines = [line.split("#", 1)[0] if "#" in line else line for line in lines]
    if text[:1] in (" ", "\t") or "\n " in text or "\n\t" in text:
        lines = [line.lstrip() for line in lines]
    v_rows = [line[2:] for line in lines if line[:2] in _V_HEADS]
    f_rows = [line[2:] for line in lines if line[:2] in _F_HEADS]
    if check_faces is not None:
        check_faces(len(f_rows))
    if not v_rows and not f_rows:
        raise ScanError("could not be read as OBJ: no 'v' or 'f' lines found", path)

    v_sizes = tokens_per_row(v_rows)
    if np.any(v_sizes < 3):
        bad = v_rows[int(np.argmax(v_sizes < 3))].strip()[:40]
        raise ScanError(f"vertex with fewer than 3 coordinates: 'v {bad}'", path)
    if np.all(v_sizes == 3):
        coords = " ".join(v_rows)
    else:  # extra w or colour values: keep x, y, z
        coords = " ".join(" ".join(r.split()[:3]) for r in v_rows)
    vertices = _numbers(coords, 3 * len(v_rows), np.float64, "coordinate", path).reshape(-1, 3)

    sizes = tokens_per_row(f_rows)
    if np.any(sizes < 3):
        bad = f_rows[int(np.argmax(sizes < 3))].strip()[:40]
        raise ScanError(f"face with fewer than 3 vertices: 'f {bad}'", path)
    joined = " ".join(f_rows)
    if joined.startswith("/") or " /" in joined or "\t/" in joined:
        raise ScanError("face corner without a vertex index (e.g. '/1/1' or '//1')", path)
    corners = _SLASH_RE.sub("", joined)
    index = _numbers(corners, int(sizes.sum()), np.int64, "face index", path)
    if np.any(index == 0):
        raise ScanError(
            "face index 0: OBJ vertex indices start at 1 (was the file written counting from 0?)", path
        )
    if np.any(index < 0):  # relative to the vertices defined so far
        is_v = np.array([line[:1] == "v" for line in lines if line[:2] in _V_HEADS + _F_HEADS], dtype=bool)
        seen = np.repeat(np.cumsum(is_v)[~is_v], sizes)
        index = np.where(index < 0, seen + index + 1, index)
    # OBJ is 1-based; a too negative index becomes < 0, which load_scan reports.
    faces = fan_triangulate(index - 1, sizes)
    meta = {"polygons": len(sizes), "non_triangles": int((sizes != 3).sum())}
    return {"vertices": vertices, "faces": faces, "meta": meta}


def tokens_per_row(rows: list[str]) -> np.ndarray:
    """Number of whitespace-separated tokens in each row (vectorised over bytes)."""
    if not rows:
        return np.zeros(0, dtype=np.int64)
    buf = np.frombuffer("\n".join(rows).encode("utf-8", "replace"), dtype=np.uint8)
    newline = buf == 10
    space = newline | (buf == 32) | (buf == 9) | (buf == 13) | (buf == 11) | (buf == 12)
    starts = ~space
    starts[1:] &= space[:-1]
    row = np.cumsum(newline)
    return np.bincount(row[starts], minlength=len(rows)).astype(np.int64)


def _numbers(text: str, count: int, dtype: type, what: str, path: Path) -> np.ndarray:
    """Parse ``count`` whitespace-separated numbers, naming the first bad token."""
    if count == 0:
        return np.empty(0, dtype=dtype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            values = np.fromstring(text, dtype=dtype, sep=" ")
        if len(values) == count:
            return values
    except ValueError:
        pass
    tokens = text.split()
    if len(tokens) != count:
        raise ScanError(f"malformed {what} list: expected {count} values, found {len(tokens)}", path)
    try:
        return np.array(tokens, dtype=dtype)
    except (ValueError, OverflowError):
        pass
    for tok in tokens:
        try:
            np.array([tok], dtype=dtype)
        except (ValueError, OverflowError):
            raise ScanError(f"non-numeric or invalid {what} {tok[:20]!r}", path) from None
    raise ScanError(f"could not parse the {what}s", path)


def fan_triangulate(index: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Fan-triangulate polygons given as one flat index array.

    Parameters
    ----------
    index : flat corner indices, polygons one after another.
    sizes : corners per polygon (each >= 3).

    Returns
    -------
    (sum(sizes - 2), 3) int64 triangles ``(p0, pk, pk+1)``.
    """
    if len(sizes) == 0:
        return np.empty((0, 3), dtype=np.int64)
    if np.all(sizes == 3):
        return index.reshape(-1, 3).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    n_tri = sizes - 2
    tri_start = np.repeat(starts, n_tri)
    k = np.arange(n_tri.sum()) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri)
    tris = np.stack([index[tri_start], index[tri_start + k + 1], index[tri_start + k + 2]], axis=1)
    return tris.astype(np.int64)
