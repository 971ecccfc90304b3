"""``orthogen prescribe ASSESSMENT [SCAN] -o rx.yaml``: a prescription from a clinical assessment.

Every value of the written prescription has its reason in the comment above it (finding -> rule ->
value, with the rule's sources).  With a scan, what it measures (arch index, foot type, arch height and,
when measured, the forefoot-to-rearfoot angle) joins the findings.  Imported by
:mod:`orthogen.cli.app` (``COMMAND_MODULES``), so the command registers on its ``app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orthogen.cli.app import (
    FootLengthArg,
    KindArg,
    KindOpt,
    SideArg,
    SideOpt,
    UnitsArg,
    UnitsOpt,
    _fail,
    app,
    run_guarded,
)


@app.command("prescribe")
def prescribe_cmd(
    assessment: Annotated[
        Path,
        typer.Argument(
            help="Assessment (.yaml/.yml/.toml/.json), or a prescription with an assessment: section.",
            show_default=False,
        ),
    ],
    scan: Annotated[
        Path | None, typer.Argument(help="Foot scan: its measurements join the findings.")
    ] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="File to write (default: stdout).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="A value set by hand: key=value (repeatable); it wins.")
    ] = None,
    side: SideArg = SideOpt.auto,
    units: UnitsArg = UnitsOpt.auto,
    kind: KindArg = KindOpt.auto,
    foot_length: FootLengthArg = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Derive a prescription from a clinical assessment (and scan), with the reason for every value."""
    if out is not None and out.exists() and not force:
        _fail(f"{out}: already exists (use --force to overwrite)", 2)
    overrides = list(set_ or [])

    def job() -> tuple[str, object]:
        from orthogen.rx.annotated import prescription_yaml
        from orthogen.rx.assessed import load_with_assessment

        chosen_side = None if side is SideOpt.auto else side.value
        rx, derivation = load_with_assessment(None, overrides, assessment, side=chosen_side)
        made_from = [f"assessment: {assessment}"]
        if scan is not None:
            from orthogen.device.design import measure_options_from_rx
            from orthogen.foot.measure_scan import MeasureOptions, measure_scan

            cli = MeasureOptions(
                units=units.value, side=side.value, kind=kind.value, foot_length_mm=foot_length
            )
            report = measure_scan(scan, measure_options_from_rx(rx, cli)).report()
            rx, derivation = load_with_assessment(
                None, overrides, assessment, scan=report, side=report["side"]
            )
            made_from.append(
                f"scan: {scan} ({report['side']} foot, {report['foot_type']} arch, arch index "
                f"{report['arch_index']:.3f})"
            )
        if overrides:
            made_from.append(f"set by hand: {'; '.join(overrides)}")
        return prescription_yaml(derivation, made_from), derivation

    text, derivation = run_guarded(job)
    for w in derivation.warnings:
        typer.echo(f"warning: {w}", err=True)
    if out is None:
        typer.echo(text, nl=False)
        return

    def write() -> Path:
        from orthogen.output.export import atomic_write

        return atomic_write(out, lambda p: p.write_text(text, encoding="utf-8"))

    run_guarded(write)
    origins = [d.origin for d in derivation.decisions]
    foot = f" for the {derivation.findings.side} foot" if derivation.findings.side else ""
    typer.echo(
        f"wrote {out}{foot}: {origins.count('rule')} values from rules, {origins.count('clinician')} set by "
        f"hand, {origins.count('template')} template defaults; "
        f"{len(derivation.warnings)} warning{'' if len(derivation.warnings) == 1 else 's'}",
        err=True,
    )
