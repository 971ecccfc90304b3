"""Plain data returned by every scan reader."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
