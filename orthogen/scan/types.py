"""Plain data returned by every scan reader."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Most vertices accepted from a file (a foot scan needs well under a million). Readers check the
#: count a header or a quick pre-count declares before parsing, so memory stays bounded.
MAX_VERTICES = 3_000_000


def check_vertex_count(n: int, path) -> None:
    """Refuse a file declaring more than MAX_VERTICES vertices (ScanError)."""
    if n > MAX_VERTICES:
        from orthogen.errors import ScanError

        raise ScanError(
            f"{n:,} vertices is above the {MAX_VERTICES:,} limit; decimate the scan and try again", path
        )


@dataclass(frozen=True)
class Scan:
    """A triangle mesh as read from a file, in the file's own units and frame.

    Attributes
    ----------
    vertices : (n, 3) float64 array, file units (not yet scaled or aligned).
    faces : (m, 3) int64 array of vertex indices, every index < n.
    path : the file it came from.
    format : reader name, e.g. ``"stl"``, ``"obj"``, ``"ply"``, ``"seraph_scan"``.
    units_hint : units the format itself states (``"mm"`` for Seraph grids), or None.
    meta : reader-specific extras (e.g. grid steps), JSON-serialisable.
    """

    vertices: np.ndarray
    faces: np.ndarray
    path: str
    format: str
    units_hint: str | None = None
    meta: dict = field(default_factory=dict)
