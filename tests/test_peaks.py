"""The landmarks' peak finder gives scipy.signal.find_peaks' peaks to the index (plateaus, ends, ties)."""

from __future__ import annotations

import numpy as np
import pytest

from orthogen.foot.peaks import find_peaks, local_maxima, prominences


def test_exact_cases():
    x = np.array([0.0, 2.0, 2.0, 2.0, 1.0, 3.0, 3.0, 0.0, 5.0, 5.0])
    # plateau 1-3 -> its middle 2; plateau 5-6 -> 5 (rounded down); the plateau at the end is no peak
    assert local_maxima(x).tolist() == [2, 5]
    # bases: peak 2 runs left to 0 (the end) and right to 1.0 before the higher 3.0 -> 2 - 1
    # peak 5 runs left to 0.0 at the start, right to 0.0 before the 5.0 -> 3 - 0
    assert prominences(x, local_maxima(x)).tolist() == [1.0, 3.0]
    assert find_peaks(x, 1.5).tolist() == [5]
    assert find_peaks(np.array([1.0, 2.0]), 0.0).size == 0


def test_same_peaks_as_scipy():
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(7)
    for _ in range(3000):
        n = int(rng.integers(0, 50))
        x = np.round(rng.standard_normal(n) * rng.choice([0.3, 1.0, 3.0]), int(rng.integers(0, 3)))
        p = float(rng.choice([0.0, 0.2, 0.5, 1.0]))
        want = signal.find_peaks(x, prominence=p, plateau_size=(0, None))[0]
        assert find_peaks(x, p).tolist() == want.tolist(), (x.tolist(), p)
