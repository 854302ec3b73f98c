"""`fleetctl anomalies`: the daemon's demand anomaly test replayed over a per-minute trace, so a
site can judge the detector on its own history (controller/workflow/anomaly_replay.py)."""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from controller.commands.common import Subparsers, cli_config
from controller.commands.output import notes_for, out_file, write_text

if TYPE_CHECKING:
    from controller.workflow.anomaly_replay import TraceAnomaly

COLUMNS = ("start", "end", "direction", "expected", "observed", "score")
PROGRESS_EVERY = 5.0
"""seconds between progress lines on standard error"""


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "anomalies",
        help="replay the daemon's demand anomaly test over a trace and list its findings",
        description="Runs what the daemon's anomaly step runs on a persona's demand (a forecast "
        "every forecast step from the automatic model choice, the band in force with the "
        "cycle's lead, the count floors, the seasonal second opinion, the calendar's campaigns, "
        "the config in force) over timestamp,requests_per_second (one row a minute, the "
        "simulator's input), causally, and writes start,end,direction,expected,observed,score "
        "per finding (times ISO 8601 UTC, rates in requests per second). Nothing is reported "
        "in the first two days: they are the forecaster's first history.",
    )
    parser.add_argument(
        "--trace", type=Path, required=True, help="CSV: timestamp,requests_per_second"
    )
    parser.add_argument(
        "--out",
        type=out_file,
        required=True,
        metavar="A.csv",
        help="CSV of findings (whole or not at all), or - for standard output",
    )
    parser.add_argument(
        "--from",
        dest="report_from",
        type=_utc_time,
        default=None,
        metavar="T",
        help="report findings starting at or after T (ISO 8601; no offset: UTC); the trace "
        "before T is still history",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.calendar_file import CALENDAR_FILE, load_calendar
    from controller.adapters.trace_csv import read_trace
    from controller.workflow.anomaly_replay import replay_anomalies

    config = cli_config(args)
    trace = read_trace(args.trace)
    # a trace is one series: campaigns for every persona (no `persona:`) apply to it
    calendar = load_calendar(
        config.personas_dir / CALENDAR_FILE, max_file_bytes=config.personas.max_file_bytes
    )
    notes = notes_for(args.out)
    began = time.perf_counter()
    found = replay_anomalies(
        trace.start,
        trace.demand_rps,
        config,
        calendar,
        report_from=args.report_from,
        progress=ProgressLine(sys.stderr, time.monotonic),
    )
    write_text(args.out, anomalies_csv(found))
    days = len(trace.demand_rps) / (24 * 60)
    print(
        f"{len(found)} finding(s) over {days:.1f} days of trace "
        f"({time.perf_counter() - began:.1f}s)",
        file=notes,
    )
    return 0


class ProgressLine:
    """A line on `stream` every PROGRESS_EVERY seconds of `clock`: minutes done / total and
    findings so far, so a long trace shows it is moving."""

    def __init__(
        self, stream: TextIO, clock: Callable[[], float], every: float = PROGRESS_EVERY
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.every = every
        self.last = clock()

    def due(self) -> bool:
        return self.clock() - self.last >= self.every

    def show(self, minutes_done: int, minutes_total: int, findings: int) -> None:
        self.last = self.clock()
        print(
            f"  {minutes_done:,} / {minutes_total:,} minutes, {findings} finding(s) so far",
            file=self.stream,
            flush=True,
        )


def anomalies_csv(found: Sequence[TraceAnomaly]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for a in found:
        writer.writerow(
            [
                _iso(a.start),
                _iso(a.end),
                a.direction,
                _rate(a.expected),
                _rate(a.observed),
                f"{a.score:.3f}",
            ]
        )
    return buffer.getvalue()


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rate(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.3f}"


def _utc_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
