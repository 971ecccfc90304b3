"""Tests for orthogen.scan: round trips, a bad-input corpus and the real scans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from orthogen.errors import ScanError
from orthogen.scan import MAX_BYTES, MAX_FACES, READERS, SUPPORTED_EXTENSIONS, Scan, load_scan

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "foot_scans"

STL_RECORD = np.dtype([("n", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])


# ------------------------------------------------------------------ writers
def sphere() -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=1)  # 42 vertices, 80 faces


def write_binary_stl(path: Path, vertices: np.ndarray, faces: np.ndarray, header: bytes = b"") -> Path:
    rec = np.zeros(len(faces), STL_RECORD)
    rec["v"] = np.asarray(vertices, np.float32)[faces]
    path.write_bytes(header.ljust(80, b" ")[:80] + np.uint32(len(faces)).tobytes() + rec.tobytes())
    return path


def write_ascii_stl(path: Path, vertices: np.ndarray, faces: np.ndarray) -> Path:
    lines = ["solid scan named vertex 1 2 3 endfacet"]  # keywords in the name are ignored
    for tri in np.asarray(vertices)[faces]:
        lines += ["  facet normal 0 0 0", "    outer loop"]
        lines += [f"      vertex {x!r} {y!r} {z!r}" for x, y, z in tri.tolist()]
        lines += ["    endloop", "  endfacet"]
    lines.append("endsolid test")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_ply(
    path: Path,
    vertices: np.ndarray,
    faces: list[list[int]] | np.ndarray,
    fmt: str = "binary_little_endian",
    count_type: str = "uchar",
) -> Path:
    """PLY with colour, alpha and quality on each vertex; faces may be polygons."""
    order = {"binary_little_endian": "<", "binary_big_endian": ">", "ascii": "<"}[fmt]
    header = [
        "ply",
        f"format {fmt} 1.0",
        "comment made by test_scan_io",
        f"element vertex {len(vertices)}",
        "property float x",
        "property float y",
        "property float z",
        "property uchar red",
        "property uchar green",
        "property uchar blue",
        "property uchar alpha",
        "property float quality",
        f"element face {len(faces)}",
        f"property list {count_type} int vertex_indices",
        "end_header",
    ]
    head = ("\n".join(header) + "\n").encode()
    if fmt == "ascii":
        rows = [f"{x!r} {y!r} {z!r} 200 100 50 255 0.5" for x, y, z in np.asarray(vertices).tolist()]
        rows += [" ".join(str(i) for i in [len(f), *list(f)]) for f in faces]
        path.write_bytes(head + ("\n".join(rows) + "\n").encode())
        return path
    vdt = np.dtype([("xyz", order + "f4", (3,)), ("rgba", "u1", (4,)), ("q", order + "f4")])
    vert = np.zeros(len(vertices), vdt)
    vert["xyz"] = vertices
    vert["rgba"] = (200, 100, 50, 255)
    vert["q"] = 0.5
    ct = {"uchar": "u1", "int": "i4"}[count_type]
    body = b"".join(
        np.array([len(f)], order + ct).tobytes() + np.asarray(f, order + "i4").tobytes() for f in faces
    )
    path.write_bytes(head + vert.tobytes() + body)
    return path


def write_seraph(path: Path, grid: str, tag: str = "processedscan") -> Path:
    path.write_text(f'<!DOCTYPE ScanFile>\n<Scan id="{{t}}">\n <{tag}>{grid}</{tag}>\n</Scan>\n')
    return path


def assert_same_mesh(scan: Scan, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Same vertex/face counts, and the same triangles as coordinate triples."""
    assert scan.vertices.dtype == np.float64 and scan.vertices.shape == np.shape(vertices)
    assert scan.faces.dtype == np.int64 and scan.faces.shape == np.shape(faces)
    got = np.sort(scan.vertices[scan.faces].reshape(len(faces), -1), axis=0)
    want = np.sort(np.asarray(vertices)[faces].reshape(len(faces), -1), axis=0)
    np.testing.assert_allclose(got, want, atol=1e-6)


