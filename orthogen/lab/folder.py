"""The batch's output folder transaction: the folder belongs to the user; orthogen touches only its own.

An order is written into ``DIR/.<id>.tmp-<pid>/``, whose first file is the marker :data:`TEMP_MARKER`,
then the completion manifest :data:`MANIFEST` (every file's sha256 and the order's input fingerprint)
last, and the folder is renamed to ``DIR/<id>`` in one step. An order folder already there is replaced
only when it is provably orthogen's (its manifest lists every file in it); a folder of the same name
that is not is left alone and the order fails. After a kill, :func:`clean_stale` removes only
temporary folders that carry the marker, replaced order folders that are orthogen's, and the
``.summary.*.part`` files orthogen's own atomic writes leave; a user's ``movie.mkv.part`` or
``.cache.tmp-42/`` stays. The lock file keeps two batches out of one folder and is removed at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orthogen import __version__
from orthogen.errors import OrthogenError, ScanError, output_error

MANIFEST = "order.done.json"
MANIFEST_FORMAT = "orthogen-order-manifest/1"
TEMP_MARKER = ".orthogen-temporary"
TEMP_MARKER_TEXT = "orthogen batch temporary order folder; removed by the next run\n"
LOCK_NAME = ".orthogen-batch.lock"
LOCK_TEXT = "orthogen batch lock"
#: Temporary and replaced order folders (``.<id>.tmp-<pid>``, ``.<id>.old-<pid>``).
_TEMP_DIR = re.compile(r"^\.(?P<id>.+)\.(?P<kind>tmp|old)-\d+$")
#: What :func:`orthogen.output.export.atomic_write` leaves of a summary when killed (mkstemp names).
_SUMMARY_PART = re.compile(r"^\.summary\.(csv|json)\.[a-z0-9_]{8}\.part$")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        raise ScanError("file not found", path) from None
    except OSError as exc:
        raise ScanError(f"cannot be read ({exc.strerror or exc})", path) from None
    return h.hexdigest()


def _fsync(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_manifest(folder: Path) -> dict | None:
    """The folder's orthogen manifest, or None when it has none (or not one of orthogen's)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    if not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def foreign_entries(folder: Path) -> list[str] | None:
    """Entries of an order folder orthogen did not write (empty: all orthogen's); None: no manifest."""
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    own = {*manifest["files"], MANIFEST}
    entries = os.scandir(folder)
    return sorted(e.name for e in entries if e.name not in own or not e.is_file(follow_symlinks=False))


def is_own_order_folder(folder: Path) -> bool:
    """True when ``folder`` is an order folder orthogen wrote and nobody added to."""
    return folder.is_dir() and not folder.is_symlink() and foreign_entries(folder) == []


def order_folder_problem(out_dir: Path, order_id: str) -> str | None:
    """Why ``DIR/<order_id>`` cannot be (re)written, or None: it is absent or orthogen's own."""
    folder = out_dir / order_id
    if not (folder.exists() or folder.is_symlink()):
        return None
    if folder.is_symlink() or not folder.is_dir():
        return f"{folder} exists and is not a folder orthogen made: move it away or use another output folder"
    extra = foreign_entries(folder)
    if extra is None:
        return (
            f"the folder {folder} exists and was not made by orthogen (no {MANIFEST}): move it away or use "
            "another output folder"
        )
    if extra:
        shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
        return (
            f"the order folder {folder} holds files orthogen did not write ({shown}): move them away so "
            "the order can be made again"
        )
    return None


