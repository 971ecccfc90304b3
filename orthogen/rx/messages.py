"""pydantic's validation errors translated to one-line, clinician-readable problems."""

from __future__ import annotations

import difflib
from typing import Any, get_args

from orthogen.rx.limits import LABEL_CHARS_TEXT, LABEL_MAX_CHARS
from orthogen.rx.model import NESTED_MODELS, Prescription, _literal_choices, _Part
from orthogen.rx.rules import CrossFieldError
from orthogen.rx.text import show as _show


def _model_at(loc: tuple) -> type[_Part] | None:
    model: type[_Part] = Prescription
    for part in loc:
        if model is not Prescription or part not in NESTED_MODELS:
            return None
        model = NESTED_MODELS[part]
    return model


def _field_at(loc: tuple) -> Any:
    model = _model_at(loc[:-1])
    if model is None or not loc:
        return None
    return model.model_fields.get(loc[-1])


def _all_keys() -> list[str]:
    keys = list(Prescription.model_fields)
    for name, model in NESTED_MODELS.items():
        keys.extend(f"{name}.{sub}" for sub in model.model_fields)
    return keys


def _unknown_key_problem(loc: tuple) -> str:
    dotted = ".".join(str(p) for p in loc)
    key = str(loc[-1])
    parent = loc[:-1]
    model = _model_at(parent)
    suggestions: list[str] = []
    if model is not None:
        close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
        suggestions = [".".join((*map(str, parent), c)) for c in close]
        if not parent:
            # a nested key written at the top level ("height_mm" for "met_pad.height_mm")
            nested = [k for k in _all_keys() if "." in k]
            exact = [k for k in nested if k.split(".", 1)[1] == key]
            if exact:
                suggestions = (exact + suggestions)[:3]
            elif not suggestions:
                leaves = sorted({k.split(".", 1)[1] for k in nested})
                close_leaf = difflib.get_close_matches(key, leaves, n=1, cutoff=0.6)
                suggestions = [k for k in nested if k.split(".", 1)[1] in close_leaf][:3]
    if suggestions:
        return f"unknown key '{dotted}' (did you mean {' or '.join(repr(s) for s in suggestions)}?)"
    return f"unknown key '{dotted}'"


def _range_of(field: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for item in field.metadata:
        lo = getattr(item, "ge", lo)
        hi = getattr(item, "le", hi)
    return lo, hi


def _range_problem(loc: tuple, key: str, value: Any) -> str:
    field = _field_at(loc)
    if field is None:
        return f"{key} = {_show(value)} is out of range"
    lo, hi = _range_of(field)
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    unit = extra.get("unit", "")
    allowed = f"allowed {lo:g} to {hi:g}{' ' + unit if unit else ''}"
    if type(None) in get_args(field.annotation):
        allowed += ", or null"
    return f"{key} = {_show(value)} is out of range ({allowed})"


def _translate(err: dict) -> list[tuple[tuple[tuple, ...], str]]:
    """One pydantic error -> [(locations involved, message)]."""
    loc = tuple(err["loc"])
    kind = err["type"]
    key = ".".join(str(p) for p in loc)
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx.get("error"), CrossFieldError):
        return [
            (tuple(tuple(k.split(".")) for k in keys), message) for keys, message in ctx["error"].problems
        ]
    if kind == "extra_forbidden":
        message = _unknown_key_problem(loc)
    elif kind == "invalid_key":
        message = f"key {_show(loc[-1])} is not a name"
    elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        message = _range_problem(loc, key, value)
    elif kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"):
        message = f"{key} = {_show(value)} is not a number"
    elif kind == "finite_number":
        message = f"{key} = {_show(value)} is not a finite number"
    elif kind in ("bool_type", "bool_parsing"):
        message = f"{key} = {_show(value)} is not true or false"
    elif kind == "string_type":
        message = f"{key} = {_show(value)} is not text"
    elif kind == "literal_error":
        field = _field_at(loc)
        choices = _literal_choices(field.annotation) if field is not None else ()
        allowed = ", ".join(choices) if choices else ctx.get("expected", "")
        message = f"{key} = {_show(value)} is not allowed (allowed: {allowed})"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        model = _model_at(loc)
        keys = ", ".join(model.model_fields) if model is not None else ""
        message = f"{key} = {_show(value)} must be a mapping (keys {keys}) or null"
    elif kind == "missing":
        message = f"missing key '{key}'"
    elif kind in ("string_pattern_mismatch", "string_too_long", "string_too_short") and loc == ("label",):
        message = f"label = {_show(value)} must be 1 to {LABEL_MAX_CHARS} characters of {LABEL_CHARS_TEXT}"
    elif kind == "value_error":
        message = str(ctx.get("error", err.get("msg", "")))
    else:
        message = f"{key}: {' '.join(str(err.get('msg', kind)).split())}"
    return [((loc,), message)]
