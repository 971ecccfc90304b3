"""STL reader (binary and ASCII).

Binary and ASCII are told apart by content, not by the ``solid`` prefix alone:
many binary writers start their 80-byte header with ``solid``. A file is ASCII
only if it starts with ``solid`` *and* its first 2 KB are text (binary floats
always contain control bytes); otherwise it is binary, and its size must be
exactly ``84 + 50 * n`` for the triangle count ``n`` in its header.

STL is a triangle soup, so exactly-equal vertices are merged to give a mesh with
usable topology.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orthogen.errors import ScanError

#: One binary STL record: normal, three vertices, attribute byte count (50 bytes).
BINARY_RECORD = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attr", "<u2")])
_HEADER_BYTES = 84
_VERTEX_RE = re.compile(rb"\bvertex\s+(\S+)\s+(\S+)\s+(\S+)", re.IGNORECASE)
_ENDFACET_RE = re.compile(rb"\bendfacet\b", re.IGNORECASE)


def read_stl(path: str | Path, check_faces: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Read a binary or ASCII STL file.

    Parameters
    ----------
    path : the file.
    check_faces : called with the triangle count before the triangles are read;
        raises to refuse the file (e.g. too many faces).

    Returns
    -------
    dict with ``vertices`` (n, 3) float64, ``faces`` (m, 3) int64 and ``meta``.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(_HEADER_BYTES)
        if _is_ascii_start(head) and _is_text(head + fh.read(2048)):
            fh.seek(0)
            return _read_ascii(path, fh.read(), check_faces)
        if len(head) < _HEADER_BYTES:
            raise ScanError(
                f"truncated or corrupt binary STL: {size} bytes, shorter than the 84-byte header",
                path,
            )
        count = int(np.frombuffer(head, "<u4", count=1, offset=80)[0])
        binary_size = _HEADER_BYTES + 50 * count
        if size != binary_size:
            raise ScanError(
                f"truncated or corrupt binary STL: header declares {count:,} "
                f"triangles ({binary_size:,} bytes) but the file has {size:,} bytes",
                path,
            )
        if check_faces is not None:
            check_faces(count)
        fh.seek(_HEADER_BYTES)
        body = fh.read(50 * count)
    records = np.frombuffer(body, dtype=BINARY_RECORD, count=count)
    vertices, faces = merge_soup(records["vertices"].reshape(-1, 3))
    header = head[:80].rstrip(b"\x00 ").decode("ascii", errors="replace")
    meta = {"encoding": "binary", "header": header}
    return {"vertices": vertices, "faces": faces, "meta": meta}


def merge_soup(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge exactly-equal vertices of a triangle soup.

    Parameters
    ----------
    corners : (3m, 3) float array, three consecutive rows per triangle.

    Returns
    -------
    vertices (n, 3) float64 in order of first use, faces (m, 3) int64.
    """
    corners = np.ascontiguousarray(corners) + corners.dtype.type(0.0)  # -0.0 -> 0.0
    bits = corners.view(np.uint32 if corners.dtype.itemsize == 4 else np.uint64)
    if bits.dtype == np.uint32:  # x and y in one 64-bit key: the same order, one sort pass fewer
        xy = (bits[:, 0].astype(np.uint64) << np.uint64(32)) | bits[:, 1]
        order = np.lexsort((bits[:, 2], xy))  # stable: ties keep file order
    else:
        order = np.lexsort((bits[:, 2], bits[:, 1], bits[:, 0]))
    ranked = bits[order]
    new = np.empty(len(ranked), dtype=bool)
    new[:1] = True
    np.any(ranked[1:] != ranked[:-1], axis=1, out=new[1:])
    first = order[new]  # first use of each distinct vertex
    group = np.empty(len(order), dtype=np.int64)
    group[order] = np.cumsum(new) - 1
    renumber = np.empty(len(first), dtype=np.int64)  # number vertices by first use
    renumber[np.argsort(first)] = np.arange(len(first))
    vertices = corners[np.sort(first)].astype(np.float64)
    faces = renumber[group].reshape(-1, 3)
    return vertices, faces


def _is_ascii_start(head: bytes) -> bool:
    return head.lstrip().lower().startswith(b"solid")


def _is_text(sample: bytes) -> bool:
    """True if ``sample`` has no control bytes other than tab, CR and LF."""
    codes = np.frombuffer(sample, np.uint8)
    control = ((codes < 32) & ~np.isin(codes, (9, 10, 13))) | (codes == 127)
    return not control.any()


def _read_ascii(path: Path, data: bytes, check_faces: Callable[[int], None] | None) -> dict[str, Any]:
    if b"\x00" in data:
        raise ScanError("corrupt ASCII STL: contains binary (NUL) bytes", path)
    data = data[data.find(b"\n") + 1 :] if b"\n" in data else data  # skip "solid <name>"
    n_facets = len(_ENDFACET_RE.findall(data))
    if check_faces is not None:
        check_faces(n_facets)
    triples = _VERTEX_RE.findall(data)
    if not triples:
        raise ScanError("ASCII STL has no 'vertex' lines (no triangles)", path)
    if len(triples) % 3 or len(triples) != 3 * n_facets:
        raise ScanError(
            f"truncated or corrupt ASCII STL: {n_facets:,} facets but "
            f"{len(triples):,} vertex lines (expected 3 per facet)",
            path,
        )
    try:
        corners = np.array(triples, dtype=np.float64)
    except ValueError:
        bad = next(t for tr in triples for t in tr if not _is_float(t))
        raise ScanError(
            f"non-numeric value {bad[:20].decode('ascii', 'replace')!r} in an ASCII STL vertex",
            path,
        ) from None
    vertices, faces = merge_soup(corners)
    return {"vertices": vertices, "faces": faces, "meta": {"encoding": "ascii"}}


def _is_float(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True
