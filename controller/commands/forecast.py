"""fleetctl forecast: forecast any series from a CSV with the daemon's automatic model choice."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from controller.commands.common import Subparsers, positive_int
from controller.commands.output import file_to_write, notes_for, out_file, write_text
from controller.domain.errors import InputError
from controller.domain.forecast import Forecast
from controller.domain.series import Series


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "forecast",
        help="forecast series from a CSV (series_id,timestamp,value) with quantile bands",
        description="Forecast every series in --input with the same automatic model choice as "
        "the daemon. Output: series_id,timestamp,mean,lo_95,hi_95 (a lo/hi pair per --level).",
    )
    parser.add_argument(
        "--input", required=True, type=Path, help="CSV: [series_id,]timestamp,value"
    )
    parser.add_argument("--horizon", required=True, type=positive_int, help="steps to forecast")
    parser.add_argument(
        "--out",
        required=True,
        type=out_file,
        metavar="F.csv",
        help="CSV to write (whole or not at all), or - for standard output",
    )
    parser.add_argument(
        "--freq",
        type=_duration,
        default=None,
        help="step, e.g. 5min (default: the input's own step)",
    )
    parser.add_argument(
        "--level",
        type=_level,
        action="append",
        default=None,
        help="central interval in percent; repeat for several (default 95)",
    )
    parser.add_argument(
        "--plot",
        type=file_to_write,
        default=None,
        metavar="P.png",
        help="PNG of history and forecast (one panel per series, the first six)",
    )
    parser.add_argument(
        "--since",
        type=_timestamp,
        default=None,
        help="ignore history before this ISO 8601 time (a known change in traffic)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=min(2, os.cpu_count() or 1),
        metavar="N",
        help="processes forecasting series side by side (default: 2, or 1 on one core)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.series_csv import forecast_csv, read_series_csv

    levels: list[float] = sorted(set(args.level or [95.0]))
    if args.plot is not None:
        _require_matplotlib()
    series = read_series_csv(args.input, args.freq)
    if args.since is not None:
        series = [_since(s, args.since) for s in series]
    forecasts = list(
        _progress(_forecast_all(series, args.horizon, levels, args.workers), len(series))
    )
    write_text(args.out, forecast_csv(forecasts, levels))
    if args.plot is not None:
        from controller.adapters.forecast_plot import plot_forecasts

        plot_forecasts(args.plot, series, forecasts, max(levels))
    models = sorted({f.model for f in forecasts})
    print(
        f"{len(forecasts)} series x {args.horizon} steps -> {args.out}"
        + (f" and {args.plot}" if args.plot else "")
        + f" (models: {'; '.join(models)})",
        file=notes_for(args.out),
    )
    return 0


def _forecast_one(task: tuple[Series, int, tuple[float, ...]]) -> Forecast:
    from threadpoolctl import threadpool_limits

    from controller.forecasting.pipeline import forecast_series

    series, horizon, levels = task
    with threadpool_limits(limits=1):  # one core per series; the pool spreads series over cores
        return forecast_series(series, horizon, levels)


def _forecast_all(
    series: Sequence[Series], horizon: int, levels: Sequence[float], workers: int
) -> Iterator[Forecast]:
    tasks = [(s, horizon, tuple(levels)) for s in series]
    if workers == 1 or len(tasks) == 1:
        yield from map(_forecast_one, tasks)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        yield from pool.map(_forecast_one, tasks)


def _progress(forecasts: Iterator[Forecast], total: int) -> Iterator[Forecast]:
    """`forecast: 3/10 series` on stderr, rewritten in place on a terminal."""
    started = time.monotonic()
    interactive = sys.stderr.isatty()
    for done, forecast in enumerate(forecasts, 1):
        if interactive or done == total:
            end = "\n" if done == total else ""
            elapsed = time.monotonic() - started
            print(
                f"\rforecast: {done}/{total} series ({elapsed:.1f} s)",
                end=end,
                file=sys.stderr,
                flush=True,
            )
        yield forecast


def _since(series: Series, since: datetime) -> Series:
    from controller.forecasting.history import cut_history

    if (since.tzinfo is None) != (series.start.tzinfo is None):
        raise InputError(
            f"--since: {since.isoformat()} and the input's timestamps must both have a UTC offset "
            "or both have none"
        )
    cut = cut_history(series, since)
    if len(cut) == 0:
        raise InputError(
            f"--since: {since.isoformat()} is after the last row of series {series.series_id!r}"
        )
    return cut


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(
            "--plot needs matplotlib: pip install 'fleet-persona-controller[bench]'"
        ) from None


def _duration(text: str) -> timedelta:
    from controller.config import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"a level is a percentage between 0 and 100, got {text}")
    return value


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
