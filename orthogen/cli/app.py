"""The ``orthogen`` command line: thin wrappers around the pipeline functions.

Bad input ends with one line on stderr naming the file and the problem, and exit
code 2; an unexpected failure ends with one line and exit code 3, never a traceback
(set ORTHOGEN_DEBUG=1 to see it). Heavy modules are imported inside the commands
so ``orthogen --help`` starts fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from typer.core import TyperGroup

from orthogen.errors import OrthogenError

#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: The click that typer's command classes use (recent typer vendors its own as ``typer._click``).
_click = getattr(typer.core, "_click", None) or __import__("click")


#: Python type tags typer puts in help (``<list[Path]>``, ``<int range>``); choices like ``<mm|cm>`` stay.
_TYPE_TAG = re.compile(
    r" ?<(?:list\[[^\]<>]*\]|(?:int|float) range|int|float|str|text|path|file|directory|bool)>"
)


class _PlainHelpFormatter(_click.formatting.HelpFormatter):
    """Help rows without Python type tags."""

    def write_dl(self, rows, *args, **kwargs):  # type: ignore[override]
        rows = [(_TYPE_TAG.sub("", first), second) for first, second in rows]
        return super().write_dl(rows, *args, **kwargs)


class _PlainHelpContext(_click.Context):
    formatter_class = _PlainHelpFormatter


class OneLineErrors(TyperGroup):
    """The command group, with usage errors as one line (``orthogen: error: ...``) and exit code 2, and
    Ctrl-C as one line and exit code 130, whoever calls it (the console script or a test runner); help
    shows no Python types."""

    context_class = _PlainHelpContext

    def get_command(self, ctx, cmd_name):  # type: ignore[override]
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None and not issubclass(cmd.context_class, _PlainHelpContext):
            cmd.context_class = type(
                "PlainHelp" + cmd.context_class.__name__, (_PlainHelpContext, cmd.context_class), {}
            )
        return cmd

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except getattr(_click.exceptions, "NoArgsIsHelpError", ()) as err:
            _click.echo(err.ctx.get_help() if err.ctx else err.format_message())
            sys.exit(0)
        except _click.exceptions.UsageError as err:
            where = err.ctx.command_path if err.ctx is not None else "orthogen"
            message = " ".join(err.format_message().replace("Value error, ", "").split())
            _click.echo(f"orthogen: error: {message} (see '{where} --help')", err=True)
            sys.exit(2)
        except _click.exceptions.ClickException as err:
            _click.echo(f"orthogen: error: {' '.join(err.format_message().split())}", err=True)
            sys.exit(err.exit_code)
        except (_click.exceptions.Abort, KeyboardInterrupt):
            _click.echo("orthogen: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    help="orthogen: foot scan + prescription in, verified custom foot orthosis out.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from orthogen import __version__

        typer.echo(f"orthogen {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """orthogen: foot scan + prescription in, verified custom foot orthosis out."""


class UnitsOpt(StrEnum):
    auto = "auto"
    mm = "mm"
    cm = "cm"
    m = "m"


class SideOpt(StrEnum):
    auto = "auto"
    left = "left"
    right = "right"


class KindOpt(StrEnum):
    auto = "auto"
    full_foot = "full_foot"
    plantar_shell = "plantar_shell"
    impression = "impression"


def _fail(message: str, code: int) -> None:
    typer.echo(f"orthogen: error: {message}", err=True)
    raise typer.Exit(code)


def run_guarded(func):
    """Call ``func()``; turn OrthogenError into exit 2 and anything else into exit 3, one line each."""
    try:
        return func()
    except OrthogenError as err:
        _fail(str(err), err.exit_code)
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except MemoryError:
        _fail("out of memory (the scan is too large; decimate it)", 3)
    except Exception as err:
        if os.environ.get("ORTHOGEN_DEBUG"):
            raise
        _fail(f"internal error ({type(err).__name__}: {err}); please report it with the input files", 3)


ScanArg = Annotated[
    Path, typer.Argument(metavar="SCAN", help="Foot scan: STL, OBJ, PLY or Seraph .scan.", show_default=False)
]
UnitsArg = Annotated[UnitsOpt, typer.Option("--units", help="Units of the scan file (default: detect).")]
SideArg = Annotated[SideOpt, typer.Option("--side", help="Foot side (default: detect from geometry).")]
KindArg = Annotated[KindOpt, typer.Option("--kind", help="Scan kind (default: detect).")]
FootLengthArg = Annotated[
    float | None,
    typer.Option(
        "--foot-length", metavar="MM", help="Measured foot length in mm (needed for unscaled scans)."
    ),
]


@app.command("measure")
def measure_cmd(
    scan: ScanArg,
    units: UnitsArg = UnitsOpt.auto,
    side: SideArg = SideOpt.auto,
    kind: KindArg = KindOpt.auto,
    foot_length: FootLengthArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
) -> None:
    """Load, classify, align and measure a foot scan."""

    def job():
        from orthogen.foot.measure_scan import MeasureOptions, measure_scan

        opts = MeasureOptions(units=units.value, side=side.value, kind=kind.value, foot_length_mm=foot_length)
        return measure_scan(scan, opts)

    foot = run_guarded(job)
    report = foot.report()
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return
    _print_measure_table(report)


PrinterArg = Annotated[
    str | None,
    typer.Option(
        "--printer", help="Printer preset for the 3MF's bed and settings: mk3s (default), mk4, mini, xl."
    ),
]
BedArg = Annotated[
    str | None,
    typer.Option(
        "--bed", metavar="WxH", help="Printer bed in mm (e.g. 250x210, or 250x210x210 with the height)."
    ),
]
SliceArg = Annotated[
    bool,
    typer.Option(
        "--slice", help="Slice every 3MF with PrusaSlicer's CLI: print time, filament and cost in the report."
    ),
]
MaterialPriceArg = Annotated[
    float | None,
    typer.Option(
        "--material-price",
        metavar="PER_KG",
        help="Material price per kg for the cost (default: the material's).",
    ),
]
MachinePriceArg = Annotated[
    float | None,
    typer.Option(
        "--machine-price", metavar="PER_H", help="Printer price per hour for the cost (default 1.5)."
    ),
]


def print_options(printer, bed, slice_, material_price, machine_price, plates: bool = False):
    """PrintOptions from the print command-line options, or None when none was given."""
    if not (printer or bed or slice_ or plates or material_price is not None or machine_price is not None):
        return None
    from orthogen.printing.production import PrintOptions

    return PrintOptions.make(printer, bed, slice_, plates, material_price, machine_price)


def print_line(report: dict) -> str:
    """One line: material, printer, and the slice's time, grams and cost when sliced."""
    head = f"{report['material']} on {report['printer']}, turned {report['placement']['angle_deg']:g} deg"
    s = report.get("slice")
    if not s:
        return head
    cost = s["cost"]["total"]
    if s.get("print_time_s") is None:
        return f"{head}; {s['filament_g']:g} g, material cost {cost:.2f} (not sliced: powder-bed fusion)"
    return f"{head}; {s['print_time']}, {s['filament_m']:g} m / {s['filament_g']:g} g, cost {cost:.2f}"