# -------------------------------------------------------------- round trips
def test_registry() -> None:
    assert SUPPORTED_EXTENSIONS == (".obj", ".ply", ".scan", ".stl")
    assert set(READERS) == {"obj", "ply", "scan", "stl"}
    assert MAX_FACES == 2_000_000 and MAX_BYTES == 400_000_000


def test_binary_stl_round_trip(tmp_path: Path) -> None:
    m = sphere()
    v32 = m.vertices.astype(np.float32).astype(np.float64)
    scan = load_scan(write_binary_stl(tmp_path / "s.stl", m.vertices, m.faces))
    assert scan.format == "stl" and scan.meta["encoding"] == "binary"
    assert_same_mesh(scan, v32, m.faces)
    # Triangle soup merged: the sphere is closed again.
    assert trimesh.Trimesh(scan.vertices, scan.faces, process=False).is_watertight


def test_binary_stl_with_solid_header(tmp_path: Path) -> None:
    m = sphere()
    path = write_binary_stl(tmp_path / "s.STL", m.vertices, m.faces, header=b"solid ascii-looking header")
    scan = load_scan(path)
    assert scan.meta["encoding"] == "binary"
    assert_same_mesh(scan, m.vertices.astype(np.float32), m.faces)


def test_ascii_stl_round_trip(tmp_path: Path) -> None:
    m = trimesh.creation.box(extents=(10.0, 20.0, 30.0))
    scan = load_scan(write_ascii_stl(tmp_path / "box.stl", m.vertices, m.faces))
    assert scan.meta["encoding"] == "ascii"
    assert_same_mesh(scan, m.vertices, m.faces)
    assert scan.vertices.min(axis=0).tolist() == [-5.0, -10.0, -15.0]


def test_stl_drops_faces_with_repeated_vertex(tmp_path: Path) -> None:
    m = sphere()
    faces = np.vstack([m.faces, [[0, 0, 1], [2, 3, 2]]])
    scan = load_scan(write_binary_stl(tmp_path / "d.stl", m.vertices, faces))
    assert len(scan.faces) == 80 and scan.meta["dropped_faces"] == 2


OBJ_CUBE = """\
# cube made of quads, mixed face forms, negative indices
o cube
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
vt 0 0
vt 1 0
vt 1 1
vn 0 0 -1
f 1/1/1 4/2/1 3/3/1 2/1/1
v 0 0 1
v 1 0 1
v 1 1 1
v 0 1 1
vn 0 0 1
g top
usemtl skin
f -4//1 -3//1 -2//1 -1//1
f 1/1 2/2 6/3 5/1
f 2 3 7 6
f 3/1/1 4/1/1 8/1/1 7/1/1
f -1 -4 1 4
"""


def test_obj_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cube.obj"
    path.write_text(OBJ_CUBE)
    scan = load_scan(path)
    assert scan.format == "obj" and scan.vertices.shape == (8, 3) and scan.faces.shape == (12, 3)
    assert scan.meta["polygons"] == 6 and scan.meta["non_triangles"] == 6
    # Fan triangulation (p0, p1, p2), (p0, p2, p3); negatives counted from the end so far.
    assert scan.faces[:4].tolist() == [[0, 3, 2], [0, 2, 1], [4, 5, 6], [4, 6, 7]]
    assert scan.faces[-2:].tolist() == [[7, 4, 0], [7, 0, 3]]
    mesh = trimesh.Trimesh(scan.vertices, scan.faces, process=False)
    assert mesh.is_watertight and mesh.volume == pytest.approx(1.0)
    assert scan.vertices[6].tolist() == [1.0, 1.0, 1.0]


def test_obj_triangles(tmp_path: Path) -> None:
    m = sphere()
    text = "".join(f"v {x!r} {y!r} {z!r}\n" for x, y, z in m.vertices.tolist())
    text += "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in m.faces.tolist())
    path = tmp_path / "s.OBJ"
    path.write_text(text)
    scan = load_scan(path)
    np.testing.assert_array_equal(scan.vertices, m.vertices)
    np.testing.assert_array_equal(scan.faces, m.faces)


