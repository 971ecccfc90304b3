"""The clinician report: one self-contained HTML page per order, readable in a minute.

It shows who and what the order is for, the foot measurements with the foot type and its
definition, the prescription as applied (left and right side by side for a pair) with warnings,
pictures from :mod:`orthogen.output.preview` (thickness map from above with a colour bar, medial profile,
heel section with the posting angle) and the output checks read back from the device mesh.
Everything is inline: CSS in a ``<style>`` element and pictures as base64 PNG data URLs, so the file
opens offline and can be mailed or archived on its own. The same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from orthogen import __version__

if TYPE_CHECKING:
    from orthogen.device.design import Design

PASS, FAIL, INFO = "pass", "fail", "info"
_MARK = {PASS: "&#10003;", FAIL: "&#10007;", INFO: "&#8226;"}

#: (foot report key, label, format) rows of the measurement table.
MEASUREMENTS = (
    ("foot_length_mm", "Foot length", "{:.1f} mm"),
    ("ball_width_mm", "Ball width", "{:.1f} mm"),
    ("heel_width_mm", "Heel width", "{:.1f} mm"),
    ("arch_height_mm", "Arch height (scan)", "{:.1f} mm"),
    ("arch_index", "Arch index", "{:.3f}"),
    ("chippaux_smirak_index", "Chippaux-Smirak index", "{:.1f} %"),
    ("foot_type", "Foot type", "{} arch"),
)
#: Prescription keys shown, in lab-form order (accommodations are summarised after them).
RX_KEYS = (
    "template",
    "length",
    "shell_thickness_mm",
    "top_cover_mm",
    "heel_cup_depth_mm",
    "arch_height_mm",
    "arch_fill_mm",
    "rearfoot_post_deg",
    "forefoot_post_deg",
    "medial_heel_skive_mm",
    "heel_lift_mm",
    "heel_lift_side",
    "medial_flange_mm",
    "lateral_flange_mm",
)
ACCOMMODATIONS = ("met_pad", "met_bar", "first_mpj_cutout", "heel_spur_pocket", "mortons_extension")

CSS = """
body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;color:#1b1f24;margin:0;background:#f3f5f7}
main{max-width:1140px;margin:0 auto;padding:18px 26px 30px;background:#fff}
h1{font-size:23px;margin:4px 0 2px}
h2{font-size:17px;margin:22px 0 8px;border-bottom:2px solid #1f4e79;padding-bottom:3px;color:#1f4e79}
h3{font-size:14px;margin:12px 0 6px;color:#1f4e79}
.sub{color:#555;font-size:13px;margin:0 0 10px}
.facts{display:flex;flex-wrap:wrap;gap:8px 26px;font-size:14px;margin:8px 0}.facts b{color:#1f4e79}
.badge{display:inline-block;padding:6px 12px;border-radius:5px;font-weight:bold;font-size:14px;margin:6px 0}
.ok{background:#e3f4e6;color:#17602a;border:1px solid #9fd3aa}
.bad{background:#fde7e7;color:#8a1c1c;border:1px solid #f0a9a9}
.warnbox{background:#fff6dd;border:1px solid #f0cf73;border-radius:5px;padding:6px 14px;font-size:13.5px}
.warnbox li{margin:3px 0}
table{border-collapse:collapse;font-size:13.5px;width:100%}table.sides{table-layout:fixed}
th,td{padding:4px 9px;border-bottom:1px solid #e1e4e8;text-align:left}th{background:#eef2f6}
th:first-child,td:first-child{width:30%}td.num{font-variant-numeric:tabular-nums}
tr.diff td{background:#fff3cd}
td.mark{width:22px;padding-right:0;font-weight:bold;text-align:center}
.pass{color:#17802f}.fail{color:#b42318}.info{color:#8a94a0}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:14px}
img{width:100%;border:1px solid #d0d7de;border-radius:4px;box-sizing:border-box}
figcaption,.def{font-size:12.5px;color:#555;margin:4px 0 10px}
.foot{font-size:11.5px;color:#777;margin-top:14px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}{unit}"
    if isinstance(value, int):
        return f"{value}{unit}"
    if isinstance(value, dict):
        if set(value) == {"system", "size"}:
            return f"{value['system']} {value['size']:g}"
        parts = (f"{k.removesuffix('_mm').replace('_', ' ')} {_fmt(v, _unit(k))}" for k, v in value.items())
        return ", ".join(parts)
    return str(value)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()) -> str:
    """HTML table; cells are already escaped HTML."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(row) + "</tr>")
    return f'<table class="sides"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _unit(key: str) -> str:
    return " mm" if key.endswith("_mm") else "°" if key.endswith("_deg") else ""


def _rx_rows(designs: Mapping[str, Design]) -> tuple[list[list[str]], list[str]]:
    from orthogen.rx.model import Prescription

    applied = {s: d.prescription.as_applied() for s, d in designs.items()}
    rows, classes = [], []
    for key in (*RX_KEYS, *ACCOMMODATIONS, "foot_length_mm", "shoe_size", "label"):
        vals = [applied[s].get(key) for s in designs]
        if key in (*ACCOMMODATIONS, "foot_length_mm", "shoe_size", "label") and all(v is None for v in vals):
            continue
        title = Prescription.model_fields[key].title or key
        cells = [f"<td>{_e(title)}</td>"] + [f"<td>{_e(_fmt(v, _unit(key)))}</td>" for v in vals]
        rows.append(cells)
        classes.append("diff" if len({repr(v) for v in vals}) > 1 else "")
    return rows, classes


def _check_rows(designs: Mapping[str, Design]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``(label, [(mark, text) per side])``: the solid's checks, then every clinical check measured on
    the mesh (prescribed against measured, pass or fail), as the device report has them."""
    from orthogen.device.design import MIN_THICKNESS_RULE

    reports = {s: d.report() for s, d in designs.items()}

    def ok(flag: bool) -> str:
        return PASS if flag else FAIL

    solid = [
        ("Closed surface (watertight)", lambda c: (ok(c["watertight"]), _fmt(c["watertight"]))),
        (
            "Consistent faces, manifold",
            lambda c: (
                ok(c["winding_consistent"] and c["manifold"]),
                _fmt(c["winding_consistent"] and c["manifold"]),
            ),
        ),
        ("One solid body", lambda c: (ok(c["bodies"] == 1), f"{c['bodies']} body")),
        (
            "Sits flat (lowest point z = 0)",
            lambda c: (ok(abs(c["min_z_mm"]) <= 1e-3), f"{c['min_z_mm']:.3f} mm"),
        ),
        ("Minimum thickness", lambda c: (INFO, f"{c['min_thickness_mm']:.2f} mm ({MIN_THICKNESS_RULE})")),
        ("Length × width", lambda c: (INFO, f"{c['length_mm']:.0f} × {c['width_mm']:.0f} mm")),
    ]
    rows = [(label, [cell(reports[s]["checks"]) for s in designs]) for label, cell in solid]
    labels = list(dict.fromkeys(i["check"] for r in reports.values() for i in r["intent"]))
    for label in labels:
        cells = []
        for s in designs:
            item = next((i for i in reports[s]["intent"] if i["check"] == label), None)
            if item is None:
                cells.append((INFO, "—"))
                continue
            unit = item["unit"]
            got = "—" if item["measured"] is None else f"{item['measured']:g} {unit}"
            want = {"max": "≤ ", "min": "≥ "}.get(item["kind"], "")
            if item["kind"] == "info" or item["prescribed"] is None:
                cells.append((INFO, got))
            else:
                tol = f" ± {item['tolerance']:g}" if item["kind"] == "equal" else ""
                cells.append((ok(item["pass"]), f"{got} (Rx {want}{item['prescribed']:g}{tol})"))
        rows.append((label[:1].upper() + label[1:], cells))
    return rows


def _check_table(rows: list[tuple[str, list[tuple[str, str]]]], heads: Sequence[str]) -> str:
    th = "<th>Check</th>" + "".join(f'<th colspan="2">{_e(h)}</th>' for h in heads)
    body = "".join(
        f"<tr><td>{_e(label)}</td>"
        + "".join(f'<td class="mark {m}">{_MARK[m]}</td><td class="num">{_e(t)}</td>' for m, t in cells)
        + "</tr>"
        for label, cells in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _warning_list(designs: Mapping[str, Design], extra: Mapping[str, Sequence[str]]) -> list[str]:
    """Warnings, prescription ones first; the same text on both feet is listed once."""
    per_side: dict[str, list[str]] = {}
    for side, d in designs.items():
        rx_w = d.prescription.warnings()
        other = [w for w in d.warnings if w not in rx_w]
        per_side[side] = list(dict.fromkeys([*rx_w, *extra.get(side, ()), *other]))
    items: list[str] = []
    seen: set[str] = set()
    for side, ws in per_side.items():
        for w in ws:
            if w in seen:
                continue
            seen.add(w)
            both = len(designs) == 2 and all(w in v for v in per_side.values())
            who = "Both feet" if both else f"{side.capitalize()}"
            items.append(f"<li><b>{who}:</b> {_e(w)}</li>")
    return items


def _header(order: Mapping[str, Any], designs: Mapping[str, Design], passed: bool) -> list[str]:
    oid, patient = str(order.get("order_id", "")), str(order.get("patient_ref", ""))
    first = next(iter(designs.values()))
    facts = [
        ("Patient", patient),
        ("Order", oid),
        ("Device", " + ".join(s.capitalize() for s in designs)),
        ("Quantity", order.get("quantity", 1)),
        ("Template", first.prescription.template),
        ("Prescription", order.get("prescription") or "defaults"),
    ]
    parts = [
        f"<h1>Custom foot orthosis &mdash; order {_e(oid)}</h1>",
        f'<p class="sub">Clinician report, orthogen {_e(__version__)}. Lengths in mm, angles in degrees; '
        "posting + = varus (medial side raised).</p>",
        '<div class="facts">' + "".join(f"<span>{k} <b>{_e(v)}</b></span>" for k, v in facts) + "</div>",
    ]
    if order.get("overrides"):
        parts.append(f'<p class="def">Order overrides: {_e("; ".join(order["overrides"]))}</p>')
    if order.get("notes"):
        parts.append(f'<p class="def">Notes: {_e(order["notes"])}</p>')
    parts.append(
        '<div class="badge ok">&#10003; Output checks passed &mdash; ready to print</div>'
        if passed
        else '<div class="badge bad">&#10007; An output check failed &mdash; do not print</div>'
    )
    return parts


def _measurements(reports: Mapping[str, dict]) -> list[str]:
    sides = list(reports)
    rows = []
    for key, label, fmt in MEASUREMENTS:
        cells = [f"<td>{_e(label)}</td>"]
        for s in sides:
            v = reports[s]["foot"].get(key)
            cells.append(f'<td class="num">{_e(fmt.format(v) if v is not None else "n/a")}</td>')
        rows.append(cells)
    rows.append(["<td>Scan</td>", *(f"<td>{_e(_scan_line(reports[s]['foot']))}</td>" for s in sides)])
    d = reports[sides[0]]["foot"]["definitions"]
    return [
        "<h2>Foot measurements</h2>",
        _table(["", *(s.capitalize() for s in sides)], rows),
        f'<p class="def"><b>Foot type</b>: {_e(d["foot_type"])}. <b>Arch index</b>: {_e(d["arch_index"])}. '
        f"<b>Arch height</b>: {_e(d['arch_height_mm'])}.</p>",
    ]


def _why_section(why: Mapping[str, Sequence[Any]]) -> list[str]:
    """ "Why this device": finding -> rule -> value rows per side (once when both feet have the same)."""
    sides = [s for s in ("left", "right") if s in why] or list(why)
    groups = (
        [("Both feet", why[sides[0]])]
        if len(sides) == 2 and why[sides[0]] == why[sides[1]]
        else [(s.capitalize(), why[s]) for s in sides]
    )
    parts = [
        "<h2>Why this device</h2>",
        '<p class="def">Each finding of the assessment and the scan, the rule it triggered and the '
        "value it set (sources: orthogen's clinical rules table).</p>",
    ]
    for title, rows in groups:
        if len(groups) > 1 or len(sides) == 2:
            parts.append(f"<h3>{_e(title)}</h3>")
        body = [
            [
                f"<td>{_e(r.finding)}</td>",
                f"<td>{_e(r.rule)}</td>",
                f"<td>{_e(r.value)}</td>",
                f"<td>{_e(', '.join(r.sources))}</td>",
            ]
            for r in rows
        ]
        parts.append(_table(["Finding", "Rule", "Value set", "Sources"], body))
    return parts


def render_report(
    order: Mapping[str, Any],
    designs: Mapping[str, Design],
    previews: Mapping[str, bytes] | None = None,
    pair_picture: bytes | None = None,
    extra_warnings: Mapping[str, Sequence[str]] | None = None,
    files: Sequence[str] = (),
    why: Mapping[str, Sequence[Any]] | None = None,
    prints: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """The clinician report of one order as a self-contained HTML page.

    Parameters
    ----------
    order : order facts: ``order_id``, ``patient_ref`` and optionally ``quantity``, ``notes``,
        ``prescription`` (file name) and ``overrides`` (list of ``key=value``).
    designs : the finished devices by side (``"left"``/``"right"``), one or two.
    previews : preview PNG per side (``orthogen.output.preview.preview_png``); rendered when missing.
    pair_picture : the pair PNG (``orthogen.output.preview.pair_png``); rendered for a pair when missing.
    extra_warnings : order-level warnings per side, shown with the design's own.
    files : output file names listed at the bottom.
    why : per side, the rows of the "why this device" table (``orthogen.rx.clinical_rules.WhyRow``:
        ``finding``, ``rule``, ``value``, ``sources``) when the prescription came from an assessment.
    prints : per side, the device's print report (the JSON report's ``print``: material, printer, zones,
        slice with time, filament and cost) for the "Printing" section.

    Returns
    -------
    str
        The HTML text (UTF-8, no external resources).
    """
    from orthogen.output import preview

    designs = {s: designs[s] for s in ("left", "right") if s in designs}
    if why and not order.get("prescription"):
        order = {**order, "prescription": "from the assessment"}
    sides, heads = list(designs), [s.capitalize() for s in designs]
    previews = dict(previews or {})
    for side, d in designs.items():
        if side not in previews:
            previews[side] = preview.preview_png(d)
    if len(designs) == 2 and pair_picture is None:
        pair_picture = preview.pair_png(designs["left"], designs["right"])
    reports = {s: d.report() for s, d in designs.items()}
    checks = _check_rows(designs)
    parts = _header(order, designs, all(m != FAIL for _, cells in checks for m, _ in cells))
    warnings = _warning_list(designs, extra_warnings or {})
    if warnings:
        box = f'<div class="warnbox"><ul>{"".join(warnings)}</ul></div>'
        parts += [f"<h2>Warnings ({len(warnings)})</h2>", box]
    else:
        parts.append('<p class="def">No warnings for this order.</p>')
    parts += _measurements(reports)
    if why:
        parts += _why_section(why)
    rx_rows, rx_classes = _rx_rows(designs)
    parts += ["<h2>Prescription as applied</h2>", _table(["", *heads], rx_rows, rx_classes)]
    if len(sides) == 2:
        parts.append('<p class="def">Highlighted rows differ between the feet.</p>')
    if prints:
        parts += _print_section(prints, sides, heads)
    parts.append("<h2>Device pictures</h2>")
    if pair_picture is not None:
        parts.append(_img(pair_picture, "left and right devices from above and heel sections"))
        parts.append(
            "<figcaption>Both devices on one thickness scale, and their heel sections seen from "
            "behind with the posting angle.</figcaption>"
        )
        cols = "".join(f"<div>{_img(previews[s], f'{s} device')}</div>" for s in sides)
        parts.append(f'<div class="cols">{cols}</div>')
        parts.append(
            "<figcaption>Each device in detail: thickness from above, medial profile with the arch "
            "peak and heel-cup rim, heel section (zoom in for full resolution).</figcaption>"
        )
    else:
        parts.append(_img(previews[sides[0]], f"{sides[0]} device"))
    legend = ", ".join(
        f'<span class="{k}">{_MARK[k]}</span> {t}'
        for k, t in ((PASS, "passed"), (FAIL, "failed"), (INFO, "measured for information"))
    )
    parts += [
        "<h2>Output checks (read back from the device mesh)</h2>",
        _check_table(checks, heads),
        f'<p class="def">{legend}.</p>',
    ]
    if files:
        parts.append(f'<p class="foot">Files: {_e(", ".join(files))}</p>')
    parts.append(f'<p class="foot">Scans: {_e(", ".join(str(reports[s]["scan"]) for s in sides))}</p>')
    title = f"Order {order.get('order_id', '')} - {order.get('patient_ref', '')}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{CSS}</style></head><body><main>\n" + "\n".join(parts) + "\n</main></body></html>\n"
    )


def _print_rows(p: Mapping[str, Any]) -> dict[str, str]:
    """One device's print report as the Printing table's texts, by row label."""
    rows = {
        "Material": f"{p['material']} ({p['reference']})",
        "Printer": f"{p['bed'].removeprefix('the ')}, the device turned {p['placement']['angle_deg']:g}°",
    }
    for zone, z in p.get("zones", {}).items():
        rows[f"Zone: {zone.replace('_', ' ')}"] = f"{z['stiffness']}: {z['settings']}"
    s = p.get("slice")
    if not s:
        rows["Print time"] = "not sliced (run with --slice)"
        return rows
    rows["Print time"] = s.get("print_time") or "not estimated (powder-bed fusion)"
    used = f"{s['filament_g']:g} g"
    rows["Material used"] = f"{s['filament_m']:g} m, {used}" if s.get("filament_m") else used
    c = s["cost"]
    machine = f", machine {c['machine']:.2f}" if c.get("machine") is not None else ""
    rows["Cost"] = f"{c['total']:.2f} (material {c['material']:.2f}{machine})"
    return rows


def _print_section(
    prints: Mapping[str, Mapping[str, Any]], sides: Sequence[str], heads: Sequence[str]
) -> list[str]:
    """Printing: material, printer, stiffness zones and, when sliced, time, filament and cost."""
    texts = {s: _print_rows(prints[s]) if prints.get(s) else {} for s in sides}
    labels = list(dict.fromkeys(k for t in texts.values() for k in t))
    rows = [[f"<td>{_e(k)}</td>", *(f"<td>{_e(texts[s].get(k, 'n/a'))}</td>" for s in sides)] for k in labels]
    return [
        "<h2>Printing</h2>",
        _table(["", *heads], rows),
        '<p class="def">Zones are slicer modifier volumes in the 3MF, placed from the foot\'s landmarks; '
        "time, filament and cost are PrusaSlicer's own estimate for the device alone.</p>",
    ]


def _scan_line(foot: Mapping[str, Any]) -> str:
    wb = "weight-bearing" if foot.get("weight_bearing") else "non-weight-bearing"
    return (
        f"{foot.get('scan_kind')}, {wb}, units {foot.get('units')} ({foot.get('units_source')}), "
        f"side {foot.get('side_source')}"
    )
