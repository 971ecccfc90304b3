"""Lab order files: one order per CSV row or JSON object, read and checked without building anything.

An order names an id (which becomes a folder name), a patient reference, one scan per foot
(``left_scan`` / ``right_scan``), a prescription file, optional overrides (``key=value;key=value``,
``left.key=value`` for one foot only), a quantity and the mesh formats. Paths are relative to the
order file's folder. Columns are documented in ``templates/orders.md``.

Problems that belong to one order (a dangerous id, a bad quantity, an unknown format) are stored on
the :class:`Order` and fail that order only; problems with the file as a whole (unreadable, unknown
column) raise :class:`~orthogen.errors.PrescriptionError`.
"""

from __future__ import annotations

import csv
import difflib
import json
import os
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orthogen.errors import OrthogenError, PrescriptionError

#: Columns (CSV) or keys (JSON) of an order, in documentation order.
COLUMNS = (
    "order_id", "patient_ref", "left_scan", "right_scan", "prescription",
    "overrides", "quantity", "formats", "notes",
)
SIDES = ("left", "right")
FORMATS = ("stl", "3mf", "nc")
MAX_ID_CHARS = 64
MAX_QUANTITY = 100
ID_RULES = (
    f"1 to {MAX_ID_CHARS} characters, not starting with '.', without '/', '\\', '..', ':', "
    "control characters or <>\"|?*"
)
_RESERVED_IDS = {"summary.csv", "summary.json", "con", "prn", "aux", "nul"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)
}
_SCAN_COLUMNS = {"left": "left_scan", "right": "right_scan"}