def test_obj_vertex_colours_and_indented_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.obj"
    path.write_text("  v 0 0 0 1 0 0\n\tv 1 0 0 0 1 0\r\nv 0 1 0 0 0 1\nvt 0.5 0.5\n  f 1/1 2/1 3/1\n")
    scan = load_scan(path)
    assert scan.vertices.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]]
    assert scan.faces.tolist() == [[0, 1, 2]]


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian", "ascii"])
@pytest.mark.parametrize("count_type", ["uchar", "int"])
def test_ply_round_trip(tmp_path: Path, fmt: str, count_type: str) -> None:
    m = sphere()
    scan = load_scan(write_ply(tmp_path / "s.ply", m.vertices, m.faces, fmt, count_type))
    assert scan.format == "ply" and scan.meta["encoding"] == fmt
    assert scan.meta["vertex_properties"] == ["x", "y", "z", "red", "green", "blue", "alpha", "quality"]
    np.testing.assert_allclose(scan.vertices, m.vertices, atol=1e-6)
    np.testing.assert_array_equal(scan.faces, m.faces)


@pytest.mark.parametrize("fmt", ["binary_little_endian", "ascii"])
def test_ply_polygons(tmp_path: Path, fmt: str) -> None:
    verts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0]], float)
    faces = [[0, 1, 2, 3], [1, 4, 2]]  # a quad then a triangle: varying list lengths
    scan = load_scan(write_ply(tmp_path / "p.ply", verts, faces, fmt))
    assert scan.faces.tolist() == [[0, 1, 2], [0, 2, 3], [1, 4, 2]]
    np.testing.assert_array_equal(scan.vertices, verts)


SERAPH_GRID = """2,0.6
10,10,10,295.509,50
10,10,11,295.509,295.509
10,12,200,0,295.509
295.509,295.509,295.509,295.509,20
"""


@pytest.mark.parametrize("tag", ["processedscan", "rawscan"])
def test_seraph_round_trip(tmp_path: Path, tag: str) -> None:
    scan = load_scan(write_seraph(tmp_path / "foam.scan", SERAPH_GRID, tag))
    assert scan.format == "seraph_scan" and scan.units_hint == "mm"
    assert scan.meta["grid_step_mm"] == [2.0, 0.6] and scan.meta["grid_shape"] == [4, 5]
    # Largest 4-connected valid region: 8 cells; the lone 50 and 20 cells are dropped,
    # and 200 and 0 are not data. Quads: 3 full (2 triangles each) + 1 with 3 corners.
    assert scan.vertices.shape == (8, 3) and scan.faces.shape == (7, 3)
    rows_cols = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]
    z = [10, 10, 10, 10, 10, 11, 10, 12]
    want = [(r * 2.0, c * 0.6, zz) for (r, c), zz in zip(rows_cols, z, strict=True)]
    np.testing.assert_allclose(scan.vertices, want)
    assert scan.faces.tolist() == [
        [0, 3, 4],
        [0, 4, 1],
        [1, 4, 5],
        [1, 5, 2],
        [3, 6, 7],
        [3, 7, 4],
        [4, 7, 5],
    ]
    normals = trimesh.Trimesh(scan.vertices, scan.faces, process=False).face_normals
    assert np.all(normals[:, 2] > 0)  # out of the box


def test_seraph_prefers_processedscan(tmp_path: Path) -> None:
    path = tmp_path / "two.scan"
    path.write_text(
        "<Scan><rawscan>2,0.6\n1,1\n1,1</rawscan><processedscan>2,0.6\n5,5,5\n5,5,5</processedscan></Scan>"
    )
    scan = load_scan(path)
    assert scan.meta["grid"] == "processedscan" and scan.faces.shape == (4, 3)
    assert np.all(scan.vertices[:, 2] == 5)


