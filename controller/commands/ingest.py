"""`fleetctl ingest`: read a source into the metric store, with progress, until done or stopped."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from controller.commands.common import Subparsers, cli_config, positive_int
from controller.domain.errors import InputError, UsageError

if TYPE_CHECKING:
    from controller.workflow.ingestion import BatchReport, Ingestion, IngestTotals, SourceProblem

PROGRESS_EVERY_S = 1.0


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "ingest",
        help="read events from a file, Kafka or Kinesis into the metric store",
        description="Reads events into the metric store, exactly once: each batch commits its "
        "aggregates, dead letters and source positions in one transaction, so a restart after a "
        "crash continues where the last commit left off.",
    )
    parser.add_argument(
        "--source",
        help="file://PATH, kafka://HOST:PORT/TOPIC?group=G or kinesis://STREAM?region=R"
        "[&endpoint=URL] (default: events.source of the config)",
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        help="replay a file at N x real time by its event timestamps (default: as fast as possible)",
    )
    parser.add_argument(
        "--max-events", type=positive_int, help="stop after reading N records from the source"
    )
    parser.add_argument(
        "--follow", action="store_true", help="keep reading new events until stopped (Ctrl-C)"
    )
    parser.add_argument(
        "--from-start",
        action="store_true",
        help="a file:// source whose file was replaced or truncated under the same name: read "
        "the new file from its first line (what is stored stays; refused for the file already "
        "read, whose events it would count twice)",
    )
    parser.add_argument("--quiet", action="store_true", help="only the final summary")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.event_file import FileEventSource
    from controller.workflow.ingestion import adopt_learning, open_ingestion

    config = cli_config(args)
    url = _absolute(args.source) if args.source else config.events.source
    ingestion = open_ingestion(config, url)
    source = ingestion.source
    if args.speed is not None and not source.replayable:
        ingestion.close()
        raise UsageError(f"--speed applies to file:// sources only (got {url})")
    if args.follow and isinstance(source, FileEventSource):
        source.follow = True
    if args.from_start:
        try:
            _read_from_start(ingestion)
        except BaseException:
            ingestion.close()
            raise
    progress = _Progress(url, quiet=args.quiet)
    stop = _StopFlag()
    try:
        if args.speed is not None:
            totals = _replay_at_speed(
                ingestion, args.speed, args.max_events, args.follow, stop.is_set, progress
            )
        else:
            totals = ingestion.ingestor.run(
                max_records=args.max_events,
                follow=args.follow,
                should_stop=stop.is_set,
                on_batch=progress.batch,
                on_problem=progress.problem,
            )
        stored = ingestion.store.totals(source.key)
        counts = ingestion.store.dead_letter_counts()
        adopt_learning(ingestion.store)  # a finished run: what it learned is in force next run
    finally:
        stop.restore()
        ingestion.close()
    progress.summary(totals, stored.events, counts, stopped=stop.is_set())
    return 0


def _read_from_start(ingestion: Ingestion) -> None:
    """Point the stored position of a replaced file back at its start (--from-start)."""
    from controller.adapters.event_file import PARTITION, FileEventSource

    source = ingestion.source
    if not isinstance(source, FileEventSource):
        raise UsageError(f"--from-start applies to file:// sources only (got {source.url})")
    stored = ingestion.store.position(source.key, PARTITION)
    if stored is None:
        return  # never read: it starts there anyway
    replaced = source.replaced()
    if replaced is None:
        raise InputError(
            f"{source.path}: --from-start refused: this is the file already read up to "
            f"{stored.split(';')[0]} (BYTE:LINE), so reading it again would count its events "
            "twice; without --from-start, ingest reads on from there"
        )
    ingestion.store.restart_partition(source.key, PARTITION, stored, "0:0")
    print(f"{source.path}: {replaced.what}; --from-start: reading it from its first line")


def _replay_at_speed(
    ingestion: Ingestion,
    speed: float,
    max_events: int | None,
    follow: bool,
    should_stop: Callable[[], bool],
    progress: _Progress,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> IngestTotals:
    """Events are released when a clock running `speed` x real time reaches their timestamp.

    Each release is its own ingest run with totals of its own, so progress is handed the
    totals since the replay began (earlier runs plus this one), not the last run's."""
    from controller.adapters.event_file import FileEventSource
    from controller.workflow.ingestion import IngestTotals

    source = ingestion.source
    assert isinstance(source, FileEventSource)
    stored = ingestion.store.totals(source.key).watermark_ms
    first = (
        datetime.fromtimestamp(stored / 1000, UTC)
        if stored is not None
        else source.first_event_at()
    )
    overall = IngestTotals()
    if first is None:
        return overall

    def so_far(report: BatchReport, run: IngestTotals) -> None:
        progress.batch(report, _merged(overall, run))

    began = monotonic()
    while not should_stop():
        now = first + timedelta(seconds=(monotonic() - began) * speed)
        remaining = None if max_events is None else max_events - overall.records
        if remaining is not None and remaining <= 0:
            break
        totals = ingestion.ingestor.run(
            until=now, max_records=remaining, should_stop=should_stop, on_batch=so_far
        )
        _merge(overall, totals)
        if source.caught_up() and not follow:
            break
        wait = 0.5
        if totals.next_event_at is not None:
            wait = min(1.0, max(0.0, (totals.next_event_at - now).total_seconds() / speed))
        sleep(wait)
    return overall


