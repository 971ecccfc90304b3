"""Tool moves: the sequence of targets an operation reaches, and the tolerances paths are built to.

Blank frame (mm). ``xyz[i]`` is reached from ``xyz[i - 1]`` by ``motion[i]``: RAPID (G0), FEED
(G1 at the cutting feed) or PLUNGE (G1 at the plunge feed). Every entry into material comes down
from the safe height.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from orthogen.lab.mill_data import Feeds, Tool

RAPID, FEED, PLUNGE = 0, 1, 2
#: Chord tolerances of the sampled tool paths (mm): bending down would gouge, bending up leaves stock.
TOL_CONVEX_MM, TOL_CONCAVE_MM = 0.008, 0.02
#: Kept-point tolerance when straight runs of samples are merged into one move (mm).
SIMPLIFY_MM = 0.003
#: Chords steeper than this (dz per mm across) are stepped over: the path falls off or climbs an edge.
#: Finishing keeps real slopes (the designs stay under ~70 degrees); roughing steps more readily.
FINISH_STEP_SLOPE, ROUGH_STEP_SLOPE = 6.0, 2.0
#: Clearance above known-clear material before a plunge at feed (mm).
CLEAR_MM = 1.0


@dataclass(frozen=True)
class Operation:
    """One tool's moves: ``xyz[i]`` is reached from ``xyz[i-1]`` by ``motion[i]`` (RAPID/FEED/PLUNGE)."""

    name: str
    tool: Tool
    feeds: Feeds
    xyz: np.ndarray
    motion: np.ndarray
    notes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Toolpath:
    """The operations for one blank and the heights they assume (blank frame, mm)."""

    operations: tuple[Operation, ...]
    safe_z: float
    floor_z: float
    tab_top_z: float
    points_dropped: int


class Moves:
    """Accumulates moves; every entry into material comes from the safe height."""

    def __init__(self, safe_z: float):
        self.safe = safe_z
        self.xyz: list[np.ndarray] = []
        self.motion: list[np.ndarray] = []
        self.pos: np.ndarray | None = None

    def add(self, pts: np.ndarray, kind: int) -> None:
        pts = np.atleast_2d(np.asarray(pts, float))
        if len(pts):
            self.xyz.append(pts)
            self.motion.append(np.full(len(pts), kind, np.int8))
            self.pos = pts[-1]

    def retract(self) -> None:
        if self.pos is not None and self.pos[2] < self.safe:
            self.add([self.pos[0], self.pos[1], self.safe], RAPID)

    def enter(self, start: np.ndarray, clear_z: float) -> None:
        """Retract, rapid above ``start``, rapid down to ``clear_z`` and plunge to ``start``."""
        self.retract()
        x, y, z = start
        if self.pos is None or abs(self.pos[0] - x) > 1e-9 or abs(self.pos[1] - y) > 1e-9:
            self.add([x, y, self.safe], RAPID)
        clear_z = min(clear_z, self.safe)
        if clear_z > z + 1e-9 and clear_z < self.safe - 1e-9:
            self.add([x, y, clear_z], RAPID)
        self.add([x, y, z], PLUNGE)

    def operation(self, name: str, tool: Tool, feeds: Feeds, notes: dict) -> Operation:
        self.retract()
        xyz = np.concatenate(self.xyz) if self.xyz else np.zeros((0, 3))
        motion = np.concatenate(self.motion) if self.motion else np.zeros(0, np.int8)
        return Operation(name, tool, feeds, xyz, motion, notes)
