"""File-level design job of the CLI: read inputs, design every device, write each device's files.

Everything that touches the file system for ``design`` lives here; the geometry stays in pure
modules. :func:`design_devices` makes and verifies every device before :func:`write_designs` writes
the first byte; each device's files (STL, 3MF, JSON report, PNG preview) appear all together or not
at all, the device last. Problems with the output folder (read-only, full, a file in the way) are
the user's situation: one line and exit code 2.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from orthogen.errors import OrthogenError, OutputError, output_error


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


@dataclass(frozen=True)
class DesignRequest:
    """What the user asked ``design`` for (paths and command-line options)."""

    scans: tuple[Path, ...]
    rx_path: Path | None = None
    overrides: tuple[str, ...] = ()
    units: str | None = None
    side: str | None = None
    kind: str | None = None
    foot_length_mm: float | None = None
    assessment: Path | None = None


@dataclass(frozen=True)
class DesignedDevice:
    """One verified device and, when its prescription came from an assessment, why (the derivation)."""

    design: object
    why: object = None


def _side_source(req: DesignRequest, rx_side: str, common: list[str]) -> str:
    """How messages name where the side came from."""
    if req.side not in (None, "auto"):
        return f"--side {req.side}"
    if any(item.replace(" ", "").startswith("side=") for item in common):
        return f"--set side={rx_side}"
    where = f" in {req.rx_path}" if req.rx_path is not None else ""
    return f"side: {rx_side}{where}"


def design_devices(req: DesignRequest) -> list[DesignedDevice]:
    """Measure every scan and design, build and verify its device; nothing is written.

    With two scans they are a pair: sides are taken as given or detected and must differ. A side
    that contradicts a confident detection is refused (unless ``mirror: true``); a side that cannot
    be told is refused too. With an ``assessment`` (or an ``assessment:`` section in the
    prescription) each foot's prescription is derived from it and that foot's scan findings.
    Returns the devices in scan order.
    """
    from orthogen.device.design import design_foot, measure_options_from_rx
    from orthogen.device.template import template_geometry
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan
    from orthogen.rx.assessed import load_with_assessment
    from orthogen.rx.pair import check_pair

    common, per_side = split_side_overrides(list(req.overrides))
    rx, assessed = load_with_assessment(req.rx_path, common, req.assessment, any_side=True)
    cli = MeasureOptions(units=req.units, side=req.side, kind=req.kind, foot_length_mm=req.foot_length_mm)
    opts = measure_options_from_rx(rx, cli)
    opts = replace(
        opts,
        mirror=rx.mirror,
        require_side=True,
        side_source=_side_source(req, str(opts.side), common) if opts.side else None,
    )
    feet = [measure_scan(s, opts) for s in req.scans]
    if len(feet) == 2 and feet[0].side == feet[1].side:
        raise OrthogenError(
            f"a pair needs a left and a right foot, but both scans are {feet[0].side} feet "
            "(give a side only for single scans)",
            req.scans[1],
        )
    # with an assessment each foot's own findings (scan, side) join it
    loaded = [
        load_with_assessment(req.rx_path, [*common, *per_side[f.side]], req.assessment, f.report(), f.side)
        if per_side[f.side] or assessed
        else (rx, None)
        for f in feet
    ]
    if req.foot_length_mm is not None:  # --foot-length is the prescription's foot length, checked by design
        loaded = [(r.model_copy(update={"foot_length_mm": req.foot_length_mm}), w) for r, w in loaded]
    if len(feet) == 2:
        check_pair({f.side: r for f, (r, _) in zip(feet, loaded, strict=True)}, req.rx_path or "--set")
    return [
        DesignedDevice(design_foot(f, r, template_geometry(r.template)), why)
        for f, (r, why) in zip(feet, loaded, strict=True)
    ]


def device_files(
    device: DesignedDevice, stem: str, formats: tuple[str, ...], preview: bool, print_obj=None
) -> dict:
    """The files of one device, name -> writer(path): report and preview first, the device last.

    ``print_obj``: the device's zoned print object (:mod:`orthogen.printing.production`), written as
    its 3MF, its placement and slice in the report.
    """
    from orthogen.output.export import json_text, stl_bytes

    design = device.design
    files: dict = {}
    report = design.report()
    if print_obj is not None:
        report["print"] = print_obj.report
    if device.why is not None:
        report["assessment"] = device.why.as_dict()
    if preview:
        from orthogen.output.preview import preview_png

        png = preview_png(design)
        files[f"{stem}.png"] = lambda p: p.write_bytes(png)
        report["preview"] = f"{stem}.png"
    text = json_text(report)
    files[f"{stem}.json"] = lambda p: p.write_text(text, encoding="utf-8")
    if print_obj is not None:
        files[f"{stem}.3mf"] = print_obj.write
    stl = stl_bytes(design.vertices, design.faces)
    files[f"{stem}.stl"] = lambda p: p.write_bytes(stl)
    return files


def write_designs(
    devices: list[DesignedDevice],
    scans: tuple[Path, ...],
    out_dir: Path,
    formats: tuple[str, ...],
    preview: bool,
    print_options=None,
) -> list[dict]:
    """Write every device's file set into ``out_dir`` (all of a set or none); one summary dict each.

    With a 3MF asked for (``formats``) or ``print_options``, each device becomes a zoned print object
    fitted on the printer's bed (refused when it cannot fit), sliced first when asked; a pair is also
    packed onto plates.
    """
    from orthogen.output.export import write_file_set

    stems = [Path(s).stem for s in scans]
    if len(stems) == 2 and stems[0] == stems[1]:
        stems = [f"{stems[0]}_{dev.design.foot.side}" for dev in devices]
    designs = [dev.design for dev in devices]
    prints = _prints(stems, designs, formats, print_options)  # fitted and sliced before writing
    results = []
    for stem, dev in zip(stems, devices, strict=True):
        d = dev.design
        files = device_files(dev, stem, formats, preview, prints.get(stem))
        device = tuple(n for n in files if n.endswith((".stl", ".3mf")))
        try:
            write_file_set(out_dir, files, last=device)
        except OSError as exc:
            raise output_error(exc, out_dir) from None
        results.append(
            {
                "stl": str(out_dir / f"{stem}.stl"),
                "side": d.foot.side,
                "triangles": len(d.faces),
                "warnings": list(dict.fromkeys([*(dev.why.warnings if dev.why else ()), *d.warnings])),
                "print": prints[stem].report if stem in prints else None,
            }
        )
    if len(prints) == 2:
        from orthogen.printing.production import pair_plates

        results[0]["plates"] = pair_plates(out_dir, stems, designs, prints, print_options)
    return results


def _prints(stems, designs, formats, options) -> dict:
    """Each device's zoned print object fitted on the bed (refused when it cannot fit), sliced when asked."""
    if options is None and "3mf" not in formats:
        return {}
    from orthogen.printing.production import PrintOptions, device_print, slice_devices

    options = options or PrintOptions.make()
    prints = {stem: device_print(d, stem, options) for stem, d in zip(stems, designs, strict=True)}
    if options.slice:
        prints = slice_devices(prints, dict(zip(stems, designs, strict=True)), options)
    return prints


def prepare_output(out_dir: Path) -> Path:
    """Refuse an output folder that cannot be written, before any design work is done."""
    from orthogen.output.export import check_writable

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError("the output folder is a file, not a folder", out_dir)
    try:
        return check_writable(out_dir)
    except OSError as exc:
        raise output_error(exc, out_dir) from None


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

    The output folder is checked first, every device is designed and verified before the first file
    is written, and each device's files appear together or not at all. Returns one summary dict per
    written device.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    req = DesignRequest(
        tuple(map(Path, scans)), rx_path, tuple(overrides), units, side, kind, foot_length_mm, assessment
    )
    try:
        prepare_output(out_dir)
        designs = design_devices(req)
        return write_designs(designs, req.scans, out_dir, formats, preview, print_options)
    except BaseException:
        if created:  # the folder this run made, left empty by a refusal
            try:
                out_dir.rmdir()
            except OSError:
                pass
        raise
