"""Lab workflow commands: ``orthogen batch``, ``orthogen validate`` and ``orthogen init-rx``.

Imported by :mod:`orthogen.cli.app` at the end, so the commands register on its ``app``. Problems with
the input end with one line each on stderr and exit code 2 (``run_guarded`` / ``_fail``);
``batch`` exits 1 when some orders failed (their reasons are in ``summary.csv``).
"""

from __future__ import annotations

import json
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from orthogen.cli.app import (
    EXIT_INTERRUPTED,
    BedArg,
    MachinePriceArg,
    MaterialPriceArg,
    PrinterArg,
    SliceArg,
    _fail,
    app,
    print_options,
    run_guarded,
)

RX_SUFFIXES = (".yaml", ".yml", ".toml")
ORDER_SUFFIXES = (".csv", ".json")


class ExecutorOpt(StrEnum):
    local = "local"
    dask = "dask"


@app.command("batch")
def batch_cmd(
    orders: Annotated[
        Path, typer.Argument(metavar="ORDERS", help="Order file (.csv or .json); see templates/orders.md.")
    ],
    out: Annotated[
        Path, typer.Option("-o", "--out", metavar="DIR", help="Output folder: one sub-folder per order.")
    ],
    workers: Annotated[
        int | None,
        typer.Option("--workers", metavar="N", min=1, help="Worker processes, at least 1 (default: CPUs)."),
    ] = None,
    executor: Annotated[
        ExecutorOpt, typer.Option("--executor", help="local process pool, or an existing dask cluster.")
    ] = ExecutorOpt.local,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", metavar="ADDRESS", help="dask scheduler, e.g. tcp://host:8786."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Redo orders that are already complete.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or order lines.")] = False,
    printer: PrinterArg = None,
    bed: BedArg = None,
    slice_: SliceArg = False,
    plates: Annotated[
        bool,
        typer.Option("--plates", help="Pack every finished device onto as few plates as fit (DIR/plates)."),
    ] = False,
    material_price: MaterialPriceArg = None,
    machine_price: MachinePriceArg = None,
) -> None:
    """Design every order of an order file; rerunning skips the orders that are already complete."""
    if executor is ExecutorOpt.local:
        from orthogen.lab.executors import start_fork_server

        start_fork_server()  # the workers' imports start now, beside the command's own start-up
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if scheduler and executor is not ExecutorOpt.dask:
        _fail("--scheduler needs --executor dask", 2)
    console = Console(stderr=True, highlight=False)
    progress = Progress(
        TextColumn("orders"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        disable=quiet or not console.is_terminal,
    )
    task: list[Any] = []

    def on_start(n: int) -> None:
        task.append(progress.add_task("", total=n))

    def on_result(r: dict) -> None:
        progress.update(task[0], advance=1, description=f"{r['order_id']} {r['status']}"[:40])
        if r["status"] == "failed" and not quiet:
            progress.console.print(f"failed: {r['order_id']!r}: {r['reason']}", markup=False, soft_wrap=True)

    def job() -> dict:
        from orthogen.lab.batch import run_batch

        opts = print_options(printer, bed, slice_, material_price, machine_price, plates)
        with progress:
            return run_batch(
                orders,
                out,
                workers=workers,
                executor=executor.value,
                scheduler=scheduler,
                force=force,
                on_result=on_result,
                on_start=on_start,
                print_options=opts.as_dict() if opts else None,
            )

    from orthogen.lab.batch import BatchInterrupted

    try:
        meta = run_guarded(job)["batch"]
    except BatchInterrupted as stop:
        m = stop.summary["batch"]
        typer.echo(
            f"orthogen: interrupted: {m['done']} done, {m['skipped']} skipped, {m['failed']} failed, "
            f"{m['interrupted']} not finished of {m['orders']} orders; summary: {Path(out) / 'summary.csv'}",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    typer.echo(
        f"{meta['orders']} orders: {meta['done']} done, {meta['skipped']} skipped, {meta['failed']} failed "
        f"in {meta['seconds']:.1f} s; summary: {Path(out) / 'summary.csv'}"
    )
    plated = meta.get("plates")
    if plated:
        typer.echo(
            f"{plated['objects']} devices on {len(plated['plates'])} plates ({plated['printer']}): "
            f"{Path(out) / 'plates'}"
        )
        for p in plated["plates"]:
            if p.get("failed"):
                typer.echo(f"failed: plate {p['file']}: {p['failed']}", err=True)
    if meta["failed"] or (plated and plated["failed"]):
        raise typer.Exit(1)


@app.command("validate")
def validate_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="Prescription or assessment (.yaml/.yml/.toml) or order file (.csv/.json)."
        ),
    ],
) -> None:
    """Check a prescription, assessment or order file without building anything; exit 2 on any problem."""
    suffix = path.suffix.lower()
    if suffix in RX_SUFFIXES:
        from orthogen.rx.assessed import check_file

        checked = run_guarded(lambda: check_file(path))  # a prescription, or an assessment for each foot
        warned = (w for _, rx, d in checked for w in (*(d.warnings if d else ()), *rx.warnings()))
        for w in dict.fromkeys(warned):
            typer.echo(f"warning: {path}: {w}", err=True)
        what = "assessment, prescription" if checked[0][2] else "prescription"
        typer.echo(f"ok: {path}: valid {what} (template {checked[0][1].template})")
        return
    if suffix not in ORDER_SUFFIXES:
        _fail(
            f"{path}: cannot validate a {path.suffix or 'file without extension'!r} file "
            f"(prescriptions: {', '.join(RX_SUFFIXES)}; order files: {', '.join(ORDER_SUFFIXES)})",
            2,
        )
    from orthogen.lab.orders import check_orders

    orders, problems, warnings = run_guarded(lambda: check_orders(path))
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    for p in problems:
        typer.echo(f"orthogen: error: {p}", err=True)
    if problems:
        raise typer.Exit(2)
    pairs = sum(len(o.scans) == 2 for o in orders)
    typer.echo(f"ok: {path}: {len(orders)} orders ({pairs} of them pairs), scans found, prescriptions valid")