def _merged(earlier: IngestTotals, latest: IngestTotals) -> IngestTotals:
    from controller.workflow.ingestion import IngestTotals

    both = IngestTotals()
    _merge(both, earlier)
    _merge(both, latest)
    return both


def _merge(into: IngestTotals, more: IngestTotals) -> None:
    into.records += more.records
    into.events += more.events
    into.dead_letters.update(more.dead_letters)
    into.sessions += more.sessions
    into.unmatched_sessions += more.unmatched_sessions
    into.unusual_sessions += more.unusual_sessions
    into.learned_sessions += more.learned_sessions
    into.batches += more.batches
    into.conflicts += more.conflicts
    if more.watermark is not None:
        into.watermark = max(filter(None, (into.watermark, more.watermark)))


class _Progress:
    """One line a second while batches commit, each with the totals since the run began; the
    last totals are printed before the summary if the one-a-second limit held them back."""

    def __init__(
        self, url: str, quiet: bool, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.url = url
        self.quiet = quiet
        self.monotonic = monotonic
        self.began = monotonic()
        self.last_print = 0.0
        self.held_back: tuple[BatchReport, IngestTotals] | None = None

    def batch(self, report: BatchReport, totals: IngestTotals) -> None:
        if report.conflict:
            self._say(f"  {report.conflict}; re-reading from the stored position")
        now = self.monotonic()
        if self.quiet:
            return
        if now - self.last_print < PROGRESS_EVERY_S:
            self.held_back = (report, totals)
            return
        self.last_print = now
        self.held_back = None
        self._line(report, totals, now)

    def _line(self, report: BatchReport, totals: IngestTotals, now: float) -> None:
        rate = totals.records / max(now - self.began, 1e-9)
        letters = sum(totals.dead_letters.values())
        mark = _t(totals.watermark)
        parts = ",".join(report.partitions)
        self._say(
            f"  {totals.records:>12,} records {totals.events:>12,} events {rate:>10,.0f}/s  "
            f"{letters:,} dead letters  {totals.sessions:,} sessions  stream time {mark}  "
            f"partitions {parts}"
        )

    def problem(self, problem: SourceProblem | None) -> None:
        if problem is None:
            self._say("  source reachable again: resuming from the stored positions")
        else:
            self._say(
                f"  source unreachable ({problem.message}); retry {problem.attempt} in "
                f"{problem.retry_in_s:.0f}s"
            )

    def summary(
        self, totals: IngestTotals, stored_events: int, counts: dict[str, int], stopped: bool
    ) -> None:
        now = self.monotonic()
        if self.held_back is not None:
            self._line(*self.held_back, now)
            self.held_back = None
        elapsed = now - self.began
        rate = totals.records / max(elapsed, 1e-9)
        letters = sum(totals.dead_letters.values())
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(totals.dead_letters.items()))
        how = "stopped" if stopped else "done"
        print(
            f"ingest {how}: {totals.events:,} events and {letters:,} dead letters"
            f"{f' ({kinds})' if kinds else ''} from {totals.records:,} records of {self.url} "
            f"in {elapsed:.1f}s ({rate:,.0f} records/s)"
        )
        print(
            f"  {totals.sessions:,} sessions ({totals.unmatched_sessions:,} unmatched, "
            f"{totals.unusual_sessions:,} unusual; {totals.learned_sessions:,} complete ones "
            "taught the matcher); stream "
            f"time up to {_t(totals.watermark)}; store holds {stored_events:,} events from "
            f"this source, {sum(counts.values()):,} dead letters in all"
        )

    def _say(self, text: str) -> None:
        print(text, flush=True)


class _StopFlag:
    """SIGINT/SIGTERM: finish the batch in hand (it commits or not, whole), then stop."""

    def __init__(self) -> None:
        self._set = False
        self._old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._set:
            raise KeyboardInterrupt
        self._set = True
        print("stopping after the current batch...", file=sys.stderr, flush=True)

    def is_set(self) -> bool:
        return self._set

    def restore(self) -> None:
        for number, handler in self._old.items():
            signal.signal(number, handler)


def _absolute(url: str) -> str:
    if url.startswith("file://"):
        return f"file://{Path(url.removeprefix('file://')).resolve()}"
    return url


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _t(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%dT%H:%MZ") if when else "none yet"
