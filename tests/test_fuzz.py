"""Short fuzzing of the scan readers and the prescription parser.

Every input, however mangled, must give a :class:`~orthogen.scan.Scan` or a one-line
:class:`~orthogen.errors.ScanError` naming the file (readers), or a ``Prescription`` or a one-line
:class:`~orthogen.errors.PrescriptionError` (parser). Nothing else may escape.

Inputs are random bytes and mutations of small valid files of every format (bit flips, byte
overwrites, insertions, deletions, truncation, duplicated chunks, header-field edits). The helpers
here are also the engine of ``tools/fuzz_long.py`` (``python tools/fuzz_long.py --minutes 10``).
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from orthogen.errors import PrescriptionError, ScanError

ROOT = Path(__file__).resolve().parents[1]
LONG = bool(os.environ.get("ORTHOGEN_LONG"))
EXTENSIONS = ("stl", "ply", "obj", "scan")
RX_SUFFIXES = (".yaml", ".toml", ".json")


def _settings(n: int):
    return settings(
        max_examples=n * (20 if LONG else 1),
        deadline=None,
        derandomize=not LONG,
        database=None,
        phases=tuple(Phase) if LONG else (Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )


# ----------------------------------------------------------------------------------- seed files
def _small_mesh():
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=1, radius=100.0)  # 42 vertices, 80 faces
    return np.asarray(m.vertices), np.asarray(m.faces)


def seed_files() -> dict[str, list[bytes]]:
    """Small valid files of every format and encoding the readers accept, by extension."""
    import trimesh

    v, f = _small_mesh()
    mesh = trimesh.Trimesh(v, f, process=False)
    quads = "".join(f"f {a + 1} {b + 1} {c + 1} {c + 1}\n" for a, b, c in f[:10])
    obj_text = mesh.export(file_type="obj")
    ascii_stl = (
        "solid s\n"
        + "".join(
            "facet normal 0 0 1\n outer loop\n"
            + "".join(f"  vertex {x!r} {y!r} {z!r}\n" for x, y, z in v[t].tolist())
            + " endloop\nendfacet\n"
            for t in f
        )
        + "endsolid s\n"
    )
    z = np.round(5.0 + np.add.outer(np.arange(12.0), np.arange(9.0)), 2)
    z[0, 0] = 295.509  # the scanner's "no data"
    grid = "2,0.6\n" + "\n".join(",".join(f"{x:g}" for x in row) for row in z)
    body = f"<rawscan>{grid}</rawscan><processedscan>{grid}</processedscan>"
    seraph = f'<?xml version="1.0"?>\n<Scan>{body}</Scan>\n'
    return {
        "stl": [mesh.export(file_type="stl"), ascii_stl.encode()],
        "ply": [
            mesh.export(file_type="ply", encoding="binary"),
            mesh.export(file_type="ply", encoding="ascii"),
        ],
        "obj": [obj_text.encode(), (obj_text + quads).encode()],
        "scan": [seraph.encode()],
    }


# ----------------------------------------------------------------------------------- mutations
def mutate(data: bytes, rng: np.random.Generator, rounds: int | None = None) -> bytes:
    """A few random edits of ``data`` (the classic mutation operators of coverage fuzzers)."""
    b = bytearray(data)
    for _ in range(rounds or int(rng.integers(1, 6))):
        op = int(rng.integers(0, 9))
        n = len(b)
        pos = int(rng.integers(0, n + 1)) if n else 0
        if op == 0 and n:  # bit flip
            i = min(pos, n - 1)
            b[i] ^= 1 << int(rng.integers(0, 8))
        elif op == 1 and n:  # random bytes over a run
            k = int(rng.integers(1, 9))
            b[pos : pos + k] = rng.bytes(k)
        elif op == 2:  # insertion
            b[pos:pos] = rng.bytes(int(rng.integers(1, 17)))
        elif op == 3 and n:  # deletion
            del b[pos : pos + int(rng.integers(1, 65))]
        elif op == 4:  # truncation
            del b[pos:]
        elif op == 5 and n:  # duplicate a chunk
            k = int(rng.integers(1, 257))
            b[pos:pos] = b[pos : pos + k]
        elif op == 6 and n >= 4:  # an interesting 32-bit integer (counts, sizes)
            i = int(rng.integers(0, n - 3))
            val = int(rng.choice([0, 1, 2, 3, 255, 65535, 2**31 - 1, 2**32 - 1, 5_000_000]))
            b[i : i + 4] = struct.pack("<I", val)
        elif op == 7:  # an interesting token in text formats
            tok = rng.choice(
                [b"nan", b"inf", b"-1", b"0", b"1e308", b"-0", b"99999999999", b"/", b"\n", b" "]
            )
            b[pos:pos] = bytes(tok)
        elif op == 8 and n:  # swap two bytes
            i, j = int(rng.integers(0, n)), int(rng.integers(0, n))
            b[i], b[j] = b[j], b[i]
    return bytes(b)


_TOKENS = [
    "nan",
    ".nan",
    "inf",
    "-.inf",
    "-1",
    "0",
    "1e308",
    "12.5",
    "100",
    "",
    "null",
    "~",
    "true",
    "no",
    "[]",
    "{}",
    "[1, 2]",
    "{a: 1}",
    "'x'",
    '"EU 42"',
    "&a 1",
    "*a",
    "!!python/object:os.system",
    "<<: {}",
    "- x",
    "=",
    "3 mm",
    "0x10",
    "1_000",
    "2024-01-01",
    "\t",
    "#",
]


def mutate_text(data: bytes, rng: np.random.Generator, rounds: int | None = None) -> bytes:
    """Line- and token-level edits of a text prescription (stays UTF-8 unless a byte edit is drawn)."""
    from orthogen.rx.messages import _all_keys

    keys = _all_keys()
    lines = data.decode("utf-8", "replace").split("\n")
    for _ in range(rounds or int(rng.integers(1, 6))):
        op = int(rng.integers(0, 8))
        i = int(rng.integers(0, len(lines))) if lines else 0
        if not lines:
            lines = [""]
        if op == 0:  # a number or value replaced by an interesting token
            tok = str(rng.choice(_TOKENS))
            lines[i] = re.sub(r"-?\d+(\.\d+)?|(?<=: )\S+$", lambda m, t=tok: t, lines[i], count=1)
        elif op == 1 and len(lines) > 1:
            del lines[i]
        elif op == 2:
            lines.insert(i, lines[i])
        elif op == 3:
            j = int(rng.integers(0, len(lines)))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 4:  # a key from the schema with an interesting value, maybe indented
            key = str(rng.choice(keys)).split(".")[-1]
            indent = "  " * int(rng.integers(0, 2))
            sep = " = " if rng.random() < 0.3 else ": "
            lines.insert(i, f"{indent}{key}{sep}{rng.choice(_TOKENS)}")
        elif op == 5:  # uncomment
            lines[i] = re.sub(r"^#\s?", "", lines[i])
        elif op == 6:  # indentation
            lines[i] = ("  " + lines[i]) if rng.random() < 0.5 else lines[i].lstrip()
        else:
            return mutate("\n".join(lines).encode(), rng, 1)
    return "\n".join(lines).encode()


# ----------------------------------------------------------------------------------- oracles
def read_outcome(data: bytes, ext: str, folder: Path) -> str:
    """Load ``data`` as a scan file; return "scan" or "ScanError: ..."; anything else raises."""
    from orthogen.scan import Scan, load_scan

    path = folder / f"fuzz.{ext}"
    path.write_bytes(data)
    try:
        scan = load_scan(path)
    except ScanError as err:
        msg = str(err)
        assert "\n" not in msg and msg.strip(), f"refusal is not one line: {msg!r}"
        assert err.path == str(path), f"refusal does not name the file: {msg!r}"
        return f"ScanError: {err.problem}"
    assert isinstance(scan, Scan)
    v, f = scan.vertices, scan.faces
    assert v.dtype == np.float64 and v.ndim == 2 and v.shape[1] == 3 and np.isfinite(v).all()
    assert f.dtype == np.int64 and f.ndim == 2 and f.shape[1] == 3 and len(f) > 0
    assert f.min() >= 0 and f.max() < len(v)
    return "scan"


def rx_outcome(text: bytes, suffix: str, folder: Path, overrides: list[str] | None = None) -> str:
    """Load ``text`` as a prescription file; return "ok" or "PrescriptionError: ..."."""
    from orthogen.rx.load import load_prescription
    from orthogen.rx.model import Prescription

    path = folder / f"fuzz{suffix}"
    path.write_bytes(text)
    try:
        rx = load_prescription(path, overrides or [])
    except PrescriptionError as err:
        msg = str(err)
        assert "\n" not in msg and msg.strip(), f"refusal is not one line: {msg!r}"
        return f"PrescriptionError: {err.problem}"
    assert isinstance(rx, Prescription)
    rx.warnings()
    rx.as_applied()
    return "ok"


def overrides_outcome(overrides: list[str]) -> str:
    from orthogen.rx.load import load_prescription
    from orthogen.rx.model import Prescription

    try:
        rx = load_prescription(None, overrides)
    except PrescriptionError as err:
        assert "\n" not in str(err), str(err)
        return f"PrescriptionError: {err.problem}"
    assert isinstance(rx, Prescription)
    return "ok"


def seed_prescriptions() -> dict[str, list[bytes]]:
    yaml_text = (ROOT / "templates" / "example_rx.yaml").read_bytes()
    toml_text = (ROOT / "templates" / "example_rx.toml").read_bytes()
    json_text = b'{"template": "sport", "heel_lift_mm": 4, "met_pad": {"height_mm": 5}, "label": "A-1"}'
    return {".yaml": [yaml_text], ".toml": [toml_text], ".json": [json_text]}


_SEEDS: dict = {}


def _seeds(kind: str) -> dict[str, list[bytes]]:
    if kind not in _SEEDS:
        _SEEDS[kind] = seed_files() if kind == "scan" else seed_prescriptions()
    return _SEEDS[kind]


def _in_tmp(check: Callable[[Path], str]) -> str:
    with tempfile.TemporaryDirectory() as d:
        return check(Path(d))


# ----------------------------------------------------------------------------------- tests
def test_seed_files_are_read():
    """The mutation seeds are valid files (else the fuzzing below would only test refusals)."""
    for ext, files in _seeds("scan").items():
        for data in files:
            assert _in_tmp(lambda d, data=data, ext=ext: read_outcome(data, ext, d)) == "scan", ext


@_settings(150)
@given(data=st.binary(max_size=4096), ext=st.sampled_from(EXTENSIONS))
def test_random_bytes_give_a_scan_or_a_scan_error(data, ext):
    _in_tmp(lambda d: read_outcome(data, ext, d))


@_settings(150)
@given(seed=st.integers(0, 2**32 - 1), ext=st.sampled_from(EXTENSIONS), which=st.integers(0, 1))
def test_mutated_scan_files_give_a_scan_or_a_scan_error(seed, ext, which):
    files = _seeds("scan")[ext]
    data = mutate(files[which % len(files)], np.random.default_rng(seed))
    _in_tmp(lambda d: read_outcome(data, ext, d))


@_settings(40)
@given(
    header=st.binary(min_size=80, max_size=80), count=st.integers(0, 2**32 - 1), body=st.binary(max_size=600)
)
def test_binary_stl_with_any_header_and_count(header, count, body):
    data = header + struct.pack("<I", count) + body
    _in_tmp(lambda d: read_outcome(data, "stl", d))


@_settings(40)
@given(
    fmt=st.sampled_from(["ascii", "binary_little_endian", "binary_big_endian", "binary_middle"]),
    nv=st.integers(0, 2**31),
    nf=st.integers(0, 2**31),
    count_type=st.sampled_from(["uchar", "int", "uint", "char", "float", "double"]),
    index_type=st.sampled_from(["int", "uint", "uchar", "short", "float", "double"]),
    body=st.binary(max_size=400),
)
def test_ply_with_any_header_counts_and_types(fmt, nv, nf, count_type, index_type, body):
    head = (
        f"ply\nformat {fmt} 1.0\nelement vertex {nv}\nproperty float x\nproperty float y\n"
        f"property float z\nelement face {nf}\nproperty list {count_type} {index_type} vertex_indices\n"
        "end_header\n"
    ).encode()
    _in_tmp(lambda d: read_outcome(head + body, "ply", d))


@_settings(150)
@given(text=st.text(max_size=400), suffix=st.sampled_from(RX_SUFFIXES))
def test_random_text_gives_a_prescription_or_a_prescription_error(text, suffix):
    _in_tmp(lambda d: rx_outcome(text.encode(), suffix, d))


@_settings(150)
@given(seed=st.integers(0, 2**32 - 1), suffix=st.sampled_from(RX_SUFFIXES))
def test_mutated_prescriptions_give_a_prescription_or_an_error(seed, suffix):
    data = mutate_text(_seeds("rx")[suffix][0], np.random.default_rng(seed))
    _in_tmp(lambda d: rx_outcome(data, suffix, d))


def _keys() -> list[str]:
    from orthogen.rx.messages import _all_keys

    return _all_keys()


_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        ["", "null", "true", "false", "[1, 2]", "{a: 1}", "'x'", "EU 42", "nan", "-inf", "&a x", "*a"]
    ),
    st.text(max_size=20),
)


@_settings(150)
@given(
    items=st.lists(st.tuples(st.one_of(st.sampled_from(_keys()), st.text(max_size=12)), _values), max_size=6)
)
def test_any_set_overrides_give_a_prescription_or_an_error(items):
    overrides_outcome([f"{k}={v}" for k, v in items])


@_settings(60)
@given(
    data=st.recursive(
        st.one_of(st.none(), st.booleans(), st.floats(), st.integers(), st.text(max_size=10)),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    ),
    key=st.sampled_from(_keys()),
)
def test_any_value_under_any_key_gives_a_prescription_or_an_error(data, key):
    import json

    parts = key.split(".")
    doc: dict = {parts[-1]: data}
    if len(parts) == 2:
        doc = {parts[0]: doc}
    try:
        text = json.dumps(doc).encode()
    except (ValueError, TypeError):
        return
    _in_tmp(lambda d: rx_outcome(text, ".json", d))


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_every_truncation_of_a_seed_file(ext, tmp_path):
    """Cutting a valid file anywhere (64 evenly spaced cut points) gives a scan or a ScanError."""
    for data in _seeds("scan")[ext]:
        for cut in np.linspace(0, len(data) - 1, 64).astype(int):
            read_outcome(data[:cut], ext, tmp_path)
