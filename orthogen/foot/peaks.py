"""Peaks of a 1-D profile by prominence: the subset of ``scipy.signal.find_peaks`` the landmarks use.

Same definitions, same results to the index: a peak is a sample (the middle of a plateau, rounded
down) higher than its neighbours on both sides, not at either end; its prominence is its height
over the higher of the lowest points on each side before a higher sample (or the end). Written
here because importing ``scipy.signal`` pulls in ``scipy.stats`` and costs a design about 0.4 s.
"""

from __future__ import annotations

import numpy as np


def local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of ``x`` (plateaus give their middle index, rounded down)."""
    x = np.asarray(x, float)
    n = x.size
    if n < 3:
        return np.zeros(0, np.intp)
    start = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])  # runs of equal values
    end = np.r_[start[1:] - 1, n - 1]
    val = x[start]
    rise = np.r_[False, val[1:] > val[:-1]]
    fall = np.r_[val[:-1] > val[1:], False]
    peak = rise & fall & (start >= 1) & (end <= n - 2)
    return ((start[peak] + end[peak]) // 2).astype(np.intp)


def prominences(x: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Prominence of each peak: its height over the higher of its two bases (no window)."""
    x = np.asarray(x, float)
    out = np.empty(len(peaks))
    for k, p in enumerate(peaks):  # a handful of peaks on a profile of a few hundred samples
        above = x > x[p]
        left = np.flatnonzero(above[:p])
        right = np.flatnonzero(above[p + 1 :])
        lo = left[-1] + 1 if left.size else 0
        hi = p + 1 + right[0] if right.size else x.size
        out[k] = x[p] - max(x[lo : p + 1].min(), x[p:hi].min())
    return out


def find_peaks(x: np.ndarray, prominence: float) -> np.ndarray:
    """Indices of the peaks of ``x`` at least ``prominence`` prominent, in increasing order."""
    peaks = local_maxima(x)
    if peaks.size == 0:
        return peaks
    return peaks[prominences(x, peaks) >= prominence]
