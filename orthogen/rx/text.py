"""How prescription values are quoted in messages (one short, readable form)."""

from __future__ import annotations

import json
import re
from typing import Any


def show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def normalise_choice(value: Any, choices: tuple[str, ...]) -> Any:
    """Accept enum words case-insensitively and with '-' or spaces for '_' ("Three-quarter")."""
    if isinstance(value, str):
        key = re.sub(r"[\s-]+", "_", value.strip()).lower()
        for choice in choices:
            if choice.lower() == key:
                return choice
    return value