# -------------------------------------------------------------- bad inputs
def bad(path: Path, fragment: str, **kwargs: int) -> ScanError:
    with pytest.raises(ScanError) as info:
        load_scan(path, **kwargs)
    message = str(info.value)
    assert fragment in message, message
    assert str(path) in message
    assert "\n" not in message
    return info.value


GARBAGE = bytes(np.random.default_rng(7).integers(0, 256, 1000, dtype=np.uint8))


@pytest.mark.parametrize("ext", ["stl", "obj", "ply", "scan"])
def test_empty_file(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"empty.{ext}"
    path.write_bytes(b"")
    bad(path, "empty (0 bytes)")


def test_missing_file(tmp_path: Path) -> None:
    bad(tmp_path / "nope.stl", "file not found")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.stl"
    folder.mkdir()
    bad(folder, "is a directory")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "scan.txt"
    path.write_text("hello")
    err = bad(path, "unsupported file type '.txt'")
    assert ".stl" in str(err) and ".ply" in str(err) and ".obj" in str(err) and ".scan" in str(err)
    noext = tmp_path / "scan"
    noext.write_text("hello")
    bad(noext, "(no extension)")


def test_too_large(tmp_path: Path) -> None:
    m = sphere()
    bad(write_binary_stl(tmp_path / "s.stl", m.vertices, m.faces), "too large", max_bytes=1000)


def test_truncated_binary_stl(tmp_path: Path) -> None:
    m = sphere()
    path = write_binary_stl(tmp_path / "s.stl", m.vertices, m.faces)
    path.write_bytes(path.read_bytes()[:-30])
    bad(path, "truncated or corrupt binary STL: header declares 80 triangles")
    solid = write_binary_stl(tmp_path / "solid.stl", m.vertices, m.faces, header=b"solid binary")
    solid.write_bytes(solid.read_bytes()[:-1])
    bad(solid, "truncated or corrupt binary STL")
    path.write_bytes(b"\0" * 50)
    bad(path, "shorter than the 84-byte header")


def test_too_many_faces_stl(tmp_path: Path) -> None:
    m = sphere()
    bad(write_binary_stl(tmp_path / "s.stl", m.vertices, m.faces), "too many faces: 80", max_faces=10)
    bad(write_ascii_stl(tmp_path / "a.stl", m.vertices, m.faces), "too many faces: 80", max_faces=10)


def test_too_many_faces_checked_before_data(tmp_path: Path) -> None:
    """A header's face count is refused before the (here absent) data are read."""
    path = tmp_path / "huge.ply"
    path.write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 3000000000\nproperty float x\n"
        b"property float y\nproperty float z\nelement face 4000000000\n"
        b"property list uchar int vertex_indices\nend_header\n" + b"\0" * 100
    )
    bad(path, "too many faces: 4,000,000,000, above the limit of 2,000,000; decimate")
    obj = tmp_path / "many.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n" + "f 1 2 3\n" * 20)
    bad(obj, "too many faces: 20", max_faces=10)
    # Polygons count as their triangles once fan-triangulated.
    obj.write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n" + "f 1 2 3 4\n" * 8)
    bad(obj, "too many faces: 16", max_faces=10)
    grid = "2,0.6\n" + "\n".join([",".join(["5"] * 10)] * 10)
    bad(write_seraph(tmp_path / "big.scan", grid), "too many faces: 162", max_faces=100)


