"""cells_inside is shapely's contains_xy over the cell centres, cell for cell."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from orthogen.foot.grid_polygon import cells_inside
from orthogen.foot.heightmap import Grid

GRID = Grid((-20.0, -30.0), 1.0, (120, 90))


def _same_as_geos(poly, grid: Grid = GRID) -> None:
    X, Y = grid.mesh()
    expected = shapely.contains_xy(poly, X, Y)
    got = cells_inside(poly, grid)
    assert got.dtype == bool and got.shape == grid.shape
    assert np.array_equal(got, expected), np.argwhere(got != expected)[:5]


@pytest.mark.parametrize("seed", range(40))
def test_random_blobs_with_holes_match_geos(seed):
    rng = np.random.default_rng(seed)
    pts = rng.uniform([-10, -20], [90, 50], size=(int(rng.integers(3, 30)), 2))
    poly = shapely.MultiPoint(pts).buffer(rng.uniform(1, 15), quad_segs=int(rng.integers(1, 9)))
    poly = poly.difference(Point(pts[0]).buffer(rng.uniform(0.5, 5)))  # a hole, or a bite
    _same_as_geos(poly)
    _same_as_geos(poly.simplify(0.3))


@pytest.mark.parametrize("seed", range(20))
def test_outlines_through_cell_centres_match_geos(seed):
    """Vertices on cell centres, edges along columns and rows, points a hair off the boundary: the
    centres the scanline cannot decide beyond doubt are GEOS's."""
    rng = np.random.default_rng(100 + seed)
    i0, j0 = rng.integers(0, 60, 2)
    w, h = (int(v) for v in rng.integers(1, 40, 2))
    x0, y0 = GRID.origin[0] + i0, GRID.origin[1] + j0
    _same_as_geos(box(x0, y0, x0 + w, y0 + h))
    _same_as_geos(Polygon([(x0, y0), (x0 + w, y0), (x0 + w / 2, y0 + h)]))
    _same_as_geos(
        box(x0 + 0.5, y0 - 0.5, x0 + w + 0.5, y0 + h).union(box(x0 + w + 0.5, y0 + 2, x0 + w + 9, y0 + 3))
    )
    _same_as_geos(box(x0 + 1e-9, y0 - 1e-9, x0 + w - 1e-12, y0 + h + 1e-12))


def test_parts_beyond_the_grid_and_several_parts():
    _same_as_geos(MultiPolygon([box(-50, -50, -25, 80), box(10, 10, 30, 20), box(95, 55, 200, 200)]))
    _same_as_geos(Point(40, 15).buffer(500))  # covers the whole grid
    assert not cells_inside(Polygon(), GRID).any()


def test_a_self_crossing_outline_is_left_to_geos():
    bowtie = Polygon([(0, 0), (40, 30), (40, 0), (0, 30)])
    assert not bowtie.is_valid
    _same_as_geos(bowtie)


def test_a_fine_grid():
    _same_as_geos(Point(3.3, 1.7).buffer(7.1), Grid((-5.05, -8.0), 0.1, (200, 190)))
