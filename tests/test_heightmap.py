"""Height maps from triangle meshes (orthogen.foot.heightmap): exact z at the cell centres."""

from __future__ import annotations

import numpy as np

from orthogen.foot import heightmap
from orthogen.foot.heightmap import Grid, envelopes, surface_hits


def _slab(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """A closed slab over the grid's nodes: top z = 2 + 0.1 x - 0.05 y, bottom z = 0 (a grid solid)."""
    from orthogen.device.solid import grid_solid_arrays

    X, Y = grid.mesh()
    return grid_solid_arrays(grid, 2.0 + 0.1 * X - 0.05 * Y, np.zeros(grid.shape))


def test_envelopes_of_a_slab_are_its_planes_at_the_cell_centres():
    nodes = Grid((0.0, 0.0), 1.0, (41, 21))
    v, f = _slab(nodes)
    cells = Grid((0.5, 0.5), 1.0, (40, 20))  # centres inside the slab's squares
    lo, hi = envelopes(v, f, cells)
    X, Y = cells.mesh()
    assert np.allclose(hi, 2.0 + 0.1 * X - 0.05 * Y, atol=1e-12)
    assert np.array_equal(lo, np.zeros(cells.shape))


def test_blocks_of_candidates_change_nothing(monkeypatch):
    """Candidates are tested a block at a time to bound memory: any block size, the same hits."""
    v, f = _slab(Grid((0.0, 0.0), 1.0, (41, 21)))
    cells = Grid((0.25, 0.25), 0.5, (80, 40))
    want = surface_hits(v, f, cells)
    for block in (1, 97, 10_000):
        monkeypatch.setattr(heightmap, "HITS_BLOCK", block)
        got = surface_hits(v, f, cells)
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True)), block
    assert len(want[0]) > 97 * 10  # the small blocks really split the work


def test_square_closing_and_opening_are_scipys_iterated_ones():
    """The separable filters give scipy's iterated 3 x 3 closing and opening cell for cell, edges included."""
    from scipy import ndimage

    from orthogen.foot.heightmap import close_square, open_square

    rng = np.random.default_rng(7)
    square = np.ones((3, 3), bool)
    for _ in range(60):
        mask = rng.random(tuple(rng.integers(4, 40, 2))) < rng.uniform(0.2, 0.9)
        for cells in (1, 2, 4):
            want_closed = ndimage.binary_closing(mask, structure=square, iterations=cells, border_value=0)
            want_opened = ndimage.binary_opening(mask, structure=square, iterations=cells)
            assert np.array_equal(close_square(mask, cells), want_closed)
            assert np.array_equal(open_square(mask, cells), want_opened)


def test_grid_mesh_is_made_once_per_grid_and_read_only():
    """The cell centres are kept per grid for the design's many callers; read-only, so no caller can
    change another's copy."""
    g = Grid((-3.0, 2.5), 0.5, (7, 5))
    X, Y = g.mesh()
    x, y = g.axes()
    assert np.array_equal(X, np.broadcast_to(x[:, None], (7, 5)))
    assert np.array_equal(Y, np.broadcast_to(y[None, :], (7, 5)))
    assert g.mesh()[0] is X and Grid((-3.0, 2.5), 0.5, (7, 5)).mesh()[1] is Y
    assert not X.flags.writeable and not Y.flags.writeable