def test_truncated_ply(tmp_path: Path) -> None:
    m = sphere()
    path = write_ply(tmp_path / "s.ply", m.vertices, m.faces)
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    bad(path, "truncated PLY: the header declares 42 vertex, 80 face")
    path.write_bytes(data[: len(data) // 3])  # ends inside the vertices
    bad(path, "truncated PLY")
    write_ply(path, m.vertices, [*m.faces[:-1].tolist(), [0, 1, 2, 3]])  # varying lengths
    path.write_bytes(path.read_bytes()[:-3])
    bad(path, "truncated PLY")
    asc = write_ply(tmp_path / "a.ply", m.vertices, m.faces, "ascii")
    asc.write_text(asc.read_text().rsplit("\n", 5)[0])
    bad(asc, "truncated PLY")


@pytest.mark.parametrize(
    ("ext", "fragment"),
    [
        ("stl", "truncated or corrupt binary STL"),
        ("ply", "not a PLY file"),
        ("obj", "binary data, not a text OBJ"),
        ("scan", "malformed .scan XML"),
    ],
)
def test_garbage_bytes(tmp_path: Path, ext: str, fragment: str) -> None:
    path = tmp_path / f"garbage.{ext}"
    path.write_bytes(GARBAGE)
    bad(path, fragment)


def test_garbage_text(tmp_path: Path) -> None:
    for ext, fragment in [
        ("obj", "no 'v' or 'f' lines"),
        ("stl", "truncated or corrupt binary STL"),
        ("ply", "not a PLY file"),
    ]:
        path = tmp_path / f"words.{ext}"
        path.write_text("this is not a mesh at all, just some words\n" * 5)
        bad(path, fragment)
    path = tmp_path / "solid.stl"
    path.write_text("solid nothing here\nendsolid\n")
    bad(path, "no 'vertex' lines")


def test_non_numeric(tmp_path: Path) -> None:
    m = trimesh.creation.box()
    stl = write_ascii_stl(tmp_path / "a.stl", m.vertices, m.faces)
    stl.write_text(stl.read_text().replace("vertex -0.5", "vertex abc", 1))
    bad(stl, "non-numeric value 'abc'")
    obj = tmp_path / "a.obj"
    obj.write_text("v 0 0 0\nv 1 0 zz\nv 0 1 0\nf 1 2 3\n")
    bad(obj, "non-numeric or invalid coordinate 'zz'")
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x\n")
    bad(obj, "invalid face index 'x'")
    ply = write_ply(tmp_path / "a.ply", m.vertices, m.faces, "ascii")
    ply.write_text(ply.read_text().replace("200 100 50", "200 oops 50", 1))
    bad(ply, "non-numeric value 'oops'")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_inf_vertices(tmp_path: Path, value: float) -> None:
    m = sphere()
    v = m.vertices.copy()
    v[5, 1] = value
    bad(write_binary_stl(tmp_path / "n.stl", v, m.faces), "NaN or infinite coordinates")
    bad(write_ply(tmp_path / "n.ply", v, m.faces, "ascii"), "NaN or infinite coordinates")
    obj = tmp_path / "n.obj"
    obj.write_text(f"v 0 0 0\nv 1 {value} 0\nv 0 1 0\nf 1 2 3\n")
    bad(obj, "1 vertices with NaN or infinite coordinates (first is vertex 1)")


def test_point_cloud(tmp_path: Path) -> None:
    m = sphere()
    bad(write_ply(tmp_path / "pc.ply", m.vertices, []), "has no faces: 42 vertices only (a point cloud)")
    path = tmp_path / "pc2.ply"
    path.write_text(
        "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
        "property float z\nend_header\n0 0 0\n1 1 1\n"
    )
    bad(path, "a point cloud")
    obj = tmp_path / "pc.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\n")
    bad(obj, "a point cloud")


def test_face_index_out_of_range(tmp_path: Path) -> None:
    m = sphere()
    faces = m.faces.copy()
    faces[3] = [0, 1, 42]
    bad(write_ply(tmp_path / "o.ply", m.vertices, faces), "face index out of range: a face uses vertex 42")
    obj = tmp_path / "o.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n")
    bad(obj, "face index out of range")
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n")  # OBJ is 1-based
    bad(obj, "face index 0: OBJ vertex indices start at 1")
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -4\n")
    bad(obj, "face index out of range")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("v 0 0 0\nv 1 0\nv 0 1 0\nf 1 2 3\n", "vertex with fewer than 3 coordinates: 'v 1 0'"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2\n", "face with fewer than 3 vertices: 'f 1 2'"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1 /2 3/3\n", "face corner without a vertex index"),
    ],
)
def test_malformed_obj_lines(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "m.obj"
    path.write_text(text)
    bad(path, fragment)


def test_only_zero_area_faces(tmp_path: Path) -> None:
    obj = tmp_path / "z.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nv 3 0 0\nf 1 2 3\nf 2 3 4\nf 1 1 2\n")
    bad(obj, "has no faces with area")
    stl = write_binary_stl(
        tmp_path / "z.stl", np.array([[0, 0, 0], [1, 1, 1.0]]), np.array([[0, 0, 1], [1, 1, 1]])
    )
    bad(stl, "has no faces with area")


