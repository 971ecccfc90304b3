"""Scan readers: one small module per file format, a registry and ``load_scan``.

Modelled on ``trimesh.exchange``: every reader ``read_xxx(path, check_faces)``
returns plain data, a dict with ``vertices`` (n, 3) float64, ``faces`` (m, 3)
int64 and optionally ``units_hint`` and ``meta``. ``check_faces(n)`` is called
with the face count a header declares *before* the data are read, so a huge
file is refused before it can exhaust memory. ``load_scan`` adds the checks
common to all formats and turns every failure into one-line
:class:`~orthogen.errors.ScanError`.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orthogen.errors import ScanError
from orthogen.scan.mesh import cross_rows, row_norms
from orthogen.scan.obj import read_obj
from orthogen.scan.ply import read_ply
from orthogen.scan.seraph import read_seraph
from orthogen.scan.stl import read_stl
from orthogen.scan.types import Scan

__all__ = [
    "MAX_BYTES",
    "MAX_FACES",
    "READERS",
    "SUPPORTED_EXTENSIONS",
    "Scan",
    "ScanError",
    "load_scan",
]

#: Largest file accepted, in bytes (400 MB). A foot needs far less.
MAX_BYTES = 400_000_000
#: Most triangles accepted (after fan-triangulating polygons). Foot scans have
#: 10k-200k; more only costs time and memory.
MAX_FACES = 2_000_000
DECIMATE_HINT = "decimate the scan (e.g. MeshLab: Quadric Edge Collapse Decimation) and try again"

Reader = Callable[[Path, Callable[[int], None]], dict[str, Any]]

#: Reader per lower-case file extension (without the dot).
READERS: dict[str, Reader] = {
    "obj": read_obj,
    "ply": read_ply,
    "scan": read_seraph,
    "stl": read_stl,
}
#: Scan.format name per extension.
FORMATS = {"obj": "obj", "ply": "ply", "scan": "seraph_scan", "stl": "stl"}
_LABELS = {"obj": "OBJ", "ply": "PLY", "scan": "Seraph .scan", "stl": "STL"}
SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(sorted("." + e for e in READERS))


def load_scan(path: str | Path, *, max_faces: int = MAX_FACES, max_bytes: int = MAX_BYTES) -> Scan:
    """Read a foot scan as a triangle mesh, refusing anything unusable.

    Parameters
    ----------
    path : ``.stl``, ``.obj``, ``.ply`` or Seraph ``.scan`` file.
    max_faces : refuse meshes with more triangles than this.
    max_bytes : refuse files larger than this.

    Returns
    -------
    Scan with float64 (n, 3) vertices and int64 (m, 3) faces in file units.
    Faces with a repeated vertex index are dropped (``meta["dropped_faces"]``);
    nothing else is repaired.

    Raises
    ------
    ScanError
        For any file that cannot be read or holds no usable triangle mesh;
        no other exception escapes for a bad file.
    """
    p = Path(path)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ScanError("file not found", p) from None
    except (OSError, ValueError) as exc:
        raise ScanError(f"cannot be read: {getattr(exc, 'strerror', None) or exc}", p) from None
    if stat.S_ISDIR(st.st_mode):
        raise ScanError("is a directory, not a scan file", p)
    ext = p.suffix.lower().lstrip(".")
    reader = READERS.get(ext)
    if reader is None:
        kind = repr(p.suffix) if p.suffix else "(no extension)"
        raise ScanError(f"unsupported file type {kind}; supported: {', '.join(SUPPORTED_EXTENSIONS)}", p)
    if st.st_size == 0:
        raise ScanError("file is empty (0 bytes)", p)
    if st.st_size > max_bytes:
        raise ScanError(
            f"file too large: {_size(st.st_size)}, above the limit of {_size(max_bytes)}; {DECIMATE_HINT}", p
        )

    def check_faces(n: int) -> None:
        if n > max_faces:
            raise ScanError(
                f"too many faces: {n:,}, above the limit of {max_faces:,}; {DECIMATE_HINT}",
                p,
            )

    label = _LABELS[ext]
    try:
        data = reader(p, check_faces)
        vertices, faces, dropped = _validate(data, p, label, check_faces)
    except ScanError:
        raise
    except MemoryError:
        raise ScanError(f"ran out of memory reading it; {DECIMATE_HINT}", p) from None
    except OSError as exc:
        raise ScanError(f"cannot be read: {exc.strerror or exc}", p) from None
    except Exception as exc:  # any parser failure is the file's fault
        raise ScanError(f"could not be read as {label}: {_short(exc)}", p) from None

    meta = dict(data.get("meta") or {})
    meta["dropped_faces"] = dropped
    return Scan(
        vertices=vertices,
        faces=faces,
        path=str(p),
        format=FORMATS[ext],
        units_hint=data.get("units_hint"),
        meta=meta,
    )


def _validate(
    data: dict[str, Any], p: Path, label: str, check_faces: Callable[[int], None]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Checks common to all formats; drop faces that repeat a vertex."""
    vertices = np.ascontiguousarray(data["vertices"], dtype=np.float64)
    faces = np.ascontiguousarray(data["faces"], dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ScanError(f"could not be read as {label}: vertices are not (n, 3)", p)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ScanError(f"could not be read as {label}: faces are not (m, 3)", p)
    check_faces(len(faces))
    if len(vertices) == 0:
        raise ScanError("has no vertices (an empty mesh)", p)
    finite = np.isfinite(vertices).all(axis=1)
    if not finite.all():
        raise ScanError(
            f"has {int((~finite).sum()):,} vertices with NaN or infinite coordinates "
            f"(first is vertex {int(np.argmin(finite))})",
            p,
        )
    if len(faces) == 0:
        raise ScanError(
            f"has no faces: {len(vertices):,} vertices only (a point cloud); a triangle mesh is needed",
            p,
        )
    lo, hi = int(faces.min()), int(faces.max())
    if lo < 0 or hi >= len(vertices):
        bad = lo if lo < 0 else hi
        raise ScanError(
            f"face index out of range: a face uses vertex {bad} but there are "
            f"{len(vertices):,} vertices (0-based)",
            p,
        )
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    dropped = int(len(faces) - keep.sum())
    faces = faces[keep] if dropped else faces
    if not _any_area(vertices, faces):
        raise ScanError(f"has no faces with area (all {len(keep):,} faces are degenerate)", p)
    share = sliver_share(vertices, faces)
    if share > MAX_SLIVER_SHARE:
        raise ScanError(
            f"{share:.0%} of its {len(faces):,} faces are slivers (needle-thin triangles with almost no "
            "area): the file is damaged or is not a surface scan",
            p,
        )
    return vertices, faces, dropped


#: A triangle whose area is below this fraction of an equilateral one's with the same edge lengths
#: is a sliver; real scans have 0-2 % slivers, a mesh made of them is damaged.
SLIVER_QUALITY = 1e-3
MAX_SLIVER_SHARE = 0.5


def sliver_share(vertices: np.ndarray, faces: np.ndarray, chunk: int = 1 << 18) -> float:
    """Share of faces whose quality 4 sqrt(3) area / (sum of squared edges) is below SLIVER_QUALITY."""
    bad = 0
    for start in range(0, len(faces), chunk):
        a, b, c = (vertices[faces[start : start + chunk, k]] for k in range(3))
        e0, e1, e2 = b - a, c - b, a - c
        area2 = row_norms(cross_rows(e0, -e2))  # twice the area
        # the sum of the squared edges in numpy's 8-way pairwise order (the same floats, 2x faster)
        sq = [e[:, k] * e[:, k] for e in (e0, e1, e2) for k in range(3)]
        edges = (((sq[0] + sq[1]) + (sq[2] + sq[3])) + ((sq[4] + sq[5]) + (sq[6] + sq[7]))) + sq[8]
        quality = np.divide(2.0 * np.sqrt(3.0) * area2, edges, out=np.zeros_like(edges), where=edges > 0)
        bad += int((quality < SLIVER_QUALITY).sum())
    return bad / max(1, len(faces))


def _any_area(vertices: np.ndarray, faces: np.ndarray) -> bool:
    """True if at least one face has non-negligible area (checked in chunks)."""
    scale = float(np.ptp(vertices, axis=0).max()) if len(vertices) else 0.0
    tol = 1e-12 * scale * scale
    for start in range(0, len(faces), 8192):
        tri = vertices[faces[start : start + 8192]]
        cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        if scale > 0.0 and np.any(np.abs(cross).max(axis=1) > tol):
            return True
    return False


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _short(exc: BaseException) -> str:
    """One short line describing an unexpected parser exception."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
