"""Slicing in the loop: PrusaSlicer's command line on a plate, its time and filament, and a cost.

``prusa-slicer --export-gcode PLATE.3mf --dont-arrange`` slices a plate with the settings stored in it
(objects stay where the plate put them). The slice fails — :class:`SlicerError`, exit 2 — when the
slicer exits non-zero, logs a warning or an error, prints nothing for an object (PrusaSlicer's CLI
silently leaves out objects that are off the bed), or substitutes a setting it cannot read. The
G-code's own footer gives the estimated print time and the filament used (mm, cm³, g).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orthogen.errors import OrthogenError

#: Environment variable naming the slicer binary (default: ``prusa-slicer`` on the PATH).
SLICER_ENV = "ORTHOGEN_PRUSA_SLICER"
INSTALL_HINT = (
    "--slice needs PrusaSlicer's command line: on Debian or Ubuntu `sudo apt-get install prusa-slicer` "
    f"(or set {SLICER_ENV} to the prusa-slicer program)"
)
#: A slice may take this long (s) before it is stopped and the order failed.
SLICE_TIMEOUT_S = 900
#: Machine price per hour used when none is given (currency units per hour; set --machine-price).
DEFAULT_MACHINE_PRICE_PER_H = 1.5
_LOG_PROBLEM = re.compile(r"\[(warning|error|fatal)\]\s*(.*)", re.I)


class SlicerError(OrthogenError):
    """The slicer refused, warned about, or failed to print a plate."""


@dataclass(frozen=True)
class SliceResult:
    """What PrusaSlicer reports for one sliced plate."""

    time_s: float
    time_text: str
    filament_mm: float
    filament_cm3: float
    filament_g: float
    objects: tuple[str, ...]
    slicer: str

    def cost(self, price_per_kg: float, machine_per_h: float) -> dict:
        """Material and machine cost (currency units of the prices given)."""
        material = self.filament_g / 1000.0 * price_per_kg
        machine = self.time_s / 3600.0 * machine_per_h
        return {
            "material": round(material, 2),
            "machine": round(machine, 2),
            "total": round(material + machine, 2),
            "material_price_per_kg": price_per_kg,
            "machine_price_per_h": machine_per_h,
        }

    def as_dict(self) -> dict:
        return {
            "print_time_s": round(self.time_s),
            "print_time": self.time_text,
            "print_time_h": round(self.time_s / 3600.0, 2),
            "filament_m": round(self.filament_mm / 1000.0, 2),
            "filament_cm3": round(self.filament_cm3, 2),
            "filament_g": round(self.filament_g, 1),
            "objects": list(self.objects),
            "slicer": self.slicer,
        }


def find_slicer() -> str | None:
    """The prusa-slicer program (``$ORTHOGEN_PRUSA_SLICER`` or ``prusa-slicer`` on the PATH), or None."""
    given = os.environ.get(SLICER_ENV)
    if given:
        return given if Path(given).is_file() else shutil.which(given)
    return shutil.which("prusa-slicer")


def require_slicer() -> str:
    """The slicer program, or an OrthogenError (exit 2) saying how to install it."""
    exe = find_slicer()
    if exe is None:
        raise OrthogenError(INSTALL_HINT)
    return exe


def parse_duration(text: str) -> float:
    """Seconds of a PrusaSlicer duration such as ``1d 2h 3m 4s``."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)\s*([dhms])", text)
    if not parts:
        raise ValueError(text)
    return float(sum(int(n) * units[u] for n, u in parts))


def parse_gcode_footer(text: str) -> dict:
    """Time and filament from the footer of PrusaSlicer G-code (the last part of the file)."""

    def num(pattern: str) -> float:
        m = re.search(pattern, text)
        return float(m.group(1)) if m else float("nan")

    m = re.search(r"; estimated printing time \(normal mode\) = (.+)", text)
    return {
        "time_text": m.group(1).strip() if m else "",
        "time_s": parse_duration(m.group(1)) if m else float("nan"),
        "filament_mm": num(r"; filament used \[mm\] = ([\d.]+)"),
        "filament_cm3": num(r"; filament used \[cm3\] = ([\d.]+)"),
        "filament_g": num(r"; (?:total )?filament used \[g\] = ([\d.]+)"),
    }


def printed_objects(gcode: str) -> tuple[str, ...]:
    """Names of the objects the G-code prints (``gcode_label_objects``), in first-printed order."""
    names = re.findall(r"^; printing object (.+?)(?: id:\d+ copy \d+)?\s*$", gcode, re.M)
    return tuple(dict.fromkeys(n.strip() for n in names))


#: Extrusion may reach this far past the bed's edge before a plate is refused (mm).
BED_TOLERANCE_MM = 0.5
_EXTRUDE = re.compile(r"^G1 X(-?[\d.]+) Y(-?[\d.]+)(?: Z[\d.]+)? E(-?[\d.]+)", re.M)