def test_malformed_scan(tmp_path: Path) -> None:
    path = tmp_path / "m.scan"
    path.write_text("<Scan><processedscan>2,0.6\n1,2,3\n</processedscan>")
    bad(path, "malformed .scan XML")
    path.write_text("<Other><processedscan>2,0.6\n1,2\n1,2</processedscan></Other>")
    bad(path, "not a Seraph .scan file")
    path.write_text("<Scan><postedscan>2,0.6\n1,2\n1,2</postedscan></Scan>")
    bad(path, "no <processedscan> or <rawscan> grid")
    bad(write_seraph(path, "2,0.6\n1,2,3\n1,2\n"), "rows have different lengths")
    bad(write_seraph(path, "2;0.6\n1,2\n1,2\n"), "is not 'step_x,step_y'")
    bad(write_seraph(path, "2,0.6\n1,x\n1,2\n"), "non-numeric value")
    bad(
        write_seraph(path, "2,0.6\n295.5,295.5\n295.5,295.5\n"),
        "Seraph grid has no valid heights (0 < z < 200 mm)",
    )


def test_unexpected_parser_error_is_wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(path: Path, check_faces: object) -> dict:
        raise RuntimeError("something odd\nover two lines")

    monkeypatch.setitem(READERS, "stl", boom)
    path = tmp_path / "x.stl"
    path.write_bytes(b"anything")
    bad(path, "could not be read as STL: something odd over two lines")


# -------------------------------------------------------------- real scans
REAL = [
    ("aetrex/dupontgu_left.stl", 6388, 12772),
    ("aetrex/dupontgu_right.stl", 6380, 12756),
    ("techmed3d/verdier_right_plantar.obj", 6620, 12721),
    ("foambox/seraph_a_left.ply", 17087, 33707),
    ("foambox/seraph_a_right.ply", 17054, 33657),
    ("foambox/seraph_a_left.scan", 17087, 33707),
    ("foambox/seraph_a_right.scan", 17054, 33657),
    ("imprint/polycron_left.ply", 52038, 103345),
    ("phone/kotak_mobile1.stl", 7317, 14584),
]


def need_shared() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/foot_scans not found: real-scan tests need it beside the project")


@pytest.mark.parametrize(("name", "n_vertices", "n_faces"), REAL)
def test_real_scan_loads(name: str, n_vertices: int, n_faces: int) -> None:
    need_shared()
    scan = load_scan(SHARED / name)
    assert scan.vertices.shape == (n_vertices, 3) and scan.faces.shape == (n_faces, 3)
    assert scan.vertices.dtype == np.float64 and scan.faces.dtype == np.int64
    assert scan.meta["dropped_faces"] == 0


@pytest.mark.parametrize("side", ["left", "right"])
def test_real_seraph_scan_matches_ply(side: str) -> None:
    need_shared()
    grid = load_scan(SHARED / "foambox" / f"seraph_a_{side}.scan")
    ply = load_scan(SHARED / "foambox" / f"seraph_a_{side}.ply")
    assert grid.meta["grid_step_mm"] == [2.0, 0.6]
    np.testing.assert_array_equal(grid.faces, ply.faces)
    np.testing.assert_allclose(grid.vertices, ply.vertices, atol=1e-4)  # .ply stores float32


