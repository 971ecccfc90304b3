"""``--set key=value`` overrides, and layering defaults < template < file < overrides with provenance."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from orthogen.rx.model import NESTED_MODELS, TEXT_KEYS, Prescription, _Part

#: Where a value given with ``--set`` comes from, in messages.
OVERRIDE_SOURCE = "--set"


def _parse_override_value(keys: tuple[str, ...], raw: str) -> Any:
    text = raw.strip()
    if text in ("", "null", "Null", "NULL", "~"):
        return None
    if keys in TEXT_KEYS:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return text[1:-1]
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text  # reported by validation as "... is not a number" etc.


def parse_overrides(overrides: Iterable[str]) -> tuple[list[tuple[tuple[str, ...], Any]], list[str]]:
    """Split ``--set key=value`` strings into ``((key, sub_key...), value)`` pairs plus problems."""
    items: list[tuple[tuple[str, ...], Any]] = []
    problems: list[str] = []
    for item in overrides:
        if "=" not in item:
            problems.append(f"{item!r} is not key=value (e.g. heel_lift_mm=4 or met_pad.height_mm=6)")
            continue
        key, raw = item.split("=", 1)
        keys = tuple(part.strip() for part in key.strip().split("."))
        if not all(keys):
            problems.append(f"{item!r} has an empty key")
            continue
        if len(keys) > 1:
            parent_model: type[_Part] = Prescription
            bad = None
            for depth, part in enumerate(keys[:-1]):
                field = parent_model.model_fields.get(part)
                if field is None:
                    break  # unknown: validation reports it with a suggestion
                nested = NESTED_MODELS.get(part) if parent_model is Prescription else None
                if nested is None:
                    bad = ".".join(keys[: depth + 1])
                    break
                parent_model = nested
            if bad is not None:
                problems.append(f"'{'.'.join(keys)}': {bad} is a single value, it has no sub-keys")
                continue
        items.append((keys, _parse_override_value(keys, raw)))
    return items, problems


# ---------------------------------------------------------------------------------------------
# Layering with provenance


def _drop_origins(origins: dict[tuple, str], prefix: tuple) -> None:
    for key in [k for k in origins if k[: len(prefix)] == prefix]:
        del origins[key]


def _mark_origins(origins: dict[tuple, str], prefix: tuple, value: Any, source: str) -> None:
    origins[prefix] = source
    if isinstance(value, dict):
        for key, sub in value.items():
            _mark_origins(origins, (*prefix, key), sub, source)


def _merge(dst: dict, src: Mapping, source: str, origins: dict[tuple, str], prefix: tuple = ()) -> None:
    """Deep-merge ``src`` into ``dst``: mappings merge key by key, anything else replaces."""
    for key, value in src.items():
        path = (*prefix, key)
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            origins[path] = source
            _merge(dst[key], value, source, origins, path)
        else:
            _drop_origins(origins, path)
            dst[key] = copy.deepcopy(value)
            _mark_origins(origins, path, value, source)


def _set_override(
    dst: dict, keys: tuple[str, ...], value: Any, origins: dict[tuple, str], source: str = OVERRIDE_SOURCE
) -> None:
    node = dst
    for depth, key in enumerate(keys[:-1]):
        if not isinstance(node.get(key), dict):
            node[key] = {}  # an accommodation that is not present is created with defaults
        origins[keys[: depth + 1]] = source
        node = node[key]
    _drop_origins(origins, keys)
    node[keys[-1]] = value
    _mark_origins(origins, keys, value, source)
