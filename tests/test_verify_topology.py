"""The output mesh's topology check: the fast edge test agrees with edge counting, pinched float32
vertices are caught, and manifold3d's own report of the solid stands in for a rebuilt manifold."""

from __future__ import annotations

from collections import Counter

import numpy as np

from orthogen.device.solid import build_solid
from orthogen.device.verify import edge_topology, mesh_volume, topology
from orthogen.foot.heightmap import Grid

TET = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])


def _counted(faces: np.ndarray) -> tuple[bool, bool]:
    edges = [(int(a), int(b)) for f in faces for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))]
    und = Counter(tuple(sorted(e)) for e in edges)
    return all(c == 2 for c in und.values()), all(c == 1 for c in Counter(edges).values())


def test_edge_topology_matches_counting_edges():
    rng = np.random.default_rng(3)
    two = np.vstack([TET, TET + 4])
    cases = [TET, TET[:3], np.vstack([TET, TET[:1]]), np.vstack([TET, [[1, 1, 2]]]), two, two[::-1]]
    flipped = TET.copy()
    flipped[1] = flipped[1, ::-1]
    cases.append(flipped)
    for _ in range(200):  # random small meshes: mostly broken, some closed
        k = int(rng.integers(1, 8))
        cases.append(rng.integers(0, 5, (k, 3)))
        cases.append(rng.permutation(np.vstack([TET, TET[rng.integers(0, 4, 1)][:, ::-1]])))
    for faces in cases:
        assert edge_topology(faces) == _counted(faces), faces.tolist()


def test_pinched_vertices_are_not_watertight():
    v = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10]], float)
    topo = topology(v, TET)
    assert topo["watertight"] and topo["winding_consistent"] and topo["manifold"] and topo["bodies"] == 1
    assert topo["volume_mm3"] == mesh_volume(v, TET) == 1000.0 / 6.0
    # a second vertex 1e-7 mm from the apex: a different point in float64, the same one in an STL
    twin = np.vstack([v, v[3] + [0.0, 0.0, 1e-7]])
    faces = TET.copy()
    faces[2] = [1, 2, 4]
    topo = topology(twin, faces)
    assert not topo["watertight"] and topo["winding_consistent"]


def test_the_solid_report_stands_in_for_a_rebuilt_manifold():
    grid = Grid((0.0, 0.0), 1.0, (40, 30))
    X, Y = grid.mesh()
    top = 3.0 + 0.1 * X + 0.05 * np.sin(Y)
    from shapely.geometry import Polygon

    solid = build_solid(grid, top, np.zeros(grid.shape), Polygon([(5, 5), (30, 6), (32, 24), (6, 22)]))
    rebuilt = topology(solid.vertices, solid.faces)
    reported = topology(solid.vertices, solid.faces, solid)
    assert reported == rebuilt and reported["bodies"] == solid.bodies == 1
    assert abs(reported["volume_mm3"] - solid.volume_mm3) < 1e-3 * solid.volume_mm3
    assert abs(mesh_volume(solid.vertices, solid.faces) - solid.volume_mm3) < 1e-6 * solid.volume_mm3
