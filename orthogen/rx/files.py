"""Reading a prescription file (YAML, TOML or JSON) into a raw mapping, with one-line errors."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from orthogen.errors import PrescriptionError


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML would silently keep the last one) and aliases.

    A prescription never needs ``&anchor``/``*alias``; refusing them stops "billion laughs" files
    that would expand to gigabytes.
    """

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a prescription", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                marker = (type(key), key)  # 1 and true are different keys
                duplicate = marker in seen
                seen.add(marker)
            except TypeError:
                continue  # unhashable key: the base class reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"YAML syntax error: {problem}"


def _toml_problem(exc: tomllib.TOMLDecodeError) -> str:
    text = str(exc)
    match = re.fullmatch(r"(.*?)\s*\(at line (\d+), column (\d+)\)", text)
    if match:
        return f"TOML syntax error at line {match.group(2)}, column {match.group(3)}: {match.group(1)}"
    match = re.fullmatch(r"(.*?)\s*\(at end of document\)", text)
    if match:
        return f"TOML syntax error at the end of the file: {match.group(1)}"
    return f"TOML syntax error: {text}"


def read_prescription_file(path: str | Path) -> dict:
    """The raw mapping of a YAML (.yaml/.yml), TOML (.toml) or JSON (.json) prescription file.

    An empty YAML file is an empty mapping.  Raises PrescriptionError (naming the file) when the file
    is missing, unreadable, has a syntax error (with its line number) or is not a mapping.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise PrescriptionError(f"unsupported file type '{path.suffix}' (use .yaml, .yml or .toml)", path)
    if not path.exists():
        raise PrescriptionError("file not found", path)
    if path.is_dir():
        raise PrescriptionError("is a folder, not a prescription file", path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise PrescriptionError(f"cannot read the file ({exc.strerror or exc})", path) from None
    except UnicodeDecodeError:
        raise PrescriptionError("is not a UTF-8 text file", path) from None
    try:
        data = copy.deepcopy(_parse(suffix, text))  # the caller may change its copy
    except yaml.YAMLError as exc:
        raise PrescriptionError(_yaml_problem(exc), path) from None
    except tomllib.TOMLDecodeError as exc:
        raise PrescriptionError(_toml_problem(exc), path) from None
    except json.JSONDecodeError as exc:
        raise PrescriptionError(
            f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}", path
        ) from None
    except RecursionError:
        raise PrescriptionError("is nested too deeply to be a prescription", path) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PrescriptionError(
            f"a prescription must be a mapping of keys to values (key: value lines), not a {_kind(data)}",
            path,
        )
    return data


@lru_cache(maxsize=16)
def _parse(suffix: str, text: str) -> Any:
    """The parsed text (cached: a batch reads the same prescription file for every order)."""
    if suffix == ".toml":
        return tomllib.loads(text)
    if suffix == ".json":
        return json.loads(text) if text.strip() else None
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "single text value"
    if isinstance(value, (int, float)):
        return "single number"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------
