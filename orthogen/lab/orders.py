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
    "order_id",
    "patient_ref",
    "left_scan",
    "right_scan",
    "prescription",
    "overrides",
    "quantity",
    "formats",
    "notes",
    "assessment",
)
#: Columns every order file must have (and one of the scan columns).
REQUIRED_COLUMNS = ("order_id", "patient_ref", "prescription")
SIDES = ("left", "right")
FORMATS = ("stl", "3mf", "nc")
MAX_ID_CHARS = 64
#: An id becomes a folder and file names (``<id>_report.html``, ``.<id>.tmp-<pid>``): file systems
#: allow 255 bytes per name, so ids are limited in UTF-8 bytes too (an emoji takes 4).
MAX_ID_BYTES = 128
MAX_QUANTITY = 100
ID_RULES = (
    f"1 to {MAX_ID_CHARS} characters and at most {MAX_ID_BYTES} bytes in UTF-8, not starting with '.', "
    "without '/', '\\', '..', ':', control or invisible formatting characters or <>\"|?*, in Unicode NFC form"
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
    assessment: str | dict | None = None

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
    elif len(order_id.encode("utf-8")) > MAX_ID_BYTES:
        n = len(order_id.encode("utf-8"))
        why = f"is {n} bytes long in UTF-8 (too long for a folder and file name with its suffixes)"
    elif any(unicodedata.category(c) == "Cc" for c in order_id):
        why = "contains a control character"
    elif any(unicodedata.category(c) in ("Cf", "Co", "Cs", "Cn", "Zl", "Zp") for c in order_id):
        bad = next(c for c in order_id if unicodedata.category(c) in ("Cf", "Co", "Cs", "Cn", "Zl", "Zp"))
        why = (
            f"contains the invisible character U+{ord(bad):04X} ({unicodedata.name(bad, 'unnamed')}), so two "
            "ids that look the same could name different folders"
        )
    elif unicodedata.normalize("NFC", order_id) != order_id:
        why = (
            "is not in Unicode NFC form (decomposed accents, as some file systems write them), so it could "
            "look the same as another id and name a different folder; type it again"
        )
    elif "/" in order_id or "\\" in order_id or os.path.isabs(order_id):
        why = "contains a path separator and could escape the output folder"
    elif ".." in order_id:
        why = "contains '..' and could escape the output folder"
    elif order_id.startswith("."):
        why = "starts with '.' (hidden and reserved for temporary folders)"
    elif order_id != order_id.strip() or order_id.endswith("."):
        why = "starts or ends with a space or ends with '.'"
    elif any(c in '<>:"|?*' for c in order_id):
        why = 'contains a character not allowed in file names (<>:"|?*)'
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
    raw_assessment = rec.get("assessment")
    assessment = (
        raw_assessment
        if isinstance(raw_assessment, dict)
        else (_resolve(base, _text(raw_assessment)) if _text(raw_assessment) else None)
    )
    if not rx_text and assessment is None:
        problems.append("prescription is empty (give a .yaml/.yml/.toml prescription file or an assessment)")
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
        source=source,
        row=row,
        order_id=order_id,
        patient_ref=patient,
        scans=scans,
        prescription=_resolve(base, rx_text) if rx_text else None,
        overrides=tuple(common),
        side_overrides={k: tuple(v) for k, v in per_side.items()},
        quantity=quantity,
        formats=formats,
        notes=_text(rec.get("notes")),
        problems=tuple(problems),
        assessment=assessment,
    )


