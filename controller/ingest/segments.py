"""Running scans over contiguous segments of sorted rows: the numpy sessionizer's inner loops.

`starts[i]` is True where a segment begins (row 0 always begins one). Where the C extension
`_segments` was built, `sessions.sessionize` does its whole per-event pass in C instead
(`COMPILED`); these scans serve the numpy version, which is that pass's reference and fallback.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from controller.ingest.columns import BoolArray, IntArray

try:
    from controller.ingest import _segments
except ImportError:  # built without a C compiler
    _segments = None  # type: ignore[assignment]

UIntArray = npt.NDArray[np.uint64]

COMPILED = _segments is not None


def running_max(values: IntArray, starts: BoolArray) -> IntArray:
    """Per row: the largest value of its segment so far."""
    groups = np.cumsum(starts) - 1
    peaks: IntArray = pd.Series(values).groupby(groups, sort=False).cummax().to_numpy(np.int64)
    return peaks


def running_or(bits: IntArray, starts: BoolArray, initial: UIntArray) -> UIntArray:
    """Per row: `initial` of its segment with bit `bits[j]` set for every row j of the
    segment so far (bits in 0..63)."""
    seg = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    masks: UIntArray = np.asarray(initial, dtype=np.uint64)[seg]
    for bit in np.unique(bits):
        has = (bits == bit).astype(np.int64)
        seen = np.cumsum(has)
        before_segment = (seen - has)[first]
        on = (seen - before_segment[seg]) > 0
        masks |= on.astype(np.uint64) << np.uint64(bit)
    return masks


def running_sum(values: IntArray, starts: BoolArray) -> IntArray:
    """Per row of the (n, k) `values`: the column sums of its segment so far."""
    first = np.flatnonzero(starts)
    seg = np.cumsum(starts) - 1
    total = np.cumsum(values, axis=0)
    before = total[first] - values[first]
    return np.asarray(total - before[seg], dtype=np.int64)


def first_of_pairs(a: IntArray, b: IntArray) -> BoolArray:
    """Per row: True if the pair (a, b) occurs here for the first time."""
    if a.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    low, span = int(b.min()), int(b.max()) - int(b.min()) + 1
    return ~np.asarray(pd.Index(a * span + (b - low)).duplicated(keep="first"), dtype=bool)
