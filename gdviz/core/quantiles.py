"""Percentiles of a 1-D array, the numbers of ``np.percentile``, without importing ``numpy.ma``.

The heatmap's colour levels are the 0.5th and 99.5th percentiles of f on the view.  In numpy
2.4 the first ``np.percentile`` call imports ``numpy.ma`` (through ``np.unique``), some 14 ms
of the window's first paint.  ``percentiles`` computes the same numbers as ``np.percentile``'s
default ("linear") method, with the same partial sort and the same interpolation
(``numpy.lib._function_base_impl._lerp``), so that the levels do not change by a bit.
"""

from __future__ import annotations

import numpy as np


def percentiles(a: np.ndarray, q) -> np.ndarray:
    """``np.percentile(a, q)`` for a 1-D array ``a`` of floats without NaN (q: a sequence of
    percentages from 0 to 100); float64, one value per q."""
    arr = np.array(a, dtype=np.float64).ravel()   # a copy: partitioned in place
    if arr.size == 0:
        raise ValueError("Invalid array: no values to take percentiles of")
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 1 or not ((q >= 0) & (q <= 100)).all():
        raise ValueError(f"Invalid percentiles: {q!r} (expected a sequence from 0 to 100)")
    n = arr.size
    virtual = (n - 1) * np.true_divide(q, 100)
    prev = np.floor(virtual)
    nxt = prev + 1
    top = virtual >= n - 1
    prev[top] = nxt[top] = -1
    prev, nxt = prev.astype(np.intp), nxt.astype(np.intp)
    arr.partition(sorted({0, n - 1, *(prev % n).tolist(), *(nxt % n).tolist()}))
    below, above = arr[prev], arr[nxt]
    gamma = np.asarray(virtual - prev, dtype=np.float64)
    diff = above - below
    out = below + diff * gamma
    np.subtract(above, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out
