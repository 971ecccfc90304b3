"""Device templates: named sets of prescription defaults stored as YAML files.

A template file ``templates/<name>.yaml`` is a mapping with

* ``name``: the template's name (the file stem),
* ``description``: one line shown by ``list_templates()``,
* ``defaults``: a mapping of prescription keys (see ``orthogen.rx.model``),

and may hold other sections (e.g. ``geometry``) that belong to other parts of
orthogen; this module returns them untouched.  Files whose stem starts with
``example`` (``example_rx.yaml``) are example prescriptions, not templates.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml

from orthogen.errors import PrescriptionError

#: Environment variable that points orthogen at another templates folder.
TEMPLATES_ENV = "ORTHOGEN_TEMPLATES"

#: Allowed template names (a file stem; no path separators or dots).
TEMPLATE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
_NAME_RE = re.compile(TEMPLATE_NAME_PATTERN)
#: Files in the templates folder that hold other data (milling), not insole templates.
DATA_FILES = frozenset({"blanks", "tools", "machines"})


def templates_dir() -> Path:
    """The templates folder: ``$ORTHOGEN_TEMPLATES`` if set, else the repository's ``templates/``."""
    env = os.environ.get(TEMPLATES_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "templates"


def _directory(directory: str | Path | None) -> Path:
    return templates_dir() if directory is None else Path(directory)


def _is_template_file(path: Path) -> bool:
    return (
        path.is_file()
        and path.suffix in (".yaml", ".yml")
        and not path.stem.startswith("example")
        and path.stem not in DATA_FILES
        and _NAME_RE.match(path.stem) is not None
    )


def template_names(directory: str | Path | None = None) -> list[str]:
    """Sorted names of the templates in ``directory`` (default: ``templates_dir()``)."""
    folder = _directory(directory)
    if not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.iterdir() if _is_template_file(p)})


def template_path(name: str, directory: str | Path | None = None) -> Path | None:
    """The file of template ``name``, or None when there is no such template."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        return None
    folder = _directory(directory)
    for suffix in (".yaml", ".yml"):
        path = folder / f"{name}{suffix}"
        if _is_template_file(path):
            return path
    return None


def unknown_template_problem(name: Any, directory: str | Path | None = None) -> str:
    """One-line problem text for a template name that does not exist."""
    names = template_names(directory)
    hint = ""
    if isinstance(name, str):
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            hint = f"did you mean '{close[0]}'? "
    available = ", ".join(names) if names else f"none found in {_directory(directory)}"
    return f"unknown template {name!r} ({hint}available: {available})"


#: Parsed template files by (path, modification time, size): a batch worker reads the same few
#: templates for every order (three times each), and parsing YAML in Python costs ~4 ms a file.
_PARSED: dict[tuple[str, int, int], dict] = {}


def _read_template_file(path: Path) -> dict:
    """The checked mapping of one template file (a fresh copy; cached while the file is unchanged)."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        key = None  # unreadable: parsing says why
    if key is not None and key in _PARSED:
        return copy.deepcopy(_PARSED[key])
    data = _parse_template_file(path)
    if key is not None:
        if len(_PARSED) > 256:
            _PARSED.clear()
        _PARSED[key] = copy.deepcopy(data)
    return data


def _parse_template_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PrescriptionError(f"cannot read template ({exc.strerror or exc})", path) from None
    except UnicodeDecodeError:
        raise PrescriptionError("template is not a UTF-8 text file", path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PrescriptionError(f"YAML syntax error{where}: {problem}", path) from None
    if not isinstance(data, dict):
        raise PrescriptionError(
            f"a template must be a mapping with name, description and defaults (got {type(data).__name__})",
            path,
        )
    if data.get("name", path.stem) != path.stem:
        raise PrescriptionError(f"name {data.get('name')!r} does not match the file name '{path.stem}'", path)
    if not isinstance(data.get("description", ""), str):
        raise PrescriptionError("description must be one line of text", path)
    defaults = data.get("defaults")
    if defaults is None:
        data["defaults"] = {}
    elif not isinstance(defaults, dict):
        raise PrescriptionError(
            f"defaults must be a mapping of prescription keys (got {type(defaults).__name__})", path
        )
    elif "template" in defaults:
        raise PrescriptionError("defaults cannot set 'template'", path)
    return data


def load_template(name: str, directory: str | Path | None = None) -> dict:
    """The raw mapping of template ``name`` (``defaults`` is always a mapping, possibly empty).

    Raises PrescriptionError listing the available names when ``name`` is unknown,
    or naming the template file when it is unreadable or malformed.
    """
    path = template_path(name, directory)
    if path is None:
        raise PrescriptionError(unknown_template_problem(name, directory))
    return _read_template_file(path)


def list_templates(directory: str | Path | None = None) -> list[tuple[str, str]]:
    """``(name, description)`` for every template, sorted by name.

    A malformed template is listed with a description saying what is wrong, so
    that one broken file does not hide the others.
    """
    result = []
    for name in template_names(directory):
        path = template_path(name, directory)
        try:
            description = " ".join(str(_read_template_file(path).get("description", "")).split())
        except PrescriptionError as exc:
            description = f"(invalid template: {exc.problem})"
        result.append((name, description))
    return result
