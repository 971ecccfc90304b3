"""File-level jobs shared by the CLI and the batch runner: read inputs, run a pipeline, write outputs.

Everything that touches the file system for ``design`` lives here; the geometry
stays in pure modules. All outputs of one scan are computed before the first
is written, and each is written atomically.
"""

from __future__ import annotations

from pathlib import Path

from orthogen.errors import OrthogenError


def split_side_overrides(overrides: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split ``--set`` values into common ones and per-side ones (``left.heel_lift_mm=3``).

    A pair with a leg-length difference gets its own heel lift per side this way.
    """
    common: list[str] = []
    per_side: dict[str, list[str]] = {"left": [], "right": []}
    for item in overrides:
        head, _, rest = item.partition(".")
        if head in per_side and rest:
            per_side[head].append(rest)
        else:
            common.append(item)
    return common, per_side


def design_files(
    scans: list[Path],
    rx_path: Path | None,
    overrides: list[str],
    out_dir: Path,
    *,
    units: str | None = None,
    side: str | None = None,
    kind: str | None = None,
    foot_length_mm: float | None = None,
    formats: tuple[str, ...] = ("stl",),
    preview: bool = True,
    assessment: Path | None = None,
    print_options=None,
) -> list[dict]:
    """Design one device per scan and write ``<stem>.stl`` (+ .3mf), ``<stem>.json`` and ``<stem>.png``.

    With two scans they are a pair: sides are taken as given or detected and must
    differ. With an ``assessment`` (or an ``assessment:`` section in the prescription) each foot's
    prescription is derived from it and the scan's findings; the JSON report holds why.
    Returns one summary dict per written device.
    """
    from orthogen.device.design import design_foot, measure_options_from_rx
    from orthogen.device.template import template_geometry
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan
    from orthogen.output.export import write_json, write_stl
    from orthogen.rx.assessed import load_with_assessment

    common, per_side = split_side_overrides(overrides)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OrthogenError("the output folder is a file, not a folder", out_dir)
    rx, assessed = load_with_assessment(rx_path, common, assessment, any_side=True)
    cli = MeasureOptions(units=units, side=side, kind=kind, foot_length_mm=foot_length_mm)
    feet = [measure_scan(s, measure_options_from_rx(rx, cli)) for s in scans]
    if len(feet) == 2 and feet[0].side == feet[1].side:
        raise OrthogenError(
            f"a pair needs a left and a right foot, but both scans are {feet[0].side} feet "
            "(pass --side only for single scans)",
            scans[1],
        )
    stems = [Path(s).stem for s in scans]
    if len(stems) == 2 and stems[0] == stems[1]:
        stems = [f"{stems[0]}_{f.side}" for f in feet]
    # with an assessment each foot's own findings (scan, side) join it
    loaded = [
        load_with_assessment(rx_path, [*common, *per_side[f.side]], assessment, f.report(), f.side)
        if per_side[f.side] or assessed
        else (rx, None)
        for f in feet
    ]
    # every device is built and verified before the first file is written
    designs = [
        design_foot(f, r, template_geometry(r.template)) for f, (r, _) in zip(feet, loaded, strict=True)
    ]
    prints = _prints(stems, designs, formats, print_options)  # fitted on the bed before writing
    results = []
    for stem, d, (_, why) in zip(stems, designs, loaded, strict=True):
        stl = write_stl(out_dir / f"{stem}.stl", d.vertices, d.faces)
        if stem in prints:
            prints[stem] = _written_print(prints, stem, d, out_dir, print_options)
        report = d.report()
        if stem in prints:
            report["print"] = prints[stem].report
        if why is not None:
            report["assessment"] = why.as_dict()
        if preview:
            from orthogen.output.preview import write_preview

            write_preview(out_dir / f"{stem}.png", d)
            report["preview"] = f"{stem}.png"
        write_json(out_dir / f"{stem}.json", report)
        results.append(
            {
                "stl": str(stl),
                "side": d.foot.side,
                "triangles": len(d.faces),
                "warnings": list(dict.fromkeys([*(why.warnings if why else ()), *d.warnings])),
                "print": prints[stem].report if stem in prints else None,
            }
        )
    if len(prints) == 2:
        from orthogen.printing.production import pair_plates

        results[0]["plates"] = pair_plates(out_dir, stems, designs, prints, print_options)
    return results


def _prints(stems, designs, formats, options) -> dict:
    """Each device's zoned print object fitted on the bed (refused when it cannot fit), if asked for."""
    if options is None and "3mf" not in formats:
        return {}
    from orthogen.printing.production import PrintOptions, device_print

    options = options or PrintOptions.make()
    return {stem: device_print(d, stem, options) for stem, d in zip(stems, designs, strict=True)}


def _written_print(prints, stem, design, out_dir, options):
    """Write the device's 3MF; slice it when asked."""
    from orthogen.printing.production import sliced

    path = prints[stem].write(Path(out_dir) / f"{stem}.3mf")
    if options is not None and options.slice:
        return sliced(prints[stem], path, design, options)
    return prints[stem]
