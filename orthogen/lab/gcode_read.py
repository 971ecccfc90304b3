"""Reading a G-code program back with a maintained parser (``gcodeparser``), for the cut simulation.

The simulation must see what the machine would see, not the writer's own data, so the written text
is parsed by `gcodeparser <https://pypi.org/project/gcodeparser/>`_ and interpreted here as a small
modal machine: linear moves (G0/G1) in absolute millimetres, feeds, spindle, dwells and tool
changes (``T<n>`` then ``M6``, or ``M0`` on GRBL where the operator swaps the tool). Anything else
(arcs, inches, incremental mode, unknown codes) is refused: our writer never emits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from orthogen.errors import OrthogenError

_ACCEPTED_G = {17, 21, 40, 49, 54, 64, 80, 90, 94}
_LETTERS = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Program:
    """Linear moves of a program: ``start``/``end`` (m, 3) mm (NaN where a position was never set).

    ``rapid`` marks G0; ``feed`` is the G1 feed (mm/min); ``tool`` the loaded tool number (0 = none);
    ``spindle`` whether the spindle turned; ``line`` the 0-based source line of every move.
    """

    start: np.ndarray
    end: np.ndarray
    rapid: np.ndarray
    feed: np.ndarray
    tool: np.ndarray
    spindle: np.ndarray
    line: np.ndarray
    dwell_s: float
    tool_changes: int
    code_lines: int
    parsed_lines: int

    @property
    def lengths(self) -> np.ndarray:
        d = np.linalg.norm(self.end - self.start, axis=1)
        return np.where(np.isfinite(d), d, 0.0)


def _code_part(line: str) -> str:
    return line.split(";", 1)[0].strip()


def read_program(text: str, name: str = "G-code") -> Program:
    """Parse and interpret ``text``. Raises OrthogenError naming the line for anything unsupported.

    Every non-comment line must be fully understood by the parser: its letter count must match the
    commands and words the parser returned for it.
    """
    from gcodeparser import parse_gcode_lines

    raw = text.splitlines()
    expected = {i: len(_LETTERS.findall(_code_part(ln))) for i, ln in enumerate(raw) if _code_part(ln)}
    seen: dict[int, int] = {}
    pos = np.full(3, np.nan)
    feed, tool_pending, tool, spindle = 0.0, 0, 0, False
    dwell, changes = 0.0, 0
    starts, ends, rapid, feeds, tools, spin, where = [], [], [], [], [], [], []

    def fail(i: int, problem: str) -> None:
        raise OrthogenError(f"line {i + 1} ({raw[i].strip()!r}): {problem}", name)

    for cmd in parse_gcode_lines(text):
        i = cmd.line_index
        letter, number = cmd.command
        seen[i] = seen.get(i, 0) + 1 + len(cmd.params)
        p = cmd.params
        if letter == "G" and number in (0, 1):
            if number == 1 and "F" in p:
                feed = float(p["F"])
            target = pos.copy()
            for axis, key in enumerate("XYZ"):
                if key in p:
                    target[axis] = float(p[key])
            if number == 1 and feed <= 0:
                fail(i, "feed move without a feed rate")
            starts.append(pos)
            ends.append(target)
            rapid.append(number == 0)
            feeds.append(feed if number == 1 else 0.0)
            tools.append(tool)
            spin.append(spindle)
            where.append(i)
            pos = target
        elif letter == "G" and number == 4:
            dwell += float(p.get("P", 0.0))
        elif letter == "G" and number == 43:
            if int(p.get("H", -1)) != tool:
                fail(i, f"tool-length offset H{p.get('H')} is not the loaded tool T{tool}")
        elif letter == "G" and number in _ACCEPTED_G:
            pass
        elif letter == "T":
            tool_pending = number
        elif letter == "M" and number in (6, 0):
            if tool_pending and tool_pending != tool:
                tool, changes = tool_pending, changes + 1
        elif letter == "M" and number in (3, 4):
            spindle = True
        elif letter == "M" and number == 5:
            spindle = False
        elif letter == "M" and number in (2, 30):
            pass
        else:
            fail(i, f"{cmd.command_str} is not supported by the cut simulation")
    bad = [i for i, n in expected.items() if seen.get(i, 0) != n]
    if bad:
        fail(bad[0], f"not fully understood by the G-code parser ({len(bad)} such lines)")
    m = len(starts)
    return Program(
        start=np.asarray(starts, float).reshape(m, 3),
        end=np.asarray(ends, float).reshape(m, 3),
        rapid=np.asarray(rapid, bool),
        feed=np.asarray(feeds, float),
        tool=np.asarray(tools, np.int64),
        spindle=np.asarray(spin, bool),
        line=np.asarray(where, np.int64),
        dwell_s=dwell,
        tool_changes=changes,
        code_lines=len(expected),
        parsed_lines=sum(1 for i in expected if i in seen),
    )


def machining_time(program: Program, rapid_xy: float, rapid_z: float, tool_change_s: float) -> dict:
    """Time estimate in minutes: feeds at their F, rapids at the slowest axis' rate, dwells, changes.

    Acceleration is ignored, so real machines take somewhat longer on short moves.
    """
    d = np.abs(program.end - program.start)
    d = np.where(np.isfinite(d), d, 0.0)
    length = np.linalg.norm(d, axis=1)
    cut = ~program.rapid
    cut_min = float(np.sum(length[cut] / program.feed[cut]))
    rapid_min = float(np.sum(np.maximum(np.maximum(d[:, 0], d[:, 1]) / rapid_xy, d[:, 2] / rapid_z)[~cut]))
    dwell_min = program.dwell_s / 60.0
    change_min = program.tool_changes * tool_change_s / 60.0
    return {
        "cutting_min": cut_min,
        "rapid_min": rapid_min,
        "dwell_min": dwell_min,
        "tool_change_min": change_min,
        "total_min": cut_min + rapid_min + dwell_min + change_min,
        "cut_length_mm": float(length[cut].sum()),
        "rapid_length_mm": float(length[~cut].sum()),
    }
