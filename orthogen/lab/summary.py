"""The batch summary: ``summary.csv`` and ``summary.json``, one row per order and side.

The summary is rewritten while the batch runs, so it never claims more than is true: at the start every
order to be designed is ``pending`` (an earlier ``done`` for inputs that have since changed no longer
shows), then each result replaces its row. An interrupted batch marks what did not finish
``interrupted``. Cells a spreadsheet would run as a formula (starting with ``= + - @``, tab or carriage
return) are written with a leading ``'`` (OWASP CSV injection advice). A ``summary.csv`` that orthogen
did not write is never overwritten.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from orthogen.errors import OrthogenError
from orthogen.printing.lab import SUMMARY_COLUMNS as PRINT_COLUMNS

SUMMARY_COLUMNS = (
    "order_id", "patient_ref", "side", "status", "reason", "scan", "quantity",
    "foot_length_mm", "ball_width_mm", "heel_width_mm", "arch_height_mm", "arch_index", "foot_type",
    "heel_lift_mm", "rearfoot_post_deg", "construction", "heel_seat_deg", "volume_cm3", "min_thickness_mm",
    "warnings", "files", "measure_s", "design_s", "order_s", *PRINT_COLUMNS,
)  # fmt: skip
SUMMARY_FILES = ("summary.csv", "summary.json")
STATUSES = ("done", "skipped", "failed", "pending", "interrupted")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def side_rows(order_dict: dict) -> list[dict]:
    """Placeholder sides of an order that has no results (one per scan column, or one empty)."""
    rows = [{"side": s, "scan": p} for s, p in order_dict.get("scans", {}).items()]
    return rows or [{"side": "", "scan": ""}]


def status_result(order_dict: dict, status: str, reason: str) -> dict:
    """The result of an order without devices: ``failed``, ``pending`` or ``interrupted`` with a reason."""
    return {
        "order_id": str(order_dict.get("order_id", "")), "patient_ref": order_dict.get("patient_ref", ""),
        "row": order_dict.get("row", ""), "quantity": order_dict.get("quantity", 1), "status": status,
        "reason": _one_line(reason), "sides": side_rows(order_dict), "files": {}, "timings": {},
    }  # fmt: skip


def summary_rows(results: list[dict]) -> list[dict]:
    """One flat row per order and side (the columns of summary.csv)."""
    rows = []
    for r in results:
        t = r.get("timings", {})
        for s in r.get("sides", []):
            m, dev = s.get("measurements", {}), s.get("device", {})
            row = {
                "order_id": r["order_id"], "patient_ref": r.get("patient_ref", ""), "side": s.get("side", ""),
                "status": r["status"], "reason": r.get("reason", ""), "scan": s.get("scan", ""),
                "quantity": r.get("quantity", ""), **m, **dev,
                "warnings": " | ".join(s.get("warnings", [])), "files": " ".join(s.get("files", [])),
                "measure_s": t.get("measure_s"), "design_s": t.get("design_s"), "order_s": t.get("order_s"),
            }  # fmt: skip
            rows.append({k: ("" if row.get(k) is None else row.get(k)) for k in SUMMARY_COLUMNS})
    return rows


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading ``'``; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def summary_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: csv_safe(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _header() -> str:
    return ",".join(SUMMARY_COLUMNS)


def check_summary_is_ours(out_dir: Path) -> None:
    """Refuse to overwrite a ``summary.csv``/``summary.json`` that orthogen did not write."""
    import json

    csv_path, json_path = (out_dir / name for name in SUMMARY_FILES)
    problems = []
    if csv_path.exists() or csv_path.is_symlink():
        try:
            with open(csv_path, encoding="utf-8", newline="") as fh:
                first = fh.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError):
            first = None
        if first != _header() or csv_path.is_symlink():
            problems.append(csv_path)
    if json_path.exists() or json_path.is_symlink():
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
            ours = isinstance(data, dict) and "orthogen_version" in data.get("batch", {})
            ours = ours and not json_path.is_symlink()
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            problems.append(json_path)
    if problems:
        raise OrthogenError(
            f"{problems[0]} exists and was not written by orthogen: move it away or use another output folder"
        )


def write_summary(out_dir: Path, results: list[dict], meta: dict) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``summary.json`` atomically (OSError propagates)."""
    from orthogen.output.export import atomic_write, json_text

    rows = summary_rows(results)
    text = summary_csv(rows)
    js = json_text({"batch": meta, "rows": rows, "orders": results})
    paths = []
    for name, content in zip(SUMMARY_FILES, (text, js), strict=True):

        def write(p: Path, content: str = content) -> None:
            p.write_text(content, encoding="utf-8")

        paths.append(atomic_write(out_dir / name, write))
    return paths[0], paths[1]


def counts(results: list[dict]) -> dict[str, int]:
    """How many orders have each status."""
    return {k: sum(r["status"] == k for r in results) for k in STATUSES}
