"""A derived prescription as YAML with the reason for every value in the comment above it.

The reason reads finding -> rule [sources] for a rule's value, "clinician's choice" for a value set by
hand, or the template's default.  Accommodations are written with all their sub-keys, so the file is
explicit; loading it back gives the same prescription (``load_prescription``).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence
from typing import Any

from orthogen.rx.clinical_rules import Derivation
from orthogen.rx.model import NESTED_MODELS

WIDTH = 110


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # the shortest text that reads back as the same number
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    plain = re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", text) and text.lower() not in (
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "null",
        "none",
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def _comment(text: str, first: str = "# ", rest: str = "#   ") -> list[str]:
    return textwrap.wrap(
        text, WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    ) or [first.rstrip()]


def _bullet(text: str) -> list[str]:
    return _comment(text, "#   - ", "#     ")


def _value_lines(key: str, value: Any) -> list[str]:
    if isinstance(value, dict):
        model = NESTED_MODELS.get(key)
        full = {**(model().model_dump() if model is not None else {}), **value}
        return [f"{key}:", *(f"  {k}: {_yaml_scalar(v)}" for k, v in full.items())]
    return [f"{key}: {_yaml_scalar(value)}"]


def prescription_yaml(derivation: Derivation, made_from: Sequence[str] = ()) -> str:
    """The prescription of ``derivation`` as commented YAML; ``made_from`` lines go in the header."""
    lines = ["# orthogen prescription derived from a clinical assessment (`orthogen prescribe`)."]
    lines += [f"#   {m}" for m in made_from]
    lines += _comment(
        "Above every value: why it was chosen (finding -> rule [sources], the clinician's own "
        "choice, or the template's default). Sources are cited in full in "
        "templates/rules/clinical_rules.yaml and the README's rule table."
    )
    if derivation.warnings:
        lines += ["#", "# Warnings:"]
        for w in derivation.warnings:
            lines += _bullet(w)
    lines += ["#", "# Findings:"]
    for f in derivation.findings.shown():
        lines += _bullet(f.text)
    for d in derivation.decisions:
        lines.append("")
        lines += _comment(d.reason)
        lines += _value_lines(d.key, d.value)
    return "\n".join(lines) + "\n"
