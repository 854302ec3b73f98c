"""CSV of time series in (`series_id,timestamp,value`) and forecasts out.

Reading checks everything a person could get wrong and reports each problem as
`path:line: column: message (got value)`, all at once (up to MAX_PROBLEMS). A missing row is a
gap (NaN), never a zero; an empty or `nan` value is a gap too.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from controller.adapters.files import read_input_text
from controller.domain.errors import InputError
from controller.domain.forecast import Forecast
from controller.domain.series import Series

REQUIRED = ("timestamp", "value")
DEFAULT_SERIES = "series"
MAX_PROBLEMS = 20


class SeriesFileError(InputError):
    def __init__(self, path: Path, problems: list[str], more: int = 0) -> None:
        self.problems = problems
        extra = f"\n  ... and {more} more" if more else ""
        count = len(problems) + more
        super().__init__(
            f"{path}: {count} problem{'s' if count != 1 else ''}:\n  "
            + "\n  ".join(problems)
            + extra
        )


@dataclass
class _Rows:
    lines: list[int]
    times: list[datetime]
    values: list[float]


def read_series_csv(path: Path, freq: timedelta | None = None) -> list[Series]:
    """Every series in the file, each on a regular grid of its own step (or `freq`).

    With `freq` coarser than the data's step, buckets of `freq` take the mean of their rows.
    """
    text = read_input_text(path, encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise InputError(f"{path}:1: empty file; expected a header series_id,timestamp,value")
    columns = [name.strip() for name in header]
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise InputError(
            f"{path}:1: header: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (got {','.join(columns)}; expected [series_id,]timestamp,value)"
        )
    where = {name: columns.index(name) for name in (*REQUIRED, "series_id") if name in columns}
    problems: list[str] = []

    def problem(line: int, column: str, message: str, got: str) -> None:
        problems.append(f"{path}:{line}: {column}: {message} (got {got!r})")

    rows: dict[str, _Rows] = {}
    seen: dict[tuple[str, datetime], int] = {}
    aware: bool | None = None
    for line, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(columns):
            problem(
                line,
                "row",
                f"{len(record)} fields, the header has {len(columns)}",
                ",".join(record),
            )
            continue
        series_id = record[where["series_id"]].strip() if "series_id" in where else DEFAULT_SERIES
        if not series_id:
            problem(line, "series_id", "empty", record[where["series_id"]])
            continue
        raw_time = record[where["timestamp"]].strip()
        try:
            when = datetime.fromisoformat(raw_time)
        except ValueError:
            problem(line, "timestamp", "not an ISO 8601 time like 2026-11-02T13:05:00Z", raw_time)
            continue
        if aware is None:
            aware = when.tzinfo is not None
        elif aware != (when.tzinfo is not None):
            problem(line, "timestamp", "mixes times with and without a UTC offset", raw_time)
            continue
        raw_value = record[where["value"]].strip()
        value = _parse_value(raw_value)
        if value is None:
            problem(line, "value", "not a number", raw_value)
            continue
        key = (series_id, when)
        if key in seen:
            problem(
                line,
                "timestamp",
                f"duplicate of line {seen[key]} for series {series_id!r}",
                raw_time,
            )
            continue
        seen[key] = line
        bucket = rows.setdefault(series_id, _Rows([], [], []))
        bucket.lines.append(line)
        bucket.times.append(when)
        bucket.values.append(value)
    if not rows and not problems:
        raise InputError(f"{path}: no data rows after the header")
    result = []
    for series_id, found in rows.items():
        built = _regular(path, series_id, found, freq, problems)
        if built is not None:
            result.append(built)
    if problems:
        raise SeriesFileError(path, problems[:MAX_PROBLEMS], max(0, len(problems) - MAX_PROBLEMS))
    return result


def _parse_value(raw: str) -> float | None:
    if raw == "" or raw.lower() in ("nan", "na", "null"):
        return float("nan")
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _regular(
    path: Path, series_id: str, rows: _Rows, freq: timedelta | None, problems: list[str]
) -> Series | None:
    order = sorted(range(len(rows.times)), key=rows.times.__getitem__)
    times = [rows.times[i] for i in order]
    values = np.array([rows.values[i] for i in order])
    lines = [rows.lines[i] for i in order]
    if len(times) < 2:
        problems.append(
            f"{path}:{lines[0]}: series_id: series {series_id!r} has one row; need at least 2"
        )
        return None
    steps = Counter(b - a for a, b in itertools.pairwise(times))
    step = steps.most_common(1)[0][0]
    start = times[0]
    offsets = [(t - start) / step for t in times]
    off_grid = [i for i, k in enumerate(offsets) if abs(k - round(k)) > 1e-9]
    for i in off_grid[:5]:
        problems.append(
            f"{path}:{lines[i]}: timestamp: irregular spacing in series {series_id!r}: "
            f"not on its {_show(step)} grid from {start.isoformat()} (got {times[i].isoformat()!r})"
        )
    if off_grid:
        return None
    index = np.array([round(k) for k in offsets])
    grid = np.full(int(index[-1]) + 1, np.nan)
    grid[index] = values
    series = Series(series_id, start, step, grid)
    if freq is None or freq == step:
        return series
    if freq < step or freq % step:
        problems.append(
            f"{path}:{lines[0]}: timestamp: --freq {_show(freq)} is not a whole multiple of the "
            f"{_show(step)} step of series {series_id!r} (got {_show(freq)})"
        )
        return None
    return _coarser(series, int(freq / step))


def _coarser(series: Series, factor: int) -> Series:
    """Buckets of `factor` steps, each the mean of its observed values (NaN if none)."""
    whole = -(-len(series) // factor)
    padded = np.concatenate([series.values, np.full(whole * factor - len(series), np.nan)])
    blocks = padded.reshape(whole, factor)
    counts = (~np.isnan(blocks)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, np.nansum(blocks, axis=1) / np.maximum(counts, 1), np.nan)
    return Series(series.series_id, series.start, series.step * factor, means)


def _show(step: timedelta) -> str:
    seconds = int(step.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def forecast_csv(forecasts: Sequence[Forecast], levels: Sequence[float]) -> str:
    """`series_id,timestamp,mean,lo_95,hi_95` (a lo/hi pair per level), one row per step."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["series_id", "timestamp", "mean"]
    for level in levels:
        header += [f"lo_{level:g}", f"hi_{level:g}"]
    writer.writerow(header)
    for forecast in forecasts:
        bands = []
        for level in levels:
            tail = round((100 - level) / 200, 6)
            bands.append((forecast.quantiles[tail], forecast.quantiles[round(1 - tail, 6)]))
        for i in range(forecast.horizon):
            row = [forecast.series_id, forecast.time_at(i).isoformat(), _num(forecast.mean[i])]
            for low, high in bands:
                row += [_num(low[i]), _num(high[i])]
            writer.writerow(row)
    return out.getvalue()


def _num(value: float) -> str:
    return f"{float(value):.6g}"
