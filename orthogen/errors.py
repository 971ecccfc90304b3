"""Errors that reach the user as one line and exit code 2 (never a traceback).

An error may carry a :class:`Hint`: what the user can give to get past it, as prescription keys.
The command line and the batch word it each in their own terms (``--foot-length MM`` against
``overrides foot_length_mm=MM``), so no message names a flag the user cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: How the command line gives a prescription key, and a placeholder for its value (keys not listed
#: here: ``--set key=VALUE``).
CLI_OPTIONS = {
    "foot_length_mm": ("--foot-length", "MM"),
    "units": ("--units", "mm|cm|m"),
    "side": ("--side", "left|right"),
    "scan_kind": ("--kind", "full_foot|plantar_shell|impression"),
}
#: Placeholders for other keys' values.
KEY_VALUES = {"mirror": "true", "heel_lift_side": "left|right"}
STYLES = ("cli", "batch")


@dataclass(frozen=True)
class Hint:
    """What the user can give to get past a refusal.

    Attributes
    ----------
    action : words before the keys, e.g. "give the measured foot length".
    keys : prescription keys, alternatives (the user gives one of them), each ``key`` or ``key=value``
        (``("foot_length_mm",)``, ``("units=cm", "foot_length_mm")``).
    """

    action: str
    keys: tuple[str, ...] = ()

    def render(self, style: str = "cli") -> str:
        """``give the measured foot length (--foot-length MM)``, or for the batch
        ``give the measured foot length (in the order's overrides: foot_length_mm=MM)``."""
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}")
        if not self.keys:
            return self.action
        ways = []
        for item in self.keys:
            key, _, value = item.partition("=")
            flag, placeholder = CLI_OPTIONS.get(key, ("", KEY_VALUES.get(key, "VALUE")))
            value = value or placeholder
            if style == "batch":
                ways.append(f"{key}={value}")
            else:
                ways.append(f"{flag} {value}" if flag else f"--set {key}={value}")
        where = "" if style == "cli" else "in the order's overrides: "
        return f"{self.action} ({where}{' or '.join(ways)})"


class OrthogenError(Exception):
    """A problem with the user's input or a geometry the tool refuses to make.

    ``str(err)`` is one line naming the file (when there is one) and the problem, with the hint in
    command-line words; :meth:`message` words the hint for another front end.
    """

    exit_code = 2

    def __init__(self, problem: str, path: str | Path | None = None, hint: Hint | None = None) -> None:
        self.problem = " ".join(str(problem).split())
        self.path = None if path is None else str(path)
        self.hint = hint
        super().__init__(self.message("cli"))

    def message(self, style: str = "cli") -> str:
        """The one-line message, the hint worded for ``style`` ("cli" or "batch")."""
        text = self.problem if self.hint is None else f"{self.problem}; {self.hint.render(style)}"
        return text if self.path is None else f"{self.path}: {text}"

    def with_path(self, path: str | Path) -> OrthogenError:
        """The same error (same type and hint) naming ``path``."""
        return type(self)(self.problem, path, self.hint)


class ScanError(OrthogenError):
    """A scan file cannot be read or is not a usable foot scan."""


class PrescriptionError(OrthogenError):
    """A prescription or order file is invalid."""


class GeometryError(OrthogenError):
    """The requested device cannot be built correctly, so it is refused."""


class OutputError(OrthogenError):
    """An output cannot be written: the user's disk or folder, not a bug (full, read-only, a file)."""


def output_error(exc: OSError, path: str | Path) -> OutputError:
    """One line for an OSError raised while writing ``path``: what is wrong, in words."""
    import errno

    causes = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied (the folder is not writable)",
        errno.EPERM: "operation not permitted (the folder is not writable)",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EISDIR: "a folder is in the way of a file",
        errno.ENAMETOOLONG: "the file name is too long for the file system",
        errno.ENOENT: "a folder on the path does not exist (a dangling symbolic link?)",
        errno.EEXIST: "something that is not a folder is in the way (a dangling symbolic link?)",
        errno.EIO: "input/output error on the disk",
    }
    cause = causes.get(exc.errno or -1, exc.strerror or str(exc))
    return OutputError(f"cannot write: {cause}", path)