def write_order_folder(out_dir: Path, order_id: str, outputs: dict, manifest: dict) -> dict[str, str]:
    """Write ``outputs`` (name -> bytes or writer(path)) as ``DIR/<order_id>``; returns name -> sha256.

    Everything goes into a marked temporary folder, the manifest (``manifest`` plus the file hashes)
    last, and the folder is renamed into place. An existing order folder is replaced only when it is
    orthogen's (:func:`order_folder_problem` is checked first). OSError propagates.
    """
    problem = order_folder_problem(out_dir, order_id)
    if problem:
        raise OrthogenError(problem)
    tmp = out_dir / f".{order_id}.tmp-{os.getpid()}"
    final = out_dir / order_id
    if tmp.exists() and (tmp / TEMP_MARKER).is_file():  # this process's own leftover
        shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        (tmp / TEMP_MARKER).write_text(TEMP_MARKER_TEXT, encoding="utf-8")
        hashes = {}
        for name, data in outputs.items():
            if callable(data):
                data(tmp / name)
            else:
                (tmp / name).write_bytes(data)
            _fsync(tmp / name)
            written = isinstance(data, bytes)  # else a writer: the file is read back
            hashes[name] = hashlib.sha256(data).hexdigest() if written else sha256_file(tmp / name)
        body = {
            **manifest,
            "format": MANIFEST_FORMAT,
            "orthogen_version": __version__,
            "order_id": order_id,
            "files": hashes,
        }
        body["result"] = {**body.get("result", {}), "files": hashes}
        (tmp / MANIFEST).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _fsync(tmp / MANIFEST)
        (tmp / TEMP_MARKER).unlink()
        _fsync(tmp, directory=True)
        old = out_dir / f".{order_id}.old-{os.getpid()}"
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync(out_dir, directory=True)
        if old.exists() and is_own_order_folder(old):
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.is_dir() and ((tmp / TEMP_MARKER).is_file() or (tmp / MANIFEST).is_file()):
            shutil.rmtree(tmp, ignore_errors=True)
    return hashes


def completed_manifest(out_dir: Path, order_id: str, fingerprint: Callable[[], str]) -> dict | None:
    """The order's manifest when its folder is orthogen's, its files match their hashes and it was made
    from the same inputs (``fingerprint()`` of the current ones)."""
    folder = out_dir / order_id
    manifest = read_manifest(folder)
    if manifest is None or not is_own_order_folder(folder):
        return None
    try:
        if manifest.get("fingerprint") != fingerprint():
            return None
        for name, digest in manifest["files"].items():
            if Path(name).name != name or sha256_file(folder / name) != digest:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OrthogenError):
        return None
    return manifest


def clean_stale(out_dir: Path) -> int:
    """Remove what a killed orthogen run left in ``out_dir``; returns how many entries.

    Only marked temporary order folders, replaced order folders that are orthogen's own, and the
    ``.summary.*.part`` files of orthogen's atomic writes; nothing else is touched.
    """
    removed = 0
    for entry in list(os.scandir(out_dir)):
        path = Path(entry.path)
        match = _TEMP_DIR.match(entry.name)
        if match and entry.is_dir(follow_symlinks=False):
            ours = (path / TEMP_MARKER).is_file() if match["kind"] == "tmp" else is_own_order_folder(path)
            if match["kind"] == "tmp" and not ours and read_manifest(path) is not None:
                ours = is_own_order_folder(path)  # killed after the marker went, before the rename
            if ours:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        elif _SUMMARY_PART.match(entry.name) and entry.is_file(follow_symlinks=False):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


@contextmanager
def batch_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``DIR/.orthogen-batch.lock`` while the batch runs; remove it afterwards (also on Ctrl-C)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    path = out_dir / LOCK_NAME
    try:
        fh = open(path, "a+")  # held open for the whole batch
    except OSError as exc:
        raise output_error(exc, out_dir) from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OrthogenError("another orthogen batch is writing to this folder", out_dir) from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{LOCK_TEXT}: pid {os.getpid()}\n")
            fh.flush()
        except OSError:
            pass  # a full disk: the flock alone still keeps other batches out
        try:
            yield
        finally:
            try:
                with open(path, encoding="utf-8") as check:
                    if check.read(len(LOCK_TEXT)) == LOCK_TEXT:
                        path.unlink()
            except OSError:
                pass
    finally:
        fh.close()
