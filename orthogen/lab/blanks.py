"""Choosing a blank and placing the parts in it (one device, or a pair side by side).

The blank's frame is the G-code's: origin at the blank's corner, x along its length, y across, z = 0
on its top face, so the blank occupies [0, L] x [0, W] x [-T, 0]. A part's flat bottom lies on the
blank's bottom (z = -T); its x runs along the blank's length. Pure functions on bounding boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orthogen.errors import OrthogenError
from orthogen.lab.mill_data import Blank, BlankTable


@dataclass(frozen=True)
class Placement:
    """Parts placed in a blank: part i's output-frame point p lands at ``p + offsets[i]`` (mm)."""

    blank: Blank
    offsets: tuple[tuple[float, float, float], ...]

    @property
    def size(self) -> tuple[float, float, float]:
        return self.blank.size_mm

    def to_blank(self, i: int, points: np.ndarray) -> np.ndarray:
        """Points (…, 3) of part ``i`` from its output frame into the blank frame."""
        return np.asarray(points, float) + np.asarray(self.offsets[i])


def required_size(
    boxes: list[tuple[float, float, float, float]], height: float, rules: BlankTable
) -> tuple[float, float, float]:
    """Smallest blank (length, width, thickness) holding the xy ``boxes`` side by side in y."""
    length = max(b[2] - b[0] for b in boxes) + 2 * rules.margin_mm
    width = sum(b[3] - b[1] for b in boxes) + rules.gap_mm * (len(boxes) - 1) + 2 * rules.margin_mm
    return length, width, height + rules.top_allowance_mm


def fits(blank: Blank, need: tuple[float, float, float]) -> bool:
    return all(have >= want - 1e-9 for have, want in zip(blank.size_mm, need, strict=True))


def place(blank: Blank, boxes: list[tuple[float, float, float, float]], rules: BlankTable) -> Placement:
    """Offsets centring the side-by-side layout of ``boxes`` (xmin, ymin, xmax, ymax) in ``blank``."""
    length, width, thick = blank.size_mm
    need_l, need_w, _ = required_size(boxes, 0.0, rules)
    x_pad = (length - need_l) / 2 + rules.margin_mm
    y = (width - need_w) / 2 + rules.margin_mm
    offsets = []
    for xmin, ymin, _, ymax in boxes:
        offsets.append((x_pad - xmin, y - ymin, -thick))
        y += (ymax - ymin) + rules.gap_mm
    return Placement(blank, tuple(offsets))


def choose_blank(
    boxes: list[tuple[float, float, float, float]],
    height: float,
    material: str,
    rules: BlankTable,
    name: str | None = None,
) -> Placement:
    """The smallest blank of ``material`` (or the named one) holding the parts; OrthogenError if none.

    ``boxes`` are the parts' xy bounding boxes and ``height`` the tallest part (mm).
    """
    need = required_size(boxes, height, rules)
    what = "the pair" if len(boxes) == 2 else "the part"
    size = f"{need[0]:.0f} x {need[1]:.0f} x {need[2]:.0f} mm"
    if name is not None:
        blank = rules.blanks[name]
        if not fits(blank, need):
            x, y, z = blank.size_mm
            raise OrthogenError(
                f"blank {name!r} ({x:g} x {y:g} x {z:g} mm) is too small: {what} needs {size} "
                f"with {rules.margin_mm:g} mm margins"
            )
        return place(blank, boxes, rules)
    candidates = [b for b in rules.blanks.values() if b.material == material]
    if not candidates:
        raise OrthogenError(f"no blank of material {material!r} in the blank table")
    ok = sorted((b for b in candidates if fits(b, need)), key=lambda b: (b.volume_mm3, b.name))
    if not ok:
        biggest = max(candidates, key=lambda b: b.volume_mm3)
        x, y, z = biggest.size_mm
        raise OrthogenError(
            f"no {material} blank fits: {what} needs {size} with {rules.margin_mm:g} mm margins "
            f"(largest: {biggest.name}, {x:g} x {y:g} x {z:g} mm)"
        )
    return place(ok[0], boxes, rules)
