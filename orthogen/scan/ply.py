"""Stanford PLY reader (ASCII, binary little and big endian).

Reads the ``vertex`` element's ``x``, ``y``, ``z`` (any extra properties such as
colour, alpha or quality are skipped) and the ``face`` element's index list
(``vertex_indices`` or ``vertex_index``, any count and index type). Polygons are
fan-triangulated. Element counts are checked against the data length, and the
header's face count is checked before the data are read.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from orthogen.errors import ScanError
from orthogen.scan.obj import fan_triangulate
from orthogen.scan.types import check_vertex_count

_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
_STRUCT = {"i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I",
           "f4": "f", "f8": "d"}  # fmt: skip
_ORDER = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}
_MAX_HEADER = 1 << 20
_FACE_LISTS = ("vertex_indices", "vertex_index")


@dataclass
class _Prop:
    name: str
    dtype: str  # numpy code, e.g. "f4"; for lists the item type
    count_dtype: str | None = None  # list length type; None for a scalar


@dataclass
class _Element:
    name: str
    count: int
    props: list[_Prop] = field(default_factory=list)


#: Bytes after the declared binary data that are tolerated (a stray newline from an exporter).
_TRAILING_SLACK = 2


class _Truncated(Exception):
    """The data end before the element counts in the header say they should."""


class _BadLength(Exception):
    """A list property has a negative or non-integer length."""


def _length(k: float) -> int:
    if not np.isfinite(k) or k < 0 or k != int(k):
        raise _BadLength
    return int(k)


def read_ply(path: str | Path, check_faces: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Read the triangle mesh of a PLY file.

    Parameters
    ----------
    path : the file.
    check_faces : called with the header's face count before the data are read;
        raises to refuse the file (e.g. too many faces).

    Returns
    -------
    dict with ``vertices`` (n, 3) float64, ``faces`` (m, 3) int64 and ``meta``.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(_MAX_HEADER)
        fmt, elements, comments, start = _parse_header(head, path)
        face_el = next((e for e in elements if e.name == "face"), None)
        vert_el = next((e for e in elements if e.name == "vertex"), None)
        if check_faces is not None and face_el is not None:
            check_faces(face_el.count)
        if vert_el is not None:
            check_vertex_count(vert_el.count, path)
        body = head[start:] + fh.read()
    counts = ", ".join(f"{e.count:,} {e.name}" for e in elements)
    try:
        if fmt == "ascii":
            data = _read_ascii(body, elements, path)
        else:
            data = _read_binary(body, elements, _ORDER[fmt])
    except _Truncated:
        raise ScanError(f"truncated PLY: the header declares {counts} but the data end early", path) from None
    except _BadLength:
        raise ScanError("corrupt PLY: a list has a negative or non-integer length", path) from None
    extra = data.pop("_trailing", 0)
    if extra and _wanted(elements) == elements:
        unit = "bytes" if fmt != "ascii" else "values"
        raise ScanError(
            f"damaged PLY: {extra:,} {unit} follow the data its header declares ({counts}); the header's "
            "counts are wrong (a damaged or badly edited file): export the scan again",
            path,
        )

    vert = data.get("vertex")
    if vert is None:
        raise ScanError("PLY has no 'vertex' element", path)
    if not all(k in vert for k in "xyz"):
        raise ScanError("PLY vertex element has no x, y, z properties", path)
    vertices = np.column_stack([vert[k] for k in "xyz"]).astype(np.float64)
    faces = np.empty((0, 3), dtype=np.int64)
    face = data.get("face")
    if face is not None:
        name = next((n for n in _FACE_LISTS if n in face), None)
        name = name or next((n for n, v in face.items() if isinstance(v, tuple)), None)
        if name is None:
            raise ScanError("PLY face element has no vertex index list", path)
        flat, sizes = face[name]
        if np.any(sizes < 3):
            raise ScanError("PLY has a face with fewer than 3 vertices", path)
        faces = fan_triangulate(flat.astype(np.int64), sizes.astype(np.int64))
    meta = {
        "encoding": fmt,
        "vertex_properties": [p.name for p in _find(elements, "vertex").props],
        "comments": comments,
    }
    return {"vertices": vertices, "faces": faces, "meta": meta}


def _find(elements: list[_Element], name: str) -> _Element:
    return next(e for e in elements if e.name == name)


def _parse_header(head: bytes, path: Path) -> tuple[str, list[_Element], list[str], int]:
    """Parse the header; return format, elements, comments and data offset."""
    if not head.startswith(b"ply") or head[3:4] not in (b"\n", b"\r"):
        raise ScanError("not a PLY file (first line is not 'ply')", path)
    end = head.find(b"\nend_header") + 1
    newline = head.find(b"\n", end)
    if end == 0 or newline < 0 or head[end:newline].strip() != b"end_header":
        raise ScanError("corrupt PLY header: no 'end_header' line", path)
    try:
        lines = head[:end].decode("ascii").splitlines()[1:]
    except UnicodeDecodeError:
        raise ScanError("corrupt PLY header: non-ASCII bytes", path) from None
    fmt = None
    elements: list[_Element] = []
    comments: list[str] = []
    for line in lines:
        parts = line.split()
        if not parts or parts[0] == "obj_info":
            continue
        if parts[0] == "comment":
            comments.append(line.strip()[8:])
        elif parts[0] == "format" and len(parts) >= 2 and parts[1] in _ORDER:
            fmt = parts[1]
        elif parts[0] == "element" and len(parts) == 3 and parts[2].isdigit():
            elements.append(_Element(parts[1], int(parts[2])))
        elif parts[0] == "property" and elements:
            elements[-1].props.append(_parse_property(parts, line, path))
        else:
            raise ScanError(f"corrupt PLY header line {line.strip()[:60]!r}", path)
    if fmt is None:
        raise ScanError("corrupt PLY header: no valid 'format' line", path)
    return fmt, elements, comments, newline + 1


def _parse_property(parts: list[str], line: str, path: Path) -> _Prop:
    try:
        if len(parts) == 5 and parts[1] == "list":
            return _Prop(parts[4], _TYPES[parts[3]], _TYPES[parts[2]])
        if len(parts) == 3:
            return _Prop(parts[2], _TYPES[parts[1]])
    except KeyError:
        pass
    raise ScanError(f"corrupt PLY header: bad property line {line.strip()!r}", path)


def _wanted(elements: list[_Element]) -> list[_Element]:
    """Elements to parse: everything up to and including vertex and face."""
    last = max((i for i, e in enumerate(elements) if e.name in ("vertex", "face")),
               default=-1)  # fmt: skip
    return elements[: last + 1]


# --------------------------------------------------------------------- binary
def _read_binary(body: bytes, elements: list[_Element], order: str) -> dict:
    out: dict[str, dict] = {}
    offset = 0
    for el in _wanted(elements):
        cols, offset = _binary_element(body, offset, el, order)
        out[el.name] = cols
    if len(body) - offset > _TRAILING_SLACK and body[offset:].strip():
        out["_trailing"] = len(body) - offset  # type: ignore[assignment]
    return out


def _binary_element(body: bytes, offset: int, el: _Element, order: str) -> tuple:
    """Read one element; scalars as arrays, lists as ``(flat, sizes)``."""
    if el.count == 0:
        return {p.name: _empty(p, order) for p in el.props}, offset
    # Row layout assuming every row has the list lengths of the first row.
    fields: list[tuple] = []
    pos = offset
    for p in el.props:
        if p.count_dtype is None:
            fields.append((p.name, order + p.dtype))
            pos += np.dtype(p.dtype).itemsize
            continue
        if pos + np.dtype(p.count_dtype).itemsize > len(body):
            raise _Truncated
        k = _length(np.frombuffer(body, order + p.count_dtype, 1, pos)[0])
        fields += [("n_" + p.name, order + p.count_dtype), (p.name, order + p.dtype, (k,))]
        pos += np.dtype(p.count_dtype).itemsize + k * np.dtype(p.dtype).itemsize
    if pos > len(body):  # not even the first row fits
        raise _Truncated
    row = np.dtype(fields)
    lists = [p for p in el.props if p.count_dtype is not None]
    if offset + el.count * row.itemsize <= len(body):
        arr = np.frombuffer(body, row, el.count, offset)
        if all(np.all(arr["n_" + p.name] == arr["n_" + p.name][0]) for p in lists):
            cols: dict[str, Any] = {}
            for p in el.props:
                if p.count_dtype is None:
                    cols[p.name] = arr[p.name]
                else:
                    sizes = arr["n_" + p.name].astype(np.int64)
                    cols[p.name] = (arr[p.name].ravel(), sizes)
            return cols, offset + el.count * row.itemsize
    if not lists:
        raise _Truncated
    return _binary_element_slow(body, offset, el, order)


def _binary_element_slow(body: bytes, offset: int, el: _Element, order: str) -> tuple:
    """Row-by-row walk for elements whose list lengths vary (mixed polygons)."""
    pieces: dict[str, list[bytes]] = {p.name: [] for p in el.props}
    sizes: dict[str, list[int]] = {p.name: [] for p in el.props}
    steps = []
    for p in el.props:
        size = np.dtype(p.dtype).itemsize
        count = None
        if p.count_dtype is not None:
            count = (struct.Struct(order + _STRUCT[p.count_dtype]), np.dtype(p.count_dtype).itemsize)
        steps.append((pieces[p.name].append, sizes[p.name].append, size, count))
    end = len(body)
    pos = offset
    for _ in range(el.count):
        for add, add_size, size, count in steps:
            if count is not None:
                if pos + count[1] > end:
                    raise _Truncated
                k = _length(count[0].unpack_from(body, pos)[0])
                pos += count[1]
                add_size(k)
                nbytes = k * size
            else:
                nbytes = size
            if pos + nbytes > end:
                raise _Truncated
            add(body[pos : pos + nbytes])
            pos += nbytes
    cols: dict[str, Any] = {}
    for p in el.props:
        values = np.frombuffer(b"".join(pieces[p.name]), order + p.dtype)
        if p.count_dtype is None:
            cols[p.name] = values
        else:
            cols[p.name] = (values, np.asarray(sizes[p.name], dtype=np.int64))
    return cols, pos


def _empty(p: _Prop, order: str) -> Any:
    values = np.empty(0, order + p.dtype)
    return values if p.count_dtype is None else (values, np.empty(0, np.int64))


# ---------------------------------------------------------------------- ascii
def _read_ascii(body: bytes, elements: list[_Element], path: Path) -> dict:
    tokens = body.split()
    out: dict[str, dict] = {}
    pos = 0
    for el in _wanted(elements):
        cols, pos = _ascii_element(tokens, pos, el, path)
        out[el.name] = cols
    if len(tokens) > pos:
        out["_trailing"] = len(tokens) - pos  # type: ignore[assignment]
    return out


def _ascii_element(tokens: list[bytes], pos: int, el: _Element, path: Path) -> tuple:
    """Read one element from the token stream (rows need not be one per line)."""
    if el.count == 0:
        return {p.name: _empty(p, "") for p in el.props}, pos
    # Layout of the first row; used when every row has the same list lengths.
    layout: list[tuple[_Prop, int, int]] = []  # (prop, column, list length)
    col = 0
    for p in el.props:
        if p.count_dtype is None:
            layout.append((p, col, 0))
            col += 1
        else:
            if pos + col >= len(tokens):
                raise _Truncated
            k = _length(_number(tokens[pos + col], path))
            layout.append((p, col, k))
            col += 1 + k
    width = col
    if pos + el.count * width <= len(tokens):
        block = _numbers(tokens[pos : pos + el.count * width], path)
        block = block.reshape(el.count, width)
        if all(np.all(block[:, c] == k) for p, c, k in layout if p.count_dtype):
            cols: dict[str, Any] = {}
            for p, c, k in layout:
                if p.count_dtype is None:
                    cols[p.name] = block[:, c]
                else:
                    flat = _as_int(block[:, c + 1 : c + 1 + k].ravel(), path)
                    cols[p.name] = (flat, np.full(el.count, k, dtype=np.int64))
            return cols, pos + el.count * width
    if not any(p.count_dtype for p in el.props):
        raise _Truncated
    return _ascii_element_slow(tokens, pos, el, path)


def _ascii_element_slow(tokens: list[bytes], pos: int, el: _Element, path: Path) -> tuple:
    values: dict[str, list[bytes]] = {p.name: [] for p in el.props}
    sizes: dict[str, list[int]] = {p.name: [] for p in el.props}
    for _ in range(el.count):
        for p in el.props:
            k = 1
            if p.count_dtype is not None:
                if pos >= len(tokens):
                    raise _Truncated
                k = _length(_number(tokens[pos], path))
                sizes[p.name].append(k)
                pos += 1
            if pos + k > len(tokens):
                raise _Truncated
            values[p.name].extend(tokens[pos : pos + k])
            pos += k
    cols: dict[str, Any] = {}
    for p in el.props:
        arr = _numbers(values[p.name], path)
        if p.count_dtype is None:
            cols[p.name] = arr
        else:
            cols[p.name] = (_as_int(arr, path), np.asarray(sizes[p.name], np.int64))
    return cols, pos


def _numbers(tokens: list[bytes], path: Path) -> np.ndarray:
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise ScanError(
            f"non-numeric value {bad[:20].decode('ascii', 'replace')!r} in ASCII PLY",
            path,
        ) from None


def _number(token: bytes, path: Path) -> float:
    return float(_numbers([token], path)[0])


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _as_int(values: np.ndarray, path: Path) -> np.ndarray:
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ScanError("non-integer vertex index in an ASCII PLY face", path)
    return values.astype(np.int64)
