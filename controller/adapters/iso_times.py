"""ISO 8601 timestamps with a UTC offset -> Unix milliseconds, vectorised for the usual shapes.

Producers nearly always write one fixed shape (`2026-11-02T10:00:00.250Z`); those are parsed
as a byte matrix with numpy, validated field by field. Anything else (other offsets, other
precisions, or a broken value) goes through `datetime.fromisoformat`, which also says exactly
what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# length -> digits of fraction, for YYYY-MM-DDTHH:MM:SS[.f...]Z
_SHAPES = {24: 3, 20: 0, 27: 6, 23: 2, 22: 1}
_DIGITS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_SEPARATORS = ((4, b"-"), (7, b"-"), (13, b":"), (16, b":"))


def parse_utc_ms(texts: Sequence[str]) -> tuple[IntArray, dict[int, str]]:
    """Milliseconds since the epoch for each text, and index -> reason for those that are not
    an ISO 8601 time with an offset."""
    n = len(texts)
    out = np.zeros(n, dtype=np.int64)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    done = np.zeros(n, dtype=bool)
    for length, fraction in _SHAPES.items():
        which = np.flatnonzero(lengths == length)
        if which.shape[0] == 0:
            continue
        chosen = list(texts) if which.shape[0] == n else [texts[i] for i in which.tolist()]
        blob = "".join(chosen).encode("ascii", errors="replace")
        matrix = np.frombuffer(blob, dtype=np.uint8).reshape(-1, length)
        ms, ok = _fixed(matrix, fraction)
        out[which[ok]] = ms[ok]
        done[which[ok]] = True
    problems: dict[int, str] = {}
    for index in np.flatnonzero(~done).tolist():
        parsed = parse_one(texts[index])
        if isinstance(parsed, str):
            problems[index] = parsed
        else:
            out[index] = parsed
    return out, problems


def parse_one(text: str) -> int | str:
    """Unix milliseconds, or the reason `text` is not an ISO 8601 time with an offset."""
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return f"timestamp: not an ISO 8601 time, e.g. 2026-11-27T08:00:00Z (got {shown})"
    if when.tzinfo is None:
        return f"timestamp: needs a UTC offset, e.g. 2026-11-27T08:00:00Z (got {shown})"
    return (when - _EPOCH) // _MS


def _fixed(matrix: npt.NDArray[np.uint8], fraction: int) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Rows of YYYY-MM-DDTHH:MM:SS[.f]Z: their Unix ms, and which rows really are that.

    The shape is checked here byte by byte; numpy's own ISO parser then converts the rows and
    checks the ranges (month 13, February 30, hour 24 are errors there too).
    """
    digit_columns = [*_DIGITS, *range(20, 20 + fraction)]
    ok = ((matrix[:, digit_columns] - 48) <= 9).all(axis=1)  # uint8 wraps below '0'
    ok &= (matrix[:, _SEPARATOR_COLUMNS] == _SEPARATOR_BYTES).all(axis=1)
    ok &= np.isin(matrix[:, 10], _T)
    ok &= np.isin(matrix[:, -1], _Z)
    if fraction:
        ok &= matrix[:, 19] == ord(".")
    ms = np.zeros(matrix.shape[0], dtype=np.int64)
    rows = np.flatnonzero(ok)
    if rows.shape[0] == 0:
        return ms, ok
    text = np.ascontiguousarray(matrix[rows, :-1])
    text[:, 10] = ord("T")
    strings = text.view(f"S{matrix.shape[1] - 1}").ravel()
    try:
        ms[rows] = strings.astype("datetime64[us]").astype(np.int64) // 1000
    except ValueError:
        ok[:] = False  # some row is out of range: let the careful path say which
    return ms, ok


_SEPARATOR_COLUMNS = [c for c, _ in _SEPARATORS]
_SEPARATOR_BYTES = np.frombuffer(b"".join(ch for _, ch in _SEPARATORS), dtype=np.uint8)
_T = np.array([ord("T"), ord("t"), ord(" ")], dtype=np.uint8)
_Z = np.array([ord("Z"), ord("z")], dtype=np.uint8)
