"""Slicer-ready 3MF plates: each device one object, its stiffness zones as modifier volumes.

The package follows what PrusaSlicer 2.5 writes and reads (``src/libslic3r/Format/3mf.cpp``): every
object's volumes share one ``<mesh>`` in ``3D/3dmodel.model`` (each volume a contiguous run of
vertices and triangles), and ``Metadata/Slic3r_PE_model.config`` names each run (``firstid`` /
``lastid``), its type (``ModelPart`` or ``ParameterModifier``) and its setting overrides. The same
runs are described for Orca Slicer and Bambu Studio in ``Metadata/model_settings.config`` (``<part
subtype="modifier_part">`` with their setting names), and the plate's print settings (printer bed,
material, layer height, speeds) go in ``Metadata/Slic3r_PE.config`` as PrusaSlicer stores a project
configuration. Vertices are in bed coordinates (mm); build items carry no transform.

Bytes depend only on the inputs (fixed zip dates, fixed number formats).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from orthogen import __version__
from orthogen.errors import OrthogenError
from orthogen.output.export import ZIP_DATE, atomic_write

MODEL_PATH = "3D/3dmodel.model"
PRUSA_CONFIG = "Metadata/Slic3r_PE.config"
PRUSA_MODEL_CONFIG = "Metadata/Slic3r_PE_model.config"
ORCA_MODEL_CONFIG = "Metadata/model_settings.config"
#: The 3MF version PrusaSlicer writes (``slic3rpe:Version3mf``); volumes carry no matrix.
PRUSA_3MF_VERSION = 1
_CORE_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


@dataclass(frozen=True)
class Volume:
    """A modifier volume: a closed mesh (bed or device coordinates, mm) and its slicer settings."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    prusa: Mapping[str, str] = field(default_factory=dict)
    orca: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PrintObject:
    """One printed device: the device mesh, its modifier volumes and its object-level settings."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    modifiers: tuple[Volume, ...] = ()
    prusa: Mapping[str, str] = field(default_factory=dict)
    orca: Mapping[str, str] = field(default_factory=dict)

    def transformed(self, angle_deg: float, dx: float, dy: float) -> PrintObject:
        """The object turned by ``angle_deg`` about z (counter-clockwise seen from above, about the
        origin) and then moved by (dx, dy) mm; modifiers move with it."""
        a = np.radians(angle_deg)
        rot = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
        shift = np.array([dx, dy, 0.0])

        def move(v: np.ndarray) -> np.ndarray:
            return np.asarray(v, np.float64) @ rot.T + shift

        mods = tuple(replace(m, vertices=move(m.vertices)) for m in self.modifiers)
        return replace(self, vertices=move(self.vertices), modifiers=mods)

    def renamed(self, name: str) -> PrintObject:
        return replace(self, name=name)


def _esc(s: str) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _mesh_xml(vertices: np.ndarray, faces: np.ndarray, offset: int) -> tuple[str, str]:
    v = "".join(f'<vertex x="{a:.4f}" y="{b:.4f}" z="{c:.4f}"/>' for a, b, c in np.asarray(vertices))
    t = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in np.asarray(faces) + offset)
    return v, t


def _volumes(obj: PrintObject) -> list[tuple[str, np.ndarray, np.ndarray, Mapping, Mapping, bool]]:
    parts = [(obj.name, obj.vertices, obj.faces, {}, {}, False)]
    return parts + [(m.name, m.vertices, m.faces, m.prusa, m.orca, True) for m in obj.modifiers]


def model_xml(objects: Sequence[PrintObject], title: str) -> str:
    """``3D/3dmodel.model``: one object per device, all its volumes in one mesh."""
    res, build = [], []
    for oid, obj in enumerate(objects, start=1):
        vs, ts, off = [], [], 0
        for _, v, f, *_ in _volumes(obj):
            a, b = _mesh_xml(v, f, off)
            vs.append(a)
            ts.append(b)
            off += len(v)
        res.append(
            f'<object id="{oid}" name="{_esc(obj.name)}" type="model"><mesh><vertices>{"".join(vs)}'
            f"</vertices><triangles>{''.join(ts)}</triangles></mesh></object>"
        )
        build.append(f'<item objectid="{oid}" printable="1"/>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<model unit="millimeter" xml:lang="en-US" xmlns="{_CORE_NS}" '
        'xmlns:slic3rpe="http://schemas.slic3r.org/3mf/2017/06">'
        f'<metadata name="slic3rpe:Version3mf">{PRUSA_3MF_VERSION}</metadata>'
        f'<metadata name="Title">{_esc(title)}</metadata>'
        f'<metadata name="Application">orthogen-{__version__}</metadata>'
        f"<resources>{''.join(res)}</resources><build>{''.join(build)}</build></model>"
    )


def _ranges(obj: PrintObject) -> list[tuple[int, int]]:
    out, first = [], 0
    for _, _, f, *_ in _volumes(obj):
        out.append((first, first + len(f) - 1))
        first += len(f)
    return out


_STATS = 'edges_fixed="0" degenerate_facets="0" facets_removed="0" facets_reversed="0" backwards_edges="0"'


def prusa_model_config(objects: Sequence[PrintObject]) -> str:
    """``Metadata/Slic3r_PE_model.config``: per object its name and settings, per volume its triangle
    run, type and setting overrides (PrusaSlicer 2.5 ``_add_model_config_file_to_archive``)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<config>"]
    for oid, obj in enumerate(objects, start=1):
        out.append(f' <object id="{oid}" instances_count="1">')
        out.append(f'  <metadata type="object" key="name" value="{_esc(obj.name)}"/>')
        out += [f'  <metadata type="object" key="{k}" value="{_esc(v)}"/>' for k, v in obj.prusa.items()]
        for (name, _, _, prusa, _, modifier), (a, b) in zip(_volumes(obj), _ranges(obj), strict=True):
            out.append(f'  <volume firstid="{a}" lastid="{b}">')
            out.append(f'   <metadata type="volume" key="name" value="{_esc(name)}"/>')
            if modifier:
                out.append('   <metadata type="volume" key="modifier" value="1"/>')
            kind = "ParameterModifier" if modifier else "ModelPart"
            out.append(f'   <metadata type="volume" key="volume_type" value="{kind}"/>')
            out += [f'   <metadata type="volume" key="{k}" value="{_esc(v)}"/>' for k, v in prusa.items()]
            out.append(f"   <mesh {_STATS}/>")
            out.append("  </volume>")
        out.append(" </object>")
    out.append("</config>")
    return "\n".join(out) + "\n"