@dataclass(frozen=True)
class Order:
    """One order of a batch, paths already resolved against the order file's folder."""

    source: str
    row: str
    order_id: str
    patient_ref: str = ""
    scans: dict[str, str] = field(default_factory=dict)
    prescription: str | None = None
    overrides: tuple[str, ...] = ()
    side_overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    quantity: int = 1
    formats: tuple[str, ...] = ("stl",)
    notes: str = ""
    problems: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        """``orders.csv line 3 (order 'A-1')``: where to look for this order's problems."""
        return f"{self.source} {self.row} (order {self.order_id!r})"

    def to_dict(self) -> dict:
        """A plain, picklable and JSON-serialisable dict (the batch job's input)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Order:
        d = dict(data)
        for key in ("overrides", "formats", "problems"):
            d[key] = tuple(d.get(key, ()))
        d["side_overrides"] = {k: tuple(v) for k, v in dict(d.get("side_overrides", {})).items()}
        return cls(**d)


def order_id_problem(order_id: Any) -> str | None:
    """Why ``order_id`` cannot be a folder name inside the output folder, or None when it can."""
    if not isinstance(order_id, str) or not order_id.strip():
        return "order_id is empty"
    shown = repr(order_id)
    why = None
    if len(order_id) > MAX_ID_CHARS:
        why = f"is {len(order_id)} characters long"
    elif any(unicodedata.category(c) == "Cc" for c in order_id):
        why = "contains a control character"
    elif "/" in order_id or "\\" in order_id or os.path.isabs(order_id):
        why = "contains a path separator and could escape the output folder"
    elif ".." in order_id:
        why = "contains '..' and could escape the output folder"
    elif order_id.startswith("."):
        why = "starts with '.' (hidden and reserved for temporary folders)"
    elif order_id != order_id.strip() or order_id.endswith("."):
        why = "starts or ends with a space or ends with '.'"
    elif any(c in '<>:"|?*' for c in order_id):
        why = "contains a character not allowed in file names (<>:\"|?*)"
    elif order_id.lower().split(".")[0] in _RESERVED_IDS or order_id.lower() in _RESERVED_IDS:
        why = "is a reserved file name"
    if why is None:
        return None
    return f"order_id = {shown} {why}; allowed: {ID_RULES}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _flatten(mapping: dict, prefix: str = "") -> list[str]:
    items = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            items += _flatten(value, name + ".")
        elif isinstance(value, str):
            items.append(f"{name}={value}")
        else:
            items.append(f"{name}={json.dumps(value)}")
    return items


def split_overrides(value: Any) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """``key=value;left.key=value`` (or a JSON list / mapping) -> common items, per-side items, problems."""
    if isinstance(value, dict):
        raw = _flatten(value)
    elif isinstance(value, list):
        raw = [_text(v) for v in value]
    else:
        raw = re.split(r"[;\n]", _text(value))
    common: list[str] = []
    per_side: dict[str, list[str]] = {}
    problems: list[str] = []
    for item in (r.strip() for r in raw):
        if not item:
            continue
        if "=" not in item:
            problems.append(
                f"overrides item {item!r} is not key=value (e.g. heel_lift_mm=4 or left.heel_lift_mm=3)"
            )
            continue
        key, val = (s.strip() for s in item.split("=", 1))
        head, _, rest = key.partition(".")
        side = head.lower() if head.lower() in SIDES and rest else None
        if (rest if side else key).lower() == "side":
            problems.append(f"overrides item {item!r}: the side is given by the left_scan/right_scan column")
            continue
        if side:
            per_side.setdefault(side, []).append(f"{rest}={val}")
        else:
            common.append(f"{key}={val}")
    return common, per_side, problems


def _resolve(base: Path, text: str) -> str:
    p = Path(text).expanduser()
    return os.path.normpath(p if p.is_absolute() else base / p)


def _order_from_record(rec: dict[str, Any], source: str, row: str, base: Path) -> Order:
    problems: list[str] = []
    order_id = _text(rec.get("order_id"))
    id_problem = order_id_problem(order_id)
    if id_problem:
        problems.append(id_problem)
    patient = _text(rec.get("patient_ref"))
    if not patient:
        problems.append("patient_ref is empty (give the clinic's patient reference)")
    cells = {side: _text(rec.get(col)) for side, col in _SCAN_COLUMNS.items()}
    scans = {side: _resolve(base, text) for side, text in cells.items() if text}
    if not scans:
        problems.append("no scan: give left_scan, right_scan or both")
    rx_text = _text(rec.get("prescription"))
    if not rx_text:
        problems.append("prescription is empty (give a .yaml/.yml/.toml prescription file)")
    common, per_side, override_problems = split_overrides(rec.get("overrides"))
    problems += override_problems
    for side in per_side:
        if side not in scans:
            problems.append(f"overrides set {side}.* but the order has no {_SCAN_COLUMNS[side]}")
    quantity = 1
    q = _text(rec.get("quantity"))
    if q:
        try:
            quantity = int(q)
            if not 1 <= quantity <= MAX_QUANTITY:
                raise ValueError
        except ValueError:
            problems.append(f"quantity = {q!r} is not allowed (allowed: whole numbers 1 to {MAX_QUANTITY})")
            quantity = 1
    fmt_value = rec.get("formats")
    words = fmt_value if isinstance(fmt_value, list) else re.split(r"[;,+\s]+", _text(fmt_value))
    formats = tuple(dict.fromkeys(w.strip().lower().lstrip(".") for w in map(_text, words) if w.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        problems.append(
            f"formats = {_text(fmt_value)!r}: unknown {', '.join(bad)} (allowed: {', '.join(FORMATS)})"
        )
    formats = tuple(f for f in formats if f in FORMATS) or ("stl",)
    return Order(
        source=source, row=row, order_id=order_id, patient_ref=patient, scans=scans,
        prescription=_resolve(base, rx_text) if rx_text else None, overrides=tuple(common),
        side_overrides={k: tuple(v) for k, v in per_side.items()}, quantity=quantity, formats=formats,
        notes=_text(rec.get("notes")), problems=tuple(problems),
    )


def _column_problem(name: str) -> str:
    close = difflib.get_close_matches(name, COLUMNS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown column {name!r} ({hint}allowed: {', '.join(COLUMNS)})"


def _norm_key(key: Any) -> str:
    return re.sub(r"[\s-]+", "_", str(key).strip()).lower()


def _csv_records(path: Path, text: str) -> list[tuple[str, dict]]:
    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] | None = None
    out: list[tuple[str, dict]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [_norm_key(c) for c in cells]
                unknown = [c for c in header if c and c not in COLUMNS]
                if unknown:
                    problem = "; ".join(map(_column_problem, unknown))
                    raise PrescriptionError(f"line {reader.line_num}: {problem}", path)
                if "order_id" not in header or not ({"left_scan", "right_scan"} & set(header)):
                    raise PrescriptionError(
                        "the header must name at least order_id and left_scan or right_scan "
                        f"(columns: {', '.join(COLUMNS)})", path)
                continue
            rec = dict(zip(header, cells, strict=False))
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                rec["_extra"] = f"{len(cells)} cells, the header has {len(header)} (quote cells with commas)"
            out.append((f"line {reader.line_num}", rec))
    except csv.Error as exc:
        raise PrescriptionError(f"CSV error at line {reader.line_num}: {exc}", path) from None
    return out


def _json_records(path: Path, text: str) -> list[tuple[str, dict]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise PrescriptionError(f"JSON syntax error at {where}: {exc.msg}", path) from None
    if isinstance(data, dict) and isinstance(data.get("orders"), list):
        data = data["orders"]
    if not isinstance(data, list):
        raise PrescriptionError("an order file in JSON is a list of orders (or {\"orders\": [...]})", path)
    out = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            out.append((f"order #{i}", {"_extra": f"is a {type(item).__name__}, not an object of columns"}))
            continue
        rec = {_norm_key(k): v for k, v in item.items()}
        unknown = [k for k in rec if k not in COLUMNS]
        if unknown:
            rec["_extra"] = "; ".join(map(_column_problem, unknown))
        out.append((f"order #{i}", rec))
    return out


def parse_orders(path: str | Path) -> list[Order]:
    """Read a CSV or JSON order file. Raises PrescriptionError for problems with the file as a whole."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise PrescriptionError(f"unsupported order file type {path.suffix!r} (use .csv or .json)", path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise PrescriptionError("file not found", path) from None
    except IsADirectoryError:
        raise PrescriptionError("is a folder, not an order file", path) from None
    except OSError as exc:
        raise PrescriptionError(f"cannot read the file ({exc.strerror or exc})", path) from None
    except UnicodeDecodeError:
        raise PrescriptionError("is not a UTF-8 text file", path) from None
    records = _csv_records(path, text) if suffix == ".csv" else _json_records(path, text)
    base = path.resolve().parent
    orders = []
    for row, rec in records:
        order = _order_from_record(rec, str(path), row, base)
        if "_extra" in rec:
            order = Order.from_dict({**order.to_dict(), "problems": (rec["_extra"], *order.problems)})
        orders.append(order)
    return _mark_duplicates(orders)


