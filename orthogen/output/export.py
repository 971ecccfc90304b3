"""Writing results: binary STL and 3MF in millimetres, JSON reports; every write atomic.

Files are first written to a temporary name in the target folder and renamed
into place (``os.replace``), so a killed run never leaves a half-written file
under the final name. Output bytes depend only on the inputs: the STL header is
fixed and the 3MF zip entries carry a fixed date.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from orthogen.scan.mesh import cross_rows

STL_HEADER = b"orthogen binary STL, units: mm, frame: z up, heel at x=0".ljust(80, b" ")
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp_path)`` then move the finished file to ``path``; no partial file on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove a file can be made in it (before any work is done).

    Raises OSError (the caller words it: :func:`orthogen.errors.output_error`).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".orthogen-write-test.", suffix=".part", dir=folder)
    os.close(fd)
    os.unlink(probe)
    return folder


def write_file_set(
    folder: str | Path, files: dict[str, Callable[[Path], None]], last: tuple[str, ...] = ()
) -> list[Path]:
    """Write a set of files so that either all of them appear under their names or none does.

    Every ``files[name](tmp_path)`` writes a temporary ``.<name>.*.part`` file in ``folder``; only
    when all are written are they renamed into place, the names in ``last`` (the device) last. A
    failure removes the temporary files and any file of the set already renamed, then re-raises.
    A folder standing where a file should go is refused before anything is written.
    """
    folder = Path(folder)
    for name in files:
        if (folder / name).is_dir():
            raise IsADirectoryError(21, "a folder is in the way of a file", str(folder / name))
    umask = os.umask(0)
    os.umask(umask)
    temps: dict[str, str] = {}
    done: list[Path] = []
    order = [n for n in files if n not in last] + [n for n in last if n in files]
    try:
        for name in order:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
            os.close(fd)
            temps[name] = tmp
            files[name](Path(tmp))
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        for name in order:
            os.replace(temps.pop(name), folder / name)
            done.append(folder / name)
    except BaseException:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
        for path in done:
            path.unlink(missing_ok=True)
        raise
    return done


def stl_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """Binary STL of a triangle mesh (float32, mm), with unit facet normals."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)]
    n = cross_rows(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)
    rec = np.zeros(len(tri), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    rec["n"] = n
    rec["v"] = tri
    return STL_HEADER + np.uint32(len(tri)).tobytes() + rec.tobytes()


def write_stl(path: str | Path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    data = stl_bytes(vertices, faces)
    return atomic_write(path, lambda p: p.write_bytes(data))


def threemf_bytes_to(path: Path, vertices: np.ndarray, faces: np.ndarray, name: str) -> None:
    """Write a 3MF package (millimetre units) to ``path``."""
    v = "".join(f'<vertex x="{a:.4f}" y="{b:.4f}" z="{c:.4f}"/>' for a, b, c in np.asarray(vertices))
    t = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in np.asarray(faces))
    model = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<model unit="millimeter" xml:lang="en-US" '
        'xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
        f'<metadata name="Title">{_xml_escape(name)}</metadata>'
        '<metadata name="Application">orthogen</metadata>'
        f'<resources><object id="1" type="model"><mesh><vertices>{v}</vertices>'
        f"<triangles>{t}</triangles></mesh></object></resources>"
        '<build><item objectid="1"/></build></model>'
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for arc, text in (("[Content_Types].xml", types), ("_rels/.rels", rels), ("3D/3dmodel.model", model)):
            info = zipfile.ZipInfo(arc, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def write_3mf(path: str | Path, vertices: np.ndarray, faces: np.ndarray, name: str = "orthosis") -> Path:
    return atomic_write(path, lambda p: threemf_bytes_to(p, vertices, faces, name))


def json_text(obj) -> str:
    """Stable JSON (sorted keys, NaN as null) for reports."""
    return json.dumps(_clean(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (np.floating, float)):
        f = float(o)
        return None if not np.isfinite(f) else round(f, 4)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    return o


def write_json(path: str | Path, obj) -> Path:
    text = json_text(obj)
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