def orca_model_config(objects: Sequence[PrintObject]) -> str:
    """``Metadata/model_settings.config`` for Orca Slicer / Bambu Studio: the same volumes as
    ``<part>`` elements (``subtype`` normal_part / modifier_part) with Orca's setting names, and one
    plate holding every object."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<config>"]
    for oid, obj in enumerate(objects, start=1):
        out.append(f'  <object id="{oid}">')
        out.append(f'    <metadata key="name" value="{_esc(obj.name)}"/>')
        out.append('    <metadata key="extruder" value="1"/>')
        out += [f'    <metadata key="{k}" value="{_esc(v)}"/>' for k, v in obj.orca.items()]
        for pid, ((name, _, _, _, orca, modifier), (a, b)) in enumerate(
            zip(_volumes(obj), _ranges(obj), strict=True), start=1
        ):
            sub = "modifier_part" if modifier else "normal_part"
            out.append(f'    <part id="{pid}" subtype="{sub}" firstid="{a}" lastid="{b}">')
            out.append(f'      <metadata key="name" value="{_esc(name)}"/>')
            out += [f'      <metadata key="{k}" value="{_esc(v)}"/>' for k, v in orca.items()]
            out.append(f"      <mesh_stat {_STATS}/>")
            out.append("    </part>")
        out.append("  </object>")
    out += [
        "  <plate>",
        '    <metadata key="plater_id" value="1"/>',
        '    <metadata key="locked" value="false"/>',
    ]
    for oid in range(1, len(objects) + 1):
        out += [
            "    <model_instance>",
            f'      <metadata key="object_id" value="{oid}"/>',
            '      <metadata key="instance_id" value="0"/>',
            f'      <metadata key="identify_id" value="{oid}"/>',
            "    </model_instance>",
        ]
    out += ["  </plate>", "</config>"]
    return "\n".join(out) + "\n"


def prusa_print_config(config: Mapping[str, str]) -> str:
    """``Metadata/Slic3r_PE.config``: ``; key = value`` lines as PrusaSlicer stores a project's
    configuration (read back from the end, so every line must be one well-formed pair)."""
    lines = [f"; generated by orthogen {__version__}", ""]
    for k in sorted(config):
        value = str(config[k])
        if not value or "\n" in value:
            raise ValueError(f"print setting {k!r} must be one non-empty line")
        lines.append(f"; {k} = {value}")
    return "\n".join(lines) + "\n"


_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
    '<Default Extension="config" ContentType="text/xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
    'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
)


def write_plate_to(path: Path, objects: Sequence[PrintObject], config: Mapping[str, str], title: str) -> None:
    """Write a plate's 3MF package to ``path`` (not atomic; see :func:`write_plate`)."""
    entries = (
        ("[Content_Types].xml", _TYPES),
        ("_rels/.rels", _RELS),
        (MODEL_PATH, model_xml(objects, title)),
        (PRUSA_CONFIG, prusa_print_config(config)),
        (PRUSA_MODEL_CONFIG, prusa_model_config(objects)),
        (ORCA_MODEL_CONFIG, orca_model_config(objects)),
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for arc, text in entries:
            info = zipfile.ZipInfo(arc, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)


def write_plate(
    path: str | Path, objects: Sequence[PrintObject], config: Mapping[str, str], title: str
) -> Path:
    """Write a plate's 3MF atomically."""
    return atomic_write(path, lambda p: write_plate_to(p, objects, config, title))


# ----------------------------------------------------------------------------- reading back

_VERTEX = re.compile(rb'<vertex\s+x="([^"]+)"\s+y="([^"]+)"\s+z="([^"]+)"\s*/>')
_TRIANGLE = re.compile(rb'<triangle\s+v1="(\d+)"\s+v2="(\d+)"\s+v3="(\d+)"[^>]*/>')
_OBJECT = re.compile(rb'<object\s+id="(\d+)"[^>]*>(.*?)</object>', re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def _unesc(s: str) -> str:
    return s.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def read_plate(path: str | Path) -> tuple[list[PrintObject], dict[str, str]]:
    """The objects (with their modifier volumes and settings) and the print settings of a 3MF written
    by :func:`write_plate` or by PrusaSlicer. OrthogenError when it is not such a 3MF."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            model = z.read(MODEL_PATH)
            vol_cfg = z.read(PRUSA_MODEL_CONFIG).decode("utf-8") if PRUSA_MODEL_CONFIG in names else ""
            cfg_text = z.read(PRUSA_CONFIG).decode("utf-8") if PRUSA_CONFIG in names else ""
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        raise OrthogenError(f"not a readable 3MF ({exc})", path) from None
    meshes = {}
    for m in _OBJECT.finditer(model):
        body = m.group(2)
        v = np.array(_VERTEX.findall(body), dtype=np.float64).reshape(-1, 3)
        f = np.array(_TRIANGLE.findall(body), dtype=np.int64).reshape(-1, 3)
        meshes[int(m.group(1))] = (v, f)
    objects = []
    for oid, (v, f) in meshes.items():
        block = re.search(rf'<object id="{oid}"[^>]*>(.*?)</object>', vol_cfg, re.S)
        text = block.group(1) if block else ""
        meta = {
            k: _unesc(val)
            for k, val in re.findall(r'<metadata type="object" key="([^"]+)" value="([^"]*)"/>', text)
        }
        vols = []
        for vm in re.finditer(r'<volume firstid="(\d+)" lastid="(\d+)">(.*?)</volume>', text, re.S):
            a, b = int(vm.group(1)), int(vm.group(2))
            vmeta = {
                k: _unesc(val)
                for k, val in re.findall(
                    r'<metadata type="volume" key="([^"]+)" value="([^"]*)"/>', vm.group(3)
                )
            }
            vols.append((a, b, vmeta))
        if not vols:
            vols = [(0, len(f) - 1, {"name": meta.get("name", f"object {oid}"), "volume_type": "ModelPart"})]
        parts, mods = [], []
        for a, b, vmeta in vols:
            tri = f[a : b + 1]
            used = np.unique(tri)
            remap = np.zeros(len(v), np.int64)
            remap[used] = np.arange(len(used))
            settings = {
                k: val
                for k, val in vmeta.items()
                if k not in ("name", "modifier", "volume_type", "source_file", "matrix")
            }
            item = (vmeta.get("name", ""), v[used], remap[tri], settings)
            (mods if vmeta.get("volume_type") == "ParameterModifier" else parts).append(item)
        if not parts:
            raise OrthogenError(f"object {oid} has no model part", path)
        name, pv, pf, _ = parts[0]
        objects.append(
            PrintObject(
                name=meta.get("name", name),
                vertices=pv,
                faces=pf,
                modifiers=tuple(Volume(n, mv, mf, s) for n, mv, mf, s in mods),
                prusa={k: val for k, val in meta.items() if k != "name"},
            )
        )
    config = dict(re.findall(r"^; (\w+) = (.*)$", cfg_text, re.M))
    return objects, config
