"""Milling data: blanks, tools and machines read from ``templates/*.yaml``, and the job's options.

Every table is data, not code (``templates/blanks.yaml``, ``tools.yaml``, ``machines.yaml``); this
module reads and checks them into frozen models and looks names up, raising :class:`OrthogenError`
with one line naming the file or the unknown name. Units: mm, mm/min, rpm, seconds.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from orthogen.errors import OrthogenError
from orthogen.rx.templates import templates_dir

#: Blank material per part when none is asked for: devices are cut from EVA, positives from PU foam.
DEFAULT_MATERIAL = {"device": "eva", "positive": "pu_foam"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Feeds(_Frozen):
    """Cutting data of one tool in one material."""

    rpm: float = Field(gt=0)
    feed_mm_min: float = Field(gt=0)
    plunge_mm_min: float = Field(gt=0)
    step_down_mm: float = Field(gt=0)
    step_over: float = Field(gt=0, le=1)


class Tool(_Frozen):
    """A flat or ball-end mill; ``feeds`` by material name."""

    name: str
    number: int = Field(ge=1, le=99)
    type: Literal["flat", "ball"]
    diameter_mm: float = Field(gt=0, le=50)
    flutes: int = Field(ge=1, le=8)
    reach_mm: float = Field(gt=0)
    materials: dict[str, Feeds]

    @property
    def radius(self) -> float:
        return self.diameter_mm / 2.0

    def feeds(self, material: str) -> Feeds:
        """Feeds for ``material``; OrthogenError when the tool table has none."""
        if material not in self.materials:
            raise OrthogenError(
                f"tool {self.name!r} has no feeds for material {material!r} "
                f"(it has {', '.join(self.materials)})",
                data_path("tools"),
            )
        return self.materials[material]

    def describe(self) -> str:
        return f"T{self.number} {self.name} ({self.type} end mill, {self.diameter_mm:g} mm)"


class Blank(_Frozen):
    """A block of material; ``size_mm`` = (length along x, width along y, thickness along z)."""

    name: str
    material: str
    size_mm: tuple[float, float, float]

    @model_validator(mode="after")
    def _positive(self) -> Blank:
        if min(self.size_mm) <= 0:
            raise ValueError("size_mm must be three positive numbers")
        return self

    @property
    def volume_mm3(self) -> float:
        x, y, z = self.size_mm
        return x * y * z


class BlankTable(_Frozen):
    margin_mm: float = Field(ge=0)
    gap_mm: float = Field(ge=0)
    top_allowance_mm: float = Field(ge=0)
    blanks: dict[str, Blank]


class Machine(_Frozen):
    """A 3-axis mill: G-code dialect, travel and the rates the time estimate uses."""

    name: str
    dialect: Literal["grbl", "linuxcnc"]
    travel_mm: tuple[float, float, float]
    rapid_xy_mm_min: float = Field(gt=0)
    rapid_z_mm_min: float = Field(gt=0)
    max_feed_mm_min: float = Field(gt=0)
    max_rpm: float = Field(gt=0)
    tool_change_s: float = Field(ge=0)
    safe_z_mm: float = Field(gt=0, le=50)


class ToolTable(_Frozen):
    defaults: dict[Literal["rough", "finish", "profile"], str]
    tools: dict[str, Tool]


class MachineTable(_Frozen):
    machines: dict[str, Machine]


class MillOptions(_Frozen):
    """What the lab can set per job (``--set key=value``); lengths in mm."""

    scallop_mm: float = Field(default=0.1, gt=0.005, le=1.0)
    stock_mm: float = Field(default=0.5, ge=0.1, le=3.0)
    material: str = "auto"
    part: Literal["auto", "device", "positive"] = "auto"
    rough_tool: str | None = None
    finish_tool: str | None = None
    profile_tool: str | None = None
    tabs: int = Field(default=4, ge=0, le=12)
    tab_width_mm: float = Field(default=6.0, gt=0, le=30)
    tab_height_mm: float = Field(default=2.0, gt=0, le=10)
    sample_mm: float = Field(default=1.0, ge=0.2, le=4.0)
    sim_cell_mm: float = Field(default=0.25, ge=0.05, le=1.0)


MILL_KEYS = tuple(MillOptions.model_fields)


def data_path(name: str) -> Path:
    """``templates/<name>.yaml`` (the templates folder honours ``$ORTHOGEN_TEMPLATES``)."""
    return templates_dir() / f"{name}.yaml"


def _one_line(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(p) for p in e["loc"])
    return f"{where}: {e['msg']}" if where else e["msg"]


def _read(name: str, model: type[BaseModel], named: str | None = None) -> BaseModel:
    path = data_path(name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OrthogenError(f"cannot read milling data ({exc.strerror or exc})", path) from None
    except yaml.YAMLError as exc:
        raise OrthogenError(f"YAML syntax error: {str(exc).splitlines()[0]}", path) from None
    if not isinstance(data, dict):
        raise OrthogenError("must be a mapping", path)
    if named and isinstance(data.get(named), dict):  # each entry carries its own name
        data[named] = {k: ({"name": k, **v} if isinstance(v, dict) else v) for k, v in data[named].items()}
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise OrthogenError(_one_line(err), path) from None


@lru_cache(maxsize=4)
def _tables(folder: str) -> tuple[BlankTable, ToolTable, MachineTable]:
    blanks = _read("blanks", BlankTable, "blanks")
    tools = _read("tools", ToolTable, "tools")
    machines = _read("machines", MachineTable, "machines")
    for role, name in tools.defaults.items():
        if name not in tools.tools:
            raise OrthogenError(f"defaults.{role}: unknown tool {name!r}", data_path("tools"))
    return blanks, tools, machines


def tables() -> tuple[BlankTable, ToolTable, MachineTable]:
    """The blank, tool and machine tables (read once per templates folder)."""
    return _tables(str(templates_dir()))


def _lookup(kind: str, name: str, table: dict, file: str):
    if name in table:
        return table[name]
    close = difflib.get_close_matches(name, list(table), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise OrthogenError(f"unknown {kind} {name!r} ({hint}known: {', '.join(table)})", data_path(file))


def get_tool(name: str) -> Tool:
    return _lookup("tool", name, tables()[1].tools, "tools")


def get_machine(name: str) -> Machine:
    return _lookup("machine", name, tables()[2].machines, "machines")


def get_blank(name: str) -> Blank:
    return _lookup("blank", name, tables()[0].blanks, "blanks")


def job_tools(options: MillOptions) -> dict[str, Tool]:
    """The tool of each operation (rough, finish, profile): the option if set, else the table default."""
    defaults = tables()[1].defaults
    chosen = {
        "rough": options.rough_tool or defaults["rough"],
        "finish": options.finish_tool or defaults["finish"],
        "profile": options.profile_tool or defaults["profile"],
    }
    tools = {op: get_tool(name) for op, name in chosen.items()}
    if tools["finish"].type != "ball":
        raise OrthogenError(f"finish_tool = {tools['finish'].name!r}: finishing needs a ball-end mill")
    for op in ("rough", "profile"):
        if tools[op].type != "flat":
            raise OrthogenError(f"{op}_tool = {tools[op].name!r}: {op} cuts need a flat end mill")
    if options.scallop_mm >= tools["finish"].radius:
        raise OrthogenError(
            f"scallop_mm = {options.scallop_mm:g} is not below the ball radius "
            f"({tools['finish'].radius:g} mm of {tools['finish'].name!r})"
        )
    return tools


def mill_options(pairs: dict[str, str]) -> MillOptions:
    """Options from ``key=value`` strings already split (values are validated and converted)."""
    try:
        return MillOptions.model_validate(pairs)
    except ValidationError as err:
        raise OrthogenError(f"--set {_one_line(err)}") from None