def _mark_duplicates(orders: list[Order]) -> list[Order]:
    rows: dict[str, list[str]] = {}
    for o in orders:
        if not order_id_problem(o.order_id):
            rows.setdefault(o.order_id.casefold(), []).append(o.row)
    out = []
    for o in orders:
        same = rows.get(o.order_id.casefold(), [])
        if len(same) > 1:
            msg = (f"order_id {o.order_id!r} is used by more than one order ({', '.join(same)}): "
                   "each order needs its own id")
            o = Order.from_dict({**o.to_dict(), "problems": (*o.problems, msg)})
        out.append(o)
    return out


def order_prescriptions(order: Order) -> tuple[dict, list[str]]:
    """The prescription of each side (file + overrides + side overrides + the column's side), and warnings.

    Raises PrescriptionError with one line naming the prescription file or "overrides".
    """
    from orthogen.rx.load import load_prescription

    rxs, errors, warnings = {}, {}, []
    for side in order.scans:
        items = [*order.overrides, *order.side_overrides.get(side, ()), f"side={side}"]
        try:
            rxs[side] = load_prescription(order.prescription, items)
        except PrescriptionError as err:
            src = "overrides" if err.path == "--set" else f"prescription {err.path or ''}".strip()
            errors[side] = f"{src}: {err.problem.replace('--set: ', 'overrides: ')}"
    if errors:
        msgs = list(errors.values())
        text = msgs[0] if len(set(msgs)) == 1 else "; ".join(f"{s} side: {m}" for s, m in errors.items())
        raise PrescriptionError(text)
    for side, rx in rxs.items():
        warnings += [f"{side}: {w}" for w in rx.warnings()]
    return rxs, warnings


def check_order(order: Order) -> tuple[list[str], list[str]]:
    """Problems and warnings of one order, checked without measuring or building anything."""
    from orthogen.scan import SUPPORTED_EXTENSIONS

    problems = list(order.problems)
    warnings: list[str] = []
    for side, scan in order.scans.items():
        col, p = _SCAN_COLUMNS[side], Path(scan)
        if p.suffix.lower() not in SUPPORTED_EXTENSIONS:
            problems.append(f"{col} = {scan!r}: unsupported file type {p.suffix or '(none)'!r} "
                            f"(allowed: {', '.join(SUPPORTED_EXTENSIONS)})")
        elif not p.is_file():
            problems.append(f"{col} = {scan!r}: file not found")
    if order.prescription is not None and order.scans:
        try:
            warnings += order_prescriptions(order)[1]
        except OrthogenError as err:
            problems.append(str(err))
    return problems, warnings


def check_orders(path: str | Path) -> tuple[list[Order], list[str], list[str]]:
    """Parse and check a whole order file: orders, problems and warnings (each prefixed with where)."""
    orders = parse_orders(path)
    problems, warnings = [], []
    if not orders:
        problems.append(f"{path}: no orders in the file")
    for order in orders:
        p, w = check_order(order)
        problems += [f"{order.where}: {m}" for m in p]
        warnings += [f"{order.where}: {m}" for m in w]
    return orders, problems, warnings
