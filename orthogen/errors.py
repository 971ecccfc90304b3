"""Errors that reach the user as one line and exit code 2 (never a traceback)."""

from __future__ import annotations

from pathlib import Path


class OrthogenError(Exception):
    """A problem with the user's input or a geometry the tool refuses to make.

    ``str(err)`` is one line naming the file (when there is one) and the problem.
    """

    exit_code = 2

    def __init__(self, problem: str, path: str | Path | None = None) -> None:
        self.problem = " ".join(str(problem).split())
        self.path = None if path is None else str(path)
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")


class ScanError(OrthogenError):
    """A scan file cannot be read or is not a usable foot scan."""


class PrescriptionError(OrthogenError):
    """A prescription or order file is invalid."""


class GeometryError(OrthogenError):
    """The requested device cannot be built correctly, so it is refused."""