def test_real_units_and_extents() -> None:
    need_shared()
    aetrex = load_scan(SHARED / "aetrex" / "dupontgu_left.stl")
    np.testing.assert_allclose(np.ptp(aetrex.vertices, axis=0), [0.113, 0.276, 0.099], atol=1e-3)
    assert aetrex.units_hint is None
    mesh = trimesh.Trimesh(aetrex.vertices, aetrex.faces, process=False)
    assert mesh.is_watertight  # soup merged back into a closed mesh
    techmed = load_scan(SHARED / "techmed3d" / "verdier_right_plantar.obj")
    np.testing.assert_allclose(np.ptp(techmed.vertices, axis=0), [274.4, 105.2, 39.9], atol=0.1)


def test_obj_lines_with_a_trailing_comment_load(tmp_path: Path) -> None:
    """Was: 'non-numeric or invalid face index '#'' for a legal OBJ."""
    p = tmp_path / "c.obj"
    p.write_text("# made by hand\nv 0 0 0 # origin\nv 1 0 0\nv 0 1 0  #\nf 1 2 3 # the only face\n")
    scan = load_scan(p)
    assert scan.vertices.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0]] and scan.faces.tolist() == [[0, 1, 2]]


def test_ply_with_more_data_than_its_header_declares_is_damaged(tmp_path: Path) -> None:
    """Was: the extra faces were ignored and the half-read scan refused as 'two feet side by side'."""
    m = sphere()
    data = m.export(file_type="ply")
    n = len(m.faces)
    p = tmp_path / "fewer.ply"
    p.write_bytes(data.replace(f"element face {n}".encode(), f"element face {n - 10}".encode()))
    counts = f"({len(m.vertices):,} vertex, {n - 10:,} face)"
    bad(p, f"damaged PLY: 130 bytes follow the data its header declares {counts}")
    ascii_ply = tmp_path / "extra.ply"
    ascii_ply.write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
        "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
        "0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n3 0 2 1\n"
    )
    bad(ascii_ply, "damaged PLY: 4 values follow")


def test_a_mesh_of_slivers_is_damaged(tmp_path: Path) -> None:
    from orthogen.output.export import stl_bytes

    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 260, (500, 3)), rng.uniform(0, 260, (500, 3))
    v = np.stack([a, b, 0.5 * (a + b)], axis=1).reshape(-1, 3)
    p = tmp_path / "slivers.stl"
    p.write_bytes(stl_bytes(v, np.arange(len(v)).reshape(-1, 3)))
    bad(p, "100% of its 500 faces are slivers")


def test_sliver_share_is_the_share_of_faces_under_the_quality_bound() -> None:
    """The written-out quality (4 sqrt(3) area / sum of squared edges) is numpy's, float for float:
    an equilateral face is 1, a needle or a flat one 0, and random meshes count the same faces."""
    from orthogen.scan import SLIVER_QUALITY, sliver_share

    def quality(v, f):  # the plain numpy expression
        tri = v[f]
        e = tri[:, [1, 2, 0]] - tri
        area2 = np.linalg.norm(np.cross(e[:, 0], -e[:, 2]), axis=1)
        edges = (e * e).sum(axis=(1, 2))
        return np.divide(2.0 * np.sqrt(3.0) * area2, edges, out=np.zeros_like(edges), where=edges > 0)

    eq = np.array([[0, 0, 0], [1, 0, 0], [0.5, np.sqrt(3) / 2, 0], [2, 0, 0], [0.5, 1e-4, 0]], float)
    f = np.array([[0, 1, 2], [0, 3, 4], [0, 1, 3], [0, 0, 0]])
    assert quality(eq, f)[0] == pytest.approx(1.0) and sliver_share(eq, f) == 0.75
    rng = np.random.default_rng(7)
    for _ in range(5):
        v = rng.normal(size=(3000, 3)) * rng.uniform(0.01, 300)
        f = rng.integers(0, 3000, (9000, 3))
        assert sliver_share(v, f, chunk=4000) == float(np.mean(quality(v, f) < SLIVER_QUALITY))