def extrusion_extent(gcode: str) -> tuple:
    """The lowest and highest (x, y) of the G-code's extruding moves (mm), or (None, None)."""
    import numpy as np

    moves = np.array(_EXTRUDE.findall(gcode), dtype=float)
    moves = moves[moves[:, 2] > 0] if len(moves) else moves
    if not len(moves):
        return None, None
    return moves[:, :2].min(axis=0), moves[:, :2].max(axis=0)


def plate_bed(plate_3mf: Path) -> tuple[float, float] | None:
    """The bed (width, depth, mm) stored in a plate's ``Metadata/Slic3r_PE.config``, if any."""
    import zipfile

    try:
        with zipfile.ZipFile(plate_3mf) as z:
            text = z.read("Metadata/Slic3r_PE.config").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    m = re.search(r"^; bed_shape = (.+)$", text, re.M)
    if not m:
        return None
    pts = [tuple(map(float, p.split("x"))) for p in m.group(1).split(",")]
    return max(p[0] for p in pts), max(p[1] for p in pts)


def problems_in_log(log: str) -> list[str]:
    """Warnings and errors in the slicer's output, one line each."""
    out = []
    for line in log.splitlines():
        m = _LOG_PROBLEM.search(line)
        if m:
            out.append(f"{m.group(1).lower()}: {m.group(2).strip()}")
        elif "Nothing to print" in line or "substituted" in line or line.startswith("Error"):
            out.append(line.strip())
    return out


def slice_plate(
    plate_3mf: str | Path,
    expected: Sequence[str],
    *,
    gcode_out: str | Path | None = None,
    timeout_s: float = SLICE_TIMEOUT_S,
) -> SliceResult:
    """Slice one plate with PrusaSlicer's CLI (objects where the plate put them) and read the result.

    Raises SlicerError (exit 2) naming the plate when the slicer fails, warns, errs, or leaves out
    any of the ``expected`` object names; OrthogenError when the slicer is not installed.
    """
    exe = require_slicer()
    plate_3mf = Path(plate_3mf)
    with tempfile.TemporaryDirectory(prefix="orthogen-slice-") as tmp:
        out = Path(gcode_out) if gcode_out else Path(tmp) / "plate.gcode"
        cmd = [
            exe,
            "--export-gcode",
            str(plate_3mf),
            "--dont-arrange",
            "--loglevel",
            "2",
            "--output",
            str(out),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise SlicerError(f"prusa-slicer took more than {timeout_s:g} s", plate_3mf) from None
        log = proc.stdout + "\n" + proc.stderr
        problems = problems_in_log(log)
        if proc.returncode != 0:
            tail = "; ".join(ln.strip() for ln in proc.stderr.splitlines()[-3:] if ln.strip())
            raise SlicerError(
                f"prusa-slicer failed (exit {proc.returncode}): {tail or 'no message'}", plate_3mf
            )
        if problems:
            raise SlicerError("prusa-slicer " + "; ".join(dict.fromkeys(problems)), plate_3mf)
        if not out.is_file():
            raise SlicerError("prusa-slicer wrote no G-code", plate_3mf)
        gcode = out.read_text(encoding="utf-8", errors="replace")
    footer = parse_gcode_footer(gcode[-200_000:])
    objects = printed_objects(gcode)
    bed = plate_bed(plate_3mf)
    lo, hi = extrusion_extent(gcode)
    if (
        bed is not None
        and lo is not None
        and (
            lo.min() < -BED_TOLERANCE_MM
            or hi[0] > bed[0] + BED_TOLERANCE_MM
            or hi[1] > bed[1] + BED_TOLERANCE_MM
        )
    ):
        raise SlicerError(
            f"the sliced plate prints from ({lo[0]:.0f}, {lo[1]:.0f}) to ({hi[0]:.0f}, {hi[1]:.0f}) mm, "
            f"off the {bed[0]:g} x {bed[1]:g} mm bed (PrusaSlicer's CLI does not check this)",
            plate_3mf,
        )
    missing = [n for n in expected if n not in objects]
    if missing:
        raise SlicerError(
            f"prusa-slicer left out {', '.join(missing)} (off the bed or empty): nothing printed for it",
            plate_3mf,
        )
    if not footer["time_text"]:
        raise SlicerError("prusa-slicer's G-code has no print time estimate", plate_3mf)
    version = re.search(r"generated by (PrusaSlicer[ -][^\s]+)", gcode[:2000])
    return SliceResult(
        time_s=footer["time_s"],
        time_text=footer["time_text"],
        filament_mm=footer["filament_mm"],
        filament_cm3=footer["filament_cm3"],
        filament_g=footer["filament_g"],
        objects=objects,
        slicer=version.group(1) if version else Path(exe).name,
    )