@app.command("init-rx")
def init_rx_cmd(
    template: Annotated[
        str, typer.Option("--template", metavar="NAME", help="Template giving the values.")
    ] = "standard",
    out: Annotated[
        Path | None, typer.Option("-o", "--out", metavar="FILE", help="File to write (default: stdout).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starting prescription with a template's defaults as the active values."""
    text = run_guarded(lambda: starting_prescription(template))
    if out is None:
        sys.stdout.write(text)
        return
    if out.exists() and not force:
        _fail(f"{out}: already exists (use --force to overwrite)", 2)

    def write() -> Path:
        from orthogen.errors import output_error
        from orthogen.output.export import atomic_write

        try:
            return atomic_write(out, lambda p: p.write_text(text, encoding="utf-8"))
        except OSError as exc:
            raise output_error(exc, out) from None

    run_guarded(write)
    typer.echo(f"wrote {out} (template {template})", err=True)


_KEY_LINE = re.compile(r"^(# ?)?([a-z_][a-z0-9_]*):(?:\s.*)?$")
_CHILD_LINE = re.compile(r"^(#\s{2,}|\s+)([a-z_][a-z0-9_]*):\s*(\S[^#]*?)?\s*(#.*)?$")


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    return text if re.fullmatch(r"[A-Za-z0-9_.-]+", text) else json.dumps(text)


def starting_prescription(name: str) -> str:
    """``templates/example_rx.yaml`` with template ``name``'s defaults as the only active values.

    Every other key stays in the file as a comment with its range and default, so the clinician
    uncomments what the patient needs. Raises PrescriptionError for an unknown template.
    """
    from orthogen.rx.model import Prescription
    from orthogen.rx.templates import load_template, templates_dir

    tpl = load_template(name)
    values = {"template": name, **tpl["defaults"]}
    lines = (templates_dir() / "example_rx.yaml").read_text(encoding="utf-8").splitlines()
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        m = _KEY_LINE.match(line)
        if m and m.group(2) in Prescription.model_fields:
            last[m.group(2)] = i
    for key, i in last.items():
        j = i + 1
        while j < len(lines) and _CHILD_LINE.match(lines[j]):
            j += 1
        children = range(i + 1, j)
        if key not in values:
            for k in (i, *children):
                if not lines[k].startswith("#"):
                    lines[k] = "# " + lines[k]
            continue
        value = values.pop(key)
        if not isinstance(value, dict):
            lines[i] = f"{key}: {_yaml_value(value)}"
            continue
        lines[i] = f"{key}:"
        sub = dict(value)
        for k in children:
            m = _CHILD_LINE.match(lines[k])
            if m and m.group(2) in sub:
                note = f"  {m.group(4)}" if m.group(4) else ""
                lines[k] = f"  {m.group(2)}: {_yaml_value(sub.pop(m.group(2)))}{note}"
            elif not lines[k].startswith("#"):
                lines[k] = "# " + lines[k]
        lines[j - 1] += "".join(f"\n  {k}: {_yaml_value(v)}" for k, v in sub.items())
    if values:
        lines.append("\n# --- further template defaults")
        lines += [f"{k}: {_yaml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
        lines += [
            f"{k}:\n" + "".join(f"  {a}: {_yaml_value(b)}\n" for a, b in v.items())
            for k, v in values.items()
            if isinstance(v, dict)
        ]
    head = (
        f"# orthogen starting prescription from template '{name}' (written by `orthogen init-rx`).\n"
        f"# {' '.join(str(tpl.get('description', '')).split())}\n"
        "# Active values are the template's defaults; uncomment and edit a key to prescribe it.\n"
        "# Check it with `orthogen validate FILE`.\n#\n"
    )
    body = "\n".join(lines[1:]) if lines and lines[0].startswith("# orthogen example") else "\n".join(lines)
    return head + body + "\n"
