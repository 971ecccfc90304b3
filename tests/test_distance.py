"""Grid distances to outlines: the same floats as shapely's (GEOS's) distance, and the limit's bound."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from orthogen.device.distance import distance_to


def _foot_like(seed: int) -> Polygon:
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, 150))
    r = 40 + 5 * rng.standard_normal(150)
    poly = Polygon(np.column_stack([130 + 2.5 * r * np.cos(ang), r * np.sin(ang)])).buffer(0)
    return max(getattr(poly, "geoms", [poly]), key=lambda p: p.area).buffer(2.0, quad_segs=8)


def test_equal_to_shapely_to_the_bit():
    X, Y = np.meshgrid(np.arange(-20.0, 290.0, 1.0) + 0.37, np.arange(-70.0, 70.0, 1.0), indexing="ij")
    for seed in range(3):
        poly = _foot_like(seed)
        holed = poly.difference(shapely.Point(130, 0).buffer(9.0))
        for geom in (poly.exterior, poly, holed, LineString([(60, -50), (70, 0), (72, 0), (90, 40)])):
            want = shapely.distance(geom, shapely.points(X.ravel(), Y.ravel())).reshape(X.shape)
            assert np.array_equal(distance_to(geom, X, Y), want), geom.geom_type


def test_exact_values_and_the_limit():
    square = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    x = np.array([5.0, 13.0, 5.0, -3.0, 13.0, 0.0, 40.0])
    y = np.array([5.0, 5.0, -4.0, 5.0, 14.0, 0.0, 5.0])
    assert distance_to(square, x, y).tolist() == [0.0, 3.0, 4.0, 3.0, 5.0, 0.0, 30.0]
    assert distance_to(square.exterior, x, y).tolist() == [5.0, 3.0, 4.0, 3.0, 5.0, 0.0, 30.0]
    far = distance_to(square, x, y, limit=6.0)  # exact up to the limit, a lower bound above it
    assert far[:6].tolist() == [0.0, 3.0, 4.0, 3.0, 5.0, 0.0] and 6.0 < far[6] <= 30.0


def test_blocks_of_pairs_change_nothing(monkeypatch):
    """The pairs are measured a block at a time to bound memory: any block size gives the same
    floats, the lower bounds beyond the limit included."""
    import orthogen.device.distance as dist

    X, Y = np.meshgrid(np.arange(-20.0, 290.0, 1.0), np.arange(-70.0, 70.0, 1.0), indexing="ij")
    poly = _foot_like(4)
    want = [distance_to(g, X, Y, limit) for g in (poly, poly.exterior) for limit in (np.inf, 9.0)]
    for block in (1, 37, 5000):
        monkeypatch.setattr(dist, "PAIRS_BLOCK", block)
        got = [distance_to(g, X, Y, limit) for g in (poly, poly.exterior) for limit in (np.inf, 9.0)]
        assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True)), block
