"""Printer presets and ``--bed WxH[xZ]``: the bed a plate is packed for and sliced on.

Bed sizes and heights are from PrusaSlicer's vendor profile ``PrusaResearch.ini`` (printer sections
named below); speeds come from the print process (:data:`orthogen.printing.materials.PROCESS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orthogen.errors import OrthogenError


@dataclass(frozen=True)
class Printer:
    """A printer's bed (mm, origin at a corner, x to the right, y to the back) and build height."""

    name: str
    width_mm: float
    depth_mm: float
    height_mm: float
    title: str = ""

    def config(self) -> dict[str, str]:
        """PrusaSlicer printer settings (``Metadata/Slic3r_PE.config``)."""
        w, d = f"{self.width_mm:g}", f"{self.depth_mm:g}"
        return {
            "printer_technology": "FFF",
            "bed_shape": f"0x0,{w}x0,{w}x{d},0x{d}",
            "max_print_height": f"{self.height_mm:g}",
            "nozzle_diameter": "0.4",
            "gcode_flavor": "marlin2",
            "retract_lift": "0.4",
            "retract_speed": "35",
        }

    def text(self) -> str:
        """``the 250 x 210 mm bed`` (of the named printer), for messages."""
        bed = f"the {self.width_mm:g} x {self.depth_mm:g} mm bed"
        return f"{bed} of the {self.title}" if self.title else bed


PRINTERS: dict[str, Printer] = {
    "mk3s": Printer("mk3s", 250, 210, 210, "Original Prusa i3 MK3S"),
    "mk4": Printer("mk4", 250, 210, 220, "Original Prusa MK4"),
    "mini": Printer("mini", 180, 180, 180, "Original Prusa MINI"),
    "xl": Printer("xl", 360, 360, 360, "Original Prusa XL"),
}
DEFAULT_PRINTER = "mk3s"
#: Height given to a ``--bed WxH`` printer without a third number (mm).
DEFAULT_HEIGHT_MM = 200.0
_BED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[xX×]\s*(\d+(?:\.\d+)?)(?:\s*[xX×]\s*(\d+(?:\.\d+)?))?\s*$")


def parse_bed(text: str) -> Printer:
    """A printer from ``--bed`` text ``WxH`` or ``WxHxZ`` (mm); OrthogenError otherwise."""
    m = _BED.match(text or "")
    if not m:
        raise OrthogenError(f"--bed {text!r} is not WIDTHxDEPTH in mm (e.g. 250x210, or 250x210x210)")
    w, d = float(m.group(1)), float(m.group(2))
    z = float(m.group(3)) if m.group(3) else DEFAULT_HEIGHT_MM
    if min(w, d, z) < 50 or max(w, d, z) > 2000:
        raise OrthogenError(f"--bed {text!r}: each size must be 50 to 2000 mm")
    return Printer(f"{w:g}x{d:g}", w, d, z)


def printer(name: str | None = None, bed: str | None = None) -> Printer:
    """The printer of ``--printer NAME`` or ``--bed WxH`` (the bed wins); the default preset otherwise."""
    if bed:
        return parse_bed(bed)
    key = (name or DEFAULT_PRINTER).strip().lower()
    if key not in PRINTERS:
        raise OrthogenError(f"unknown printer {name!r} (presets: {', '.join(PRINTERS)}; or --bed WxH)")
    return PRINTERS[key]
