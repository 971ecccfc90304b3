"""Loading a prescription: built-in defaults < template defaults < file < ``--set`` overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orthogen.errors import Hint, PrescriptionError
from orthogen.rx import templates as templates_io
from orthogen.rx.files import read_prescription_file
from orthogen.rx.layering import OVERRIDE_SOURCE, _merge, _set_override, parse_overrides
from orthogen.rx.messages import _translate
from orthogen.rx.model import Prescription


def _origin(locs: tuple[tuple, ...], origins: dict[tuple, str], rank: dict[str, int], fallback: str) -> str:
    """Where a problem came from: the most recent layer that set any of the keys involved."""
    found: list[str] = []
    for loc in locs:
        for n in range(len(loc), 0, -1):
            source = origins.get(tuple(loc[:n]))
            if source is not None:
                found.append(source)
                break
    if not found:
        return fallback
    return max(found, key=lambda s: rank.get(s, -1))


def _raise_problems(problems: list[tuple[str, str]], main_source: str) -> None:
    unique: list[tuple[str, str]] = []
    seen: set[str] = set()
    for source, message in problems:
        if message not in seen:
            seen.add(message)
            unique.append((source, message))
    sources = {source for source, _ in unique}
    if len(sources) == 1:
        raise PrescriptionError("; ".join(m for _, m in unique), sources.pop())
    raise PrescriptionError("; ".join(m if s == main_source else f"{s}: {m}" for s, m in unique), main_source)


def _refuse_template_file(data: Mapping[str, Any], path: str | Path) -> None:
    """A device template (``name``, ``description``, ``defaults``) given where a prescription goes."""
    if isinstance(data.get("defaults"), Mapping) and "name" in data and "template" not in data:
        name = str(data["name"])
        raise PrescriptionError(
            f"this is a device template ({name}), not a prescription: to use it, write template: {name} "
            "in a prescription",
            path,
            Hint("or select it", (f"template={name}",)),
        )


def validate_prescription(
    data: Mapping[str, Any],
    source: str | Path | None = None,
    templates_dir: str | Path | None = None,
) -> Prescription:
    """Validate one raw mapping (no template layering); problems raise one PrescriptionError."""
    directory = templates_io.templates_dir() if templates_dir is None else Path(templates_dir)
    try:
        return Prescription.model_validate(dict(data), context={"templates_dir": directory})
    except ValidationError as exc:
        messages = [m for err in exc.errors() for _, m in _translate(err)]
        raise PrescriptionError("; ".join(dict.fromkeys(messages)), source) from None


def load_prescription(
    path: str | Path | None = None,
    overrides: Iterable[str] = (),
    templates_dir: str | Path | None = None,
    override_source: str = OVERRIDE_SOURCE,
) -> Prescription:
    """Load a prescription: built-in defaults < template defaults < file ``path`` < ``--set`` overrides.

    ``path`` is a .yaml/.yml/.toml file or None (defaults only).  ``overrides`` are ``key=value``
    strings; dotted keys reach nested objects (``met_pad.height_mm=6``) and create an absent
    accommodation with its defaults.  ``templates_dir`` defaults to ``templates_io.templates_dir()``.
    All problems raise one PrescriptionError naming the file (or ``override_source``: "--set" on the
    command line, "overrides" in an order file).
    """
    directory = templates_io.templates_dir() if templates_dir is None else Path(templates_dir)
    file_source = None if path is None else str(path)
    main_source = file_source or override_source
    problems: list[tuple[str, str]] = []

    file_data = {} if path is None else read_prescription_file(path)
    if path is not None:
        _refuse_template_file(file_data, path)
    if isinstance(overrides, str):
        overrides = [overrides]
    items, override_problems = parse_overrides(list(overrides))
    problems.extend((override_source, message) for message in override_problems)

    # which template: an override beats the file, the file beats the built-in default
    template_name: Any = Prescription.model_fields["template"].default
    template_source = str(directory)
    if "template" in file_data:
        template_name, template_source = file_data["template"], main_source
    for keys, value in items:
        if keys == ("template",):
            template_name, template_source = value, override_source
    template_defaults: dict = {}
    template_file = "template"
    if isinstance(template_name, str):
        try:
            template_defaults = templates_io.load_template(template_name, directory)["defaults"]
            template_file = str(templates_io.template_path(template_name, directory))
        except PrescriptionError as exc:
            problems.append((exc.path or template_source, exc.problem))

    merged: dict = {}
    origins: dict[tuple, str] = {}
    _merge(merged, template_defaults, template_file, origins)
    if file_source is not None:
        _merge(merged, file_data, file_source, origins)
    for keys, value in items:
        _set_override(merged, keys, value, origins, override_source)

    rank = {template_file: 0, override_source: 2}
    if file_source is not None:
        rank[file_source] = 1
    try:
        prescription = Prescription.model_validate(merged, context={"templates_dir": directory})
    except ValidationError as exc:
        for err in exc.errors():
            for locs, message in _translate(err):
                problems.append((_origin(locs, origins, rank, main_source), message))
        prescription = None
    if problems:
        _raise_problems(problems, main_source)
    assert prescription is not None
    return prescription