def _column_problem(name: str) -> str:
    close = difflib.get_close_matches(name, COLUMNS, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"unknown column {name!r} ({hint}allowed: {', '.join(COLUMNS)})"


def _norm_key(key: Any) -> str:
    return re.sub(r"[\s-]+", "_", str(key).strip()).lower()


def _duplicate_columns(names: list[str], shown: list[str]) -> str | None:
    """ "column 'left_scan' is given twice ('left_scan', 'Left Scan')", or None."""
    seen: dict[str, list[str]] = {}
    for norm, raw in zip(names, shown, strict=True):
        if norm:
            seen.setdefault(norm, []).append(raw)
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    if not twice:
        return None
    key, raws = next(iter(twice.items()))
    return (
        f"column {key!r} is given {len(raws)} times ({', '.join(map(repr, raws))}); each column once, "
        "or it is unclear which value counts"
    )


def _missing_columns(columns: set[str]) -> str | None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if "prescription" in missing and "assessment" in columns:  # the prescription is derived from it
        missing.remove("prescription")
    if not ({"left_scan", "right_scan"} & columns):
        missing.append("left_scan or right_scan")
    if not missing:
        return None
    what, verb = ("column", "is") if len(missing) == 1 else ("columns", "are")
    return f"{what} {', '.join(missing)} {verb} missing (columns: {', '.join(COLUMNS)})"


def _csv_records(path: Path, text: str) -> list[tuple[str, dict]]:
    import io

    reader = csv.reader(io.StringIO(text, newline=""))  # the csv module's own line ends: not U+2028
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
                twice = _duplicate_columns(header, [c.strip() for c in cells])
                if twice:
                    raise PrescriptionError(f"line {reader.line_num}: {twice}", path)
                missing = _missing_columns(set(header))
                if missing:
                    raise PrescriptionError(missing, path)
                continue
            rec = dict(zip(header, cells, strict=False))
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
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
        raise PrescriptionError('an order file in JSON is a list of orders (or {"orders": [...]})', path)
    out = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            out.append((f"order #{i}", {"_extra": f"is a {type(item).__name__}, not an object of columns"}))
            continue
        names = [_norm_key(k) for k in item]
        rec = dict(zip(names, item.values(), strict=True))
        unknown = [k for k in rec if k not in COLUMNS]
        twice = _duplicate_columns(names, [str(k) for k in item])
        extra = [*map(_column_problem, unknown), *([twice.replace("column", "key", 1)] if twice else [])]
        if extra:
            rec["_extra"] = "; ".join(extra)
        out.append((f"order #{i}", rec))
    missing = _missing_columns({k for _, rec in out for k in rec}) if out else None
    if missing:
        raise PrescriptionError(f"{missing.replace('column', 'key', 1)} in every order", path)
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


def _id_key(order_id: str) -> str:
    """Ids that look alike (case, compatibility forms) share a key: they would share a folder."""
    return unicodedata.normalize("NFKC", order_id).casefold()


def _mark_duplicates(orders: list[Order]) -> list[Order]:
    rows: dict[str, list[str]] = {}
    for o in orders:
        if not order_id_problem(o.order_id):
            rows.setdefault(_id_key(o.order_id), []).append(o.row)
    out = []
    for o in orders:
        same = rows.get(_id_key(o.order_id), []) if isinstance(o.order_id, str) else []
        if len(same) > 1:
            msg = (
                f"order_id {o.order_id!r} is used by more than one order ({', '.join(same)}): "
                "each order needs its own id"
            )
            o = Order.from_dict({**o.to_dict(), "problems": (*o.problems, msg)})
        out.append(o)
    return out


def order_prescriptions(order: Order) -> tuple[dict, list[str]]:
    """The prescription of each side (file + overrides + side overrides + the column's side), and warnings.

    Raises PrescriptionError with one line naming the prescription file or "overrides".
    """
    from orthogen.rx.files import read_prescription_file

    rxs, errors, warnings = {}, {}, []
    file_side = None
    if order.prescription is not None:
        try:
            file_side = read_prescription_file(order.prescription).get("side")
        except PrescriptionError:
            pass  # reported by load_prescription below
    for side in order.scans:
        if file_side in SIDES and file_side != side:
            errors[side] = (
                f"prescription {order.prescription}: side: {file_side} contradicts the {_SCAN_COLUMNS[side]} "
                f"column (use side: auto in a prescription for orders; the column names the side)"
            )
            continue
        try:
            rxs[side] = _side_prescription(order, side)[0]
        except PrescriptionError as err:
            src = f"prescription {err.path or ''}".strip()
            if err.path in ("--set", "overrides"):
                src = "overrides"
            elif err.path == "assessment":  # an inline assessment (JSON orders)
                src = "assessment"
            elif err.path is not None and err.path == order.assessment:
                src = f"assessment {err.path}"
            text = err.message("batch")
            if err.path and text.startswith(f"{err.path}: "):
                text = text[len(err.path) + 2 :]
            errors[side] = f"{src}: {text.replace('--set: ', 'overrides: ')}"
    if errors:
        msgs = list(errors.values())
        text = msgs[0] if len(set(msgs)) == 1 else "; ".join(f"{s} side: {m}" for s, m in errors.items())
        raise PrescriptionError(text)
    for side, rx in rxs.items():
        warnings += [f"{side}: {w}" for w in rx.warnings()]
    return rxs, warnings


def _side_prescription(order: Order, side: str) -> tuple[Any, Any]:
    """(prescription, derivation or None) of one side; an assessment is joined without scan findings here
    (the batch designs from it before the scans are measured)."""
    from orthogen.rx.assessed import holds_assessment, load_with_assessment

    items = [*order.overrides, *order.side_overrides.get(side, ())]
    if order.assessment is None and not holds_assessment(order.prescription):
        items.append(f"side={side}")  # with an assessment the side is the derivation's
    return load_with_assessment(order.prescription, items, order.assessment, side=side)


def order_why(order: Order) -> dict[str, tuple]:
    """The "why this device" rows per side of an order whose prescription comes from an assessment."""
    out = {}
    for side in order.scans:
        derivation = _side_prescription(order, side)[1]
        if derivation is not None:
            out[side] = derivation.why
    return out


def check_order(order: Order) -> tuple[list[str], list[str]]:
    """Problems and warnings of one order, checked without measuring or building anything."""
    from orthogen.scan import SUPPORTED_EXTENSIONS

    problems = list(order.problems)
    warnings: list[str] = []
    for side, scan in order.scans.items():
        col, p = _SCAN_COLUMNS[side], Path(scan)
        if p.suffix.lower() not in SUPPORTED_EXTENSIONS:
            problems.append(
                f"{col} = {scan!r}: unsupported file type {p.suffix or '(none)'!r} "
                f"(allowed: {', '.join(SUPPORTED_EXTENSIONS)})"
            )
        elif not p.is_file():
            problems.append(f"{col} = {scan!r}: file not found")
    if (order.prescription is not None or order.assessment is not None) and order.scans:
        from orthogen.rx.pair import check_pair

        try:
            rxs, rx_warnings = order_prescriptions(order)
            check_pair(rxs, order.prescription)
            warnings += rx_warnings
        except OrthogenError as err:
            problems.append(err.message("batch"))
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