class FormatOpt(StrEnum):
    stl = "stl"
    threemf = "3mf"


@app.command("design")
def design_cmd(
    scans: Annotated[
        list[Path],
        typer.Argument(metavar="SCAN [SCAN2]", help="One scan, or two (left and right) for a pair."),
    ],
    rx: Annotated[
        Path | None, typer.Option("--rx", metavar="FILE", help="Prescription file (YAML or TOML).")
    ] = None,
    assessment: Annotated[
        Path | None,
        typer.Option(
            "--assessment",
            metavar="FILE",
            help="Clinical assessment: the prescription is derived from it (--rx, --set win).",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Override a prescription key (repeatable)."),
    ] = None,
    units: UnitsArg = UnitsOpt.auto,
    side: SideArg = SideOpt.auto,
    kind: KindArg = KindOpt.auto,
    foot_length: FootLengthArg = None,
    out: Annotated[Path, typer.Option("-o", "--out", metavar="DIR", help="Output folder.")] = Path("output"),
    fmt: Annotated[
        FormatOpt, typer.Option("--format", help="Mesh format (STL always written).")
    ] = FormatOpt.stl,
    preview: Annotated[bool, typer.Option("--preview/--no-preview", help="Write a PNG preview.")] = True,
    printer: PrinterArg = None,
    bed: BedArg = None,
    slice_: SliceArg = False,
    material_price: MaterialPriceArg = None,
    machine_price: MachinePriceArg = None,
) -> None:
    """Design the insole for one scan (or a pair), verify it and write STL, JSON report and preview."""
    if len(scans) > 2:
        _fail(f"design takes one or two scans, got {len(scans)}", 2)

    def job():
        from orthogen.cli.design_job import design_files

        opts = print_options(printer, bed, slice_, material_price, machine_price)
        return design_files(
            scans,
            rx,
            list(set_ or []),
            out,
            units=units.value,
            side=side.value,
            kind=kind.value,
            foot_length_mm=foot_length,
            formats=("stl", fmt.value) if fmt.value != "stl" else ("stl",),
            preview=preview,
            assessment=assessment,
            print_options=opts,
        )

    results = run_guarded(job)
    for r in results:
        typer.echo(f"{r['stl']}  ({r['side']}, {r['triangles']} triangles, checks passed)")
        if r.get("print"):
            typer.echo(f"  print: {print_line(r['print'])}")
        for plate in r.get("plates") or []:
            names = ", ".join(o["name"] for o in plate["objects"])
            sliced = f"; {plate['slice']['print_time']}" if plate.get("slice") else ""
            typer.echo(f"  plate: {Path(out) / plate['file']} ({names}{sliced})")
        for w in r["warnings"]:
            typer.echo(f"warning: {w}", err=True)


@app.command("templates")
def templates_cmd() -> None:
    """List the insole templates, one line each."""
    from orthogen.rx.templates import list_templates

    for name, desc in run_guarded(list_templates):
        typer.echo(f"{name:<12} {desc}")


def _print_measure_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"orthogen measure: {report['file']}", show_header=True)
    table.add_column("measurement")
    table.add_column("value", justify="right")
    rows = [
        ("side", f"{report['side']} ({report['side_source']}, confidence {report['side_confidence']:.2f})"),
        ("units", f"{report['units']} ({report['units_source']})"),
        ("scan kind", f"{report['scan_kind']} ({report['scan_kind_source']})"),
        ("foot length", f"{report['foot_length_mm']:.1f} mm"),
        ("ball width", f"{report['ball_width_mm']:.1f} mm"),
        ("heel width", f"{report['heel_width_mm']:.1f} mm"),
        ("arch height", f"{report['arch_height_mm']:.1f} mm"),
        ("arch index", f"{report['arch_index']:.3f}"),
        ("Chippaux-Smirak index", f"{report['chippaux_smirak_index']:.1f} %"),
        ("foot type", f"{report['foot_type']} arch"),
        ("weight-bearing capture", "yes" if report["weight_bearing"] else "no"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console = Console()
    console.print(table)
    console.print(f"[dim]foot type: {report['definitions']['foot_type']}[/dim]")
    for w in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")


#: Modules that register more commands on ``app`` when imported (a small registry: one line per module).
COMMAND_MODULES = ("orthogen.cli.lab", "orthogen.cli.prescribe", "orthogen.cli.mill")


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name)


_register_commands()


#: Numeric-library thread pools capped at one thread in the command line's own process: a design is one
#: single-threaded pipeline, and starting numpy's and scipy's OpenBLAS thread pools costs about 0.2 s of
#: CPU per run (a sixth of a design). Set before numpy is first imported; a user's own setting wins.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    """Console-script entry point."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")
    try:
        app()
    except SystemExit as exc:
        raise SystemExit(exc.code) from None


if __name__ == "__main__":
    from orthogen.cli.app import main as _main

    _main()
