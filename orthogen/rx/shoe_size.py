"""Shoe sizes to foot lengths (DOMAIN.md formulas; approximate, they vary by maker)."""

from __future__ import annotations

import math

from orthogen.errors import PrescriptionError
from orthogen.rx.limits import FOOT_LENGTH_RANGE_MM, MM_PER_INCH, SHOE_SIZE_SYSTEMS
from orthogen.rx.text import show as _show


def shoe_size_to_foot_length_mm(system: str, size: float) -> float:
    """Foot length in mm for a shoe size (DOMAIN.md formulas; approximate, they vary by maker).

    EU = 1.5 x L(cm) + 2 (Paris points), US men = 3 x L(in) - 22, US women = 3 x L(in) - 21,
    UK = 3 x L(in) - 23, Mondopoint = L(mm).  Raises PrescriptionError for an unknown system or
    a size whose foot length falls outside 100 to 350 mm.
    """
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size):
        raise PrescriptionError(f"shoe size {size!r} is not a number")
    if system not in SHOE_SIZE_SYSTEMS:
        raise PrescriptionError(
            f"unknown shoe size system {system!r} (allowed: {', '.join(SHOE_SIZE_SYSTEMS)})"
        )
    length = _shoe_length_mm(system, size)
    lo, hi = FOOT_LENGTH_RANGE_MM
    if not lo <= length <= hi:
        raise PrescriptionError(
            f"shoe size {system} {_show(size)} gives a foot length of {length:.0f} mm, "
            f"outside {lo:g} to {hi:g} mm"
        )
    return length


def _shoe_length_mm(system: str, size: float) -> float:
    if system == "EU":
        return (size - 2.0) / 1.5 * 10.0  # Paris points: 1.5 per cm, +2
    if system == "US_men":
        return (size + 22.0) / 3.0 * MM_PER_INCH
    if system == "US_women":
        return (size + 21.0) / 3.0 * MM_PER_INCH
    if system == "UK":
        return (size + 23.0) / 3.0 * MM_PER_INCH
    return float(size)  # mondopoint
