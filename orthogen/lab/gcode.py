"""G-code for GRBL and LinuxCNC (RS-274/NGC) from a blank's toolpath.

Millimetres (G21), absolute coordinates (G90), XY plane (G17), feed per minute (G94), work offset
G54 at the blank's corner on its top face. Every motion line carries its G word (no modal motion),
only the axes that change, and F where the feed changes. Comments are whole lines starting with ``;``
(both controllers accept them). Tool changes: LinuxCNC ``T<n> M6`` with the tool-length offset
``G43 H<n>``; GRBL has neither, so the program stops (``M0``) for the operator to fit tool ``T<n>``
and set Z zero on the blank's top again. Lines stay under GRBL's 80-character buffer.
"""

from __future__ import annotations

import numpy as np

from orthogen.lab.mill_data import Blank, Machine
from orthogen.lab.moves import FEED, PLUNGE, RAPID, Toolpath

#: Seconds the spindle is given to reach speed before the first cut of every tool.
SPINUP_S = 3.0


def _num(v: float) -> str:
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _motion_lines(xyz: np.ndarray, motion: np.ndarray, feed: float, plunge: float, last: list) -> list[str]:
    """Motion lines of one operation; ``last`` = [x, y, z, feed] strings as left by earlier lines."""
    coords = [[_num(v) for v in col] for col in np.asarray(xyz, float).T]
    rates = {FEED: _num(feed), PLUNGE: _num(plunge)}
    out = []
    for i, kind in enumerate(motion.tolist()):
        words = []
        for axis, letter in enumerate("XYZ"):
            c = coords[axis][i]
            if c != last[axis]:
                words.append(letter + c)
                last[axis] = c
        if not words:
            continue
        if kind == RAPID:
            out.append("G0 " + " ".join(words))
            continue
        f = rates[kind]
        if f != last[3]:
            words.append("F" + f)
            last[3] = f
        out.append("G1 " + " ".join(words))
    return out


def write_gcode(
    toolpath: Toolpath, machine: Machine, blank: Blank, title: str, notes: list[str] | None = None
) -> str:
    """The whole program as text (``\\n`` line ends)."""
    length, width, thick = blank.size_mm
    safe = _num(toolpath.safe_z)
    lines = [
        f"; orthogen milling program: {title}"[:79],
        f"; blank {blank.name}: {blank.material}, {length:g} x {width:g} x {thick:g} mm",
        "; work zero (G54): the blank's corner on its top face; x along its length,",
        f"; y across, z = 0 on the top face, bottom at z = {-thick:g}",
        f"; machine {machine.name} ({machine.dialect}); safe height Z{safe}",
    ]
    lines += [f"; {n}"[:79] for n in notes or []]
    lines += [f"; {op.name}: {op.tool.describe()}"[:79] for op in toolpath.operations]
    if machine.dialect == "linuxcnc":
        lines += ["G21 G90 G17 G94 G40 G49 G80 G54", "G64 P0.01"]
    else:
        lines += ["G21 G90 G17 G94 G54"]
    lines.append(f"G0 Z{safe}")
    last = ["", "", safe, ""]
    for op in toolpath.operations:
        if not len(op.xyz):
            continue
        t, f = op.tool, op.feeds
        lines += [
            f"; --- {op.name}: {t.describe()}",
            f"; {f.rpm:g} rpm, feed {f.feed_mm_min:g}, plunge {f.plunge_mm_min:g} mm/min",
            "M5",
            f"G0 Z{safe}",
        ]
        last[2] = safe
        if machine.dialect == "linuxcnc":
            lines += [f"T{t.number} M6", f"G43 H{t.number}"]
        else:
            lines += [
                f"; fit tool {t.number}: {t.name}, {t.diameter_mm:g} mm {t.type} end mill;",
                "; set Z zero on the blank's top face, then resume",
                f"T{t.number}",
                "M0",
            ]
        lines += [f"M3 S{_num(min(f.rpm, machine.max_rpm))}", f"G4 P{_num(SPINUP_S)}"]
        lines += _motion_lines(
            op.xyz,
            op.motion,
            min(f.feed_mm_min, machine.max_feed_mm_min),
            min(f.plunge_mm_min, machine.max_feed_mm_min),
            last,
        )
    lines += ["M5", f"G0 Z{safe}"]
    if machine.dialect == "linuxcnc":
        lines.append("G49")
    lines.append("M30")
    return "\n".join(lines) + "\n"
