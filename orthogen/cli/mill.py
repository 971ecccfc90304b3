"""``orthogen mill``: design the device(s) and write CNC-ready output, checked by a simulated cut.

Imported by :mod:`orthogen.cli.app` (``COMMAND_MODULES``). ``--set`` takes prescription keys and the
milling keys of :class:`orthogen.lab.mill_data.MillOptions` (``scallop_mm``, ``part``, tools, tabs...).
Everything is computed and checked before the first file is written; bad input ends with one line
and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orthogen.cli.app import _fail, app, run_guarded
from orthogen.errors import OrthogenError


def split_mill_settings(settings: list[str]) -> tuple[dict[str, str], list[str]]:
    """``key=value`` items split into milling options and prescription overrides."""
    from orthogen.lab.mill_data import MILL_KEYS

    mill: dict[str, str] = {}
    rx: list[str] = []
    for item in settings:
        key, sep, value = item.partition("=")
        if sep and key.strip() in MILL_KEYS:
            mill[key.strip()] = value.strip()
        else:
            rx.append(item)
    return mill, rx


def mill_files(
    scans: list[Path],
    rx_path: Path | None,
    settings: list[str],
    out_dir: Path,
    machine: str,
    blank: str | None,
) -> list[dict]:
    """Design, mill and check; then write ``<stem>.nc``, ``.mill.json``, ``.mill.stl``, ``.mill.png``
    per blank. Returns one summary per blank."""
    from orthogen.cli.design_job import DesignRequest, design_devices
    from orthogen.lab.mill_data import get_blank, get_machine, job_tools, mill_options
    from orthogen.lab.mill_job import job_files, mill_designs
    from orthogen.output.export import atomic_write

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OrthogenError("the output folder is a file, not a folder", out_dir)
    mill_set, rx_set = split_mill_settings(settings)
    options = mill_options(mill_set)
    get_machine(machine)  # names checked before any scan is read
    job_tools(options)
    if blank is not None:
        get_blank(blank)
    # the same measuring, side checks and design as `orthogen design` (one code path)
    req = DesignRequest(tuple(map(Path, scans)), rx_path, tuple(rx_set))
    designs = [dev.design for dev in design_devices(req)]
    stems = [Path(s).stem for s in scans]
    if len(stems) == 2 and stems[0] == stems[1]:
        stems = [f"{stems[0]}_{d.foot.side}" for d in designs]
    jobs = mill_designs(designs, stems, options, machine=machine, blank=blank)
    outputs = [(job, job_files(job)) for job in jobs]  # everything checked before anything is written
    results = []
    for job, files in outputs:
        for name, data in files.items():
            atomic_write(out_dir / name, lambda p, data=data: p.write_bytes(data))
        s = job.cut.stats
        results.append(
            {
                "nc": str(out_dir / f"{job.stem}.nc"),
                "blank": job.placement.blank.name,
                "minutes": job.time["total_min"],
                "leftover": s["max_leftover_mm"],
                "gouge": s["max_gouge_mm"],
                "warnings": job.report["warnings"],
            }
        )
    return results


@app.command("mill")
def mill_cmd(
    scans: Annotated[list[Path], typer.Argument(help="One scan, or two (left and right) for a pair.")],
    rx: Annotated[Path | None, typer.Option("--rx", help="Prescription file (YAML or TOML).")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Prescription or milling key=value (scallop_mm, part, tabs...)."),
    ] = None,
    blank: Annotated[
        str | None, typer.Option("--blank", help="Blank name from templates/blanks.yaml.")
    ] = None,
    machine: Annotated[
        str, typer.Option("--machine", help="grbl or linuxcnc (templates/machines.yaml).")
    ] = "grbl",
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("output"),
) -> None:
    """Mill the insole (or its positive, for a shell) for one scan or a pair: G-code, report, STL, picture."""
    if len(scans) > 2:
        _fail(f"mill takes one or two scans, got {len(scans)}", 2)
    results = run_guarded(lambda: mill_files(scans, rx, list(set_ or []), out, machine, blank))
    for r in results:
        typer.echo(
            f"{r['nc']}  ({r['blank']}, {r['minutes']:.0f} min, leftover ≤ {r['leftover']:.3f} mm, "
            f"gouge {r['gouge']:.3f} mm)"
        )
        for w in r["warnings"]:
            typer.echo(f"warning: {w}", err=True)
