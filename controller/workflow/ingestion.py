"""The ingestion loop: poll a source, decode, screen, sessionize, classify, aggregate, commit.

One batch = one transaction: its aggregates, dead letters, every partition's new position and
session state, and what the sessions it completed teach the persona matcher go to the store
together. The matcher's parameters stay fixed for a run; what was learned is put in force
(`adopt_learning`) after a run finishes, so persona totals never depend on batch sizes or
restarts. The in-memory state of a partition is trusted only while
the source continues from exactly the position it was committed at; any doubt (a rebalance, a
rewind, another ingester's commit) reloads it from the store.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from threadpoolctl import ThreadpoolController

from controller.adapters.event_decode import (
    TOO_FAR_AHEAD,
    TOO_LATE,
    EventDecoder,
)
from controller.adapters.event_source import EventSource, RecordChunk, open_event_source
from controller.adapters.storage.db import connect
from controller.adapters.storage.ingest_store import (
    DeadLetter,
    IngestStore,
    PartitionCommit,
    PositionConflict,
)
from controller.adapters.storage.matcher_store import MatcherStore
from controller.adapters.storage.metric_store import MetricStore
from controller.adapters.storage.persona_store import PersonaStore
from controller.adapters.storage.session_blob import decode_sessions, encode_sessions
from controller.config import ControllerConfig, EventsConfig
from controller.domain.clock import Clock, SystemClock
from controller.domain.errors import TemporaryError
from controller.ingest.aggregate import aggregate
from controller.ingest.columns import concat
from controller.ingest.matching import DEFAULT_UNUSUAL_Z, UNMATCHED, SessionClassifier
from controller.ingest.partition import PartitionState, PartitionStep, StreamRules, advance
from controller.ingest.sessions import SessionSoFar, SessionState, TypeBits
from controller.ingest.stream_time import screen
from controller.matching.model import LearnedRow, PersonaMatcher, learned_rows
from controller.workflow.persona_matching import matcher_in_force, personas_in_force

_ONE_BLAS_THREAD = ThreadpoolController()


@dataclass
class Ingestion:
    """A ready ingester over the configured store, for `fleetctl ingest` and benchmarks."""

    ingestor: StreamIngestor
    store: IngestStore
    metrics: MetricStore

    @property
    def source(self) -> EventSource:
        return self.ingestor.source

    def close(self) -> None:
        self.ingestor.source.close()
        self.store.engine.dispose()


def open_ingestion(config: ControllerConfig, source_url: str | None = None) -> Ingestion:
    """Store, source and matcher from `config` (the source from `source_url` if given).

    Personas are the store's versions in force, else the directory's (see persona_matching)."""
    engine = connect(config.sqlalchemy_url)
    try:
        store = IngestStore(engine)
        personas = personas_in_force(config, PersonaStore(engine, SystemClock()))
        matcher = matcher_in_force(config, MatcherStore(engine), personas)
        source = open_event_source(source_url or config.events.source, positions=store)
    except BaseException:
        engine.dispose()
        raise
    return Ingestion(
        configured_ingestor(config, source, store, matcher), store, MetricStore(engine)
    )


def configured_ingestor(
    config: ControllerConfig, source: EventSource, store: IngestStore, matcher: PersonaMatcher
) -> StreamIngestor:
    """The ingester `fleetctl ingest` and the daemon's ingest step both run: the events
    settings and the anomalies' resource threshold from `config`."""
    return StreamIngestor(
        source,
        store,
        matcher,
        IngestSettings.from_config(config.events),
        unusual_z=config.anomalies.resource_z,
    )


def adopt_learning(store: IngestStore) -> int:
    """Put what ingestion learned in force for the next run (persona versions updated)."""
    return MatcherStore(store.engine).adopt()


@dataclass(frozen=True)
class IngestSettings:
    rules: StreamRules
    max_batch: int
    max_event_bytes: int

    @staticmethod
    def from_config(events: EventsConfig) -> IngestSettings:
        def ms(delta: timedelta) -> int:
            return int(delta.total_seconds() * 1000)

        return IngestSettings(
            rules=StreamRules(
                bucket_ms=ms(events.bucket),
                session_gap_ms=ms(events.session_gap),
                allowed_lateness_ms=ms(events.allowed_lateness),
                max_ahead_ms=ms(events.max_ahead),
                max_silence_ms=ms(events.max_silence),
            ),
            max_batch=events.max_batch,
            max_event_bytes=events.max_event_bytes,
        )


@dataclass
class BatchReport:
    records: int = 0
    events: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    unmatched_sessions: int = 0
    unusual_sessions: int = 0
    learned_sessions: int = 0
    partitions: tuple[str, ...] = ()
    watermark: datetime | None = None
    next_event_at: datetime | None = None
    """a replay stopped before this event: the clock has not reached it"""
    conflict: str | None = None
    """another ingester had moved a partition: the batch was dropped and will be re-read"""


@dataclass
class IngestTotals:
    records: int = 0
    events: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    sessions: int = 0
    unmatched_sessions: int = 0
    unusual_sessions: int = 0
    learned_sessions: int = 0
    batches: int = 0
    conflicts: int = 0
    watermark: datetime | None = None
    next_event_at: datetime | None = None

    def add(self, report: BatchReport) -> None:
        self.records += report.records
        self.events += report.events
        self.dead_letters.update(report.dead_letters)
        self.sessions += report.sessions
        self.unmatched_sessions += report.unmatched_sessions
        self.unusual_sessions += report.unusual_sessions
        self.learned_sessions += report.learned_sessions
        self.batches += 1 if report.records or report.partitions else 0
        self.conflicts += 1 if report.conflict else 0
        if report.watermark is not None:
            self.watermark = max(filter(None, (self.watermark, report.watermark)))
        self.next_event_at = report.next_event_at


@dataclass(frozen=True)
class SourceProblem:
    message: str
    retry_in_s: float
    attempt: int


@dataclass
class _Held:
    position: str | None
    state: PartitionState


@dataclass
class _Part:
    chunk: RecordChunk
    expected: str | None
    end: str
    step: PartitionStep
    letters: list[DeadLetter]
    consumed: int
    """records of the chunk this batch used (the rest is re-read later)"""


class StreamIngestor:
    def __init__(
        self,
        source: EventSource,
        store: IngestStore,
        matcher: PersonaMatcher,
        settings: IngestSettings,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        unusual_z: float = DEFAULT_UNUSUAL_Z,
    ) -> None:
        self.source = source
        self.store = store
        self.settings = settings
        self.bits = TypeBits()
        self.classifier = SessionClassifier(matcher, self.bits, unusual_z)
        self.decoder = EventDecoder(settings.max_event_bytes)
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.monotonic = monotonic
        self._held: dict[str, _Held] = {}

    # -- one batch ---------------------------------------------------------------------------

    def step(
        self, max_records: int, until: datetime | None = None, timeout_s: float = 1.0
    ) -> BatchReport:
        """Read up to `max_records`, stopping before the first event later than `until` (files)."""
        chunks = self.source.poll(max_records, timeout_s)
        # the matcher multiplies (sessions x 4) by (4 x personas): BLAS threads only spin
        with _ONE_BLAS_THREAD.limit(limits=1, user_api="blas"):
            return self._step(chunks, until)

    def _step(self, chunks: list[RecordChunk], until: datetime | None) -> BatchReport:
        report = BatchReport()
        parts = [p for p in (self._process(c, until, report) for c in chunks) if p is not None]
        if not parts:
            return report
        events = concat([p.step.events for p in parts])
        result = aggregate(
            events,
            np.concatenate([p.step.persona_codes for p in parts]),
            self.classifier.personas,
            np.concatenate([p.step.counted for p in parts]),
            self.settings.rules.bucket_ms,
            np.concatenate([p.step.unusual for p in parts]),
        )
        learned, learned_sessions = self._learning(parts)
        letters = [letter for p in parts for letter in p.letters]
        commits = [
            PartitionCommit(
                partition=p.chunk.partition,
                expected=p.expected,
                position=p.end,
                watermark_ms=p.step.state.watermark_ms,
                events=len(p.step.events),
                dead_letters=len(p.letters),
                sessions=encode_sessions(p.step.state.sessions, self.bits),
            )
            for p in parts
        ]
        covered = [span for p in parts for span in p.step.covered]
        try:
            self.store.commit(
                self.source.key, commits, result, covered, letters, self.clock.now(), learned
            )
        except PositionConflict as exc:
            for p in parts:
                self._held.pop(p.chunk.partition, None)
                self.source.rewind(
                    p.chunk.partition, self.store.position(self.source.key, p.chunk.partition)
                )
            return BatchReport(
                conflict=str(exc), partitions=tuple(p.chunk.partition for p in parts)
            )
        self.source.acknowledge({p.chunk.partition: p.end for p in parts})
        for p in parts:
            self._held[p.chunk.partition] = _Held(p.end, p.step.state)
            codes = p.step.session_personas
            report.sessions += int(codes.shape[0])
            unmatched = self.classifier.personas.index(UNMATCHED)
            report.unmatched_sessions += int(np.count_nonzero(codes == unmatched))
            report.unusual_sessions += int(np.count_nonzero(p.step.session_unusual))
        report.learned_sessions = learned_sessions
        report.records += sum(p.consumed for p in parts)
        report.events = len(events)
        report.dead_letters.update(letter.kind for letter in letters)
        report.partitions = tuple(p.chunk.partition for p in parts)
        marks = [p.step.state.watermark_ms for p in parts if p.step.state.watermark_ms is not None]
        report.watermark = _time(max(marks)) if marks else None
        return report

    def _learning(self, parts: list[_Part]) -> tuple[dict[tuple[str, int], LearnedRow], int]:
        """What the sessions this batch completed teach, per persona version (one EM step
        under the parameters in force; bounded by the sessions in the batch)."""
        closed = SessionSoFar.concat([p.step.closed for p in parts])
        statistics = self.classifier.statistics(closed)
        if statistics is None:
            return {}, 0
        rows = learned_rows(replace(self.classifier.matcher, learned=statistics))
        taught = {key: row for key, row in rows.items() if row["sessions"][0] > 0}
        return taught, round(float(statistics.sessions.sum()))

    def _process(
        self, chunk: RecordChunk, until: datetime | None, report: BatchReport
    ) -> _Part | None:
        held = self._state_for(chunk)
        if held is None:
            return None
        decoded = self.decoder.decode(chunk.records, chunk.joined, chunk.oversize, chunk.lengths)
        events, rejected = decoded.events, decoded.rejected
        limit, end = len(chunk), chunk.end
        if until is not None and self.source.replayable and len(events):
            rules = self.settings.rules
            ahead = screen(
                events.ts_ms, held.state.watermark_ms, rules.allowed_lateness_ms, rules.max_ahead_ms
            ).too_far_ahead
            due = _ms(until)
            future = np.flatnonzero(~ahead & (events.ts_ms > due))
            if future.shape[0]:
                limit = int(events.records[future[0]])
                report.next_event_at = _time(int(events.ts_ms[future[0]]))
        if limit == 0 and len(chunk):
            self.source.rewind(chunk.partition, chunk.start)  # nothing due yet
            return None
        if limit < len(chunk):
            events = events.take(events.records < limit)
            rejected = [r for r in rejected if r.record < limit]
            end = chunk.position_at(limit)
            self.source.rewind(chunk.partition, end)
        step = advance(events, held.state, self.settings.rules, self.classifier)
        letters = [
            DeadLetter(chunk.label_at(r.record), r.kind, r.reason, self._raw(chunk, r.record))
            for r in rejected
        ]
        letters += self._stream_time_letters(chunk, step)
        return _Part(chunk, held.position, end, step, letters, limit)

    def _stream_time_letters(self, chunk: RecordChunk, step: PartitionStep) -> list[DeadLetter]:
        rules = self.settings.rules
        letters = []
        for record, ts, stream in zip(
            step.too_late.tolist(),
            step.too_late_ts.tolist(),
            step.too_late_stream_ms.tolist(),
            strict=True,
        ):
            reason = (
                f"too late: event time {_iso(ts)} is {_span(stream - ts)} behind the stream "
                f"(newest {_iso(stream)}; allowed lateness {_span(rules.allowed_lateness_ms)})"
            )
            letters.append(
                DeadLetter(chunk.label_at(record), TOO_LATE, reason, self._raw(chunk, record))
            )
        reference = step.reference_ms or 0
        for record, ts in zip(
            step.too_far_ahead.tolist(), step.too_far_ahead_ts.tolist(), strict=True
        ):
            reason = (
                f"too far ahead: event time {_iso(ts)} is {_span(ts - reference)} beyond the "
                f"stream's time {_iso(reference)} (max ahead {_span(rules.max_ahead_ms)})"
            )
            letters.append(
                DeadLetter(chunk.label_at(record), TOO_FAR_AHEAD, reason, self._raw(chunk, record))
            )
        return letters

    def _raw(self, chunk: RecordChunk, record: int) -> bytes:
        return chunk.records[record][: self.settings.max_event_bytes]

    def _state_for(self, chunk: RecordChunk) -> _Held | None:
        """The partition's state if the chunk continues from it; else reload, or rewind."""
        held = self._held.get(chunk.partition)
        if held is not None and held.position == chunk.start:
            return held
        stored = self.store.partition(self.source.key, chunk.partition)
        position = stored.position if stored is not None else None
        if position != chunk.start:
            self._held.pop(chunk.partition, None)
            self.source.rewind(chunk.partition, position)
            return None
        if stored is not None:
            state = PartitionState(stored.watermark_ms, decode_sessions(stored.sessions, self.bits))
        else:
            state = self._inherited(chunk.inherits)
        held = _Held(position, state)
        self._held[chunk.partition] = held
        return held

    def _inherited(self, parents: tuple[str, ...]) -> PartitionState:
        """A new Kinesis child shard continues its parents' open sessions."""
        found = [self.store.partition(self.source.key, p) for p in parents]
        stored = [s for s in found if s is not None]
        if not stored:
            return PartitionState()
        marks = [s.watermark_ms for s in stored if s.watermark_ms is not None]
        sessions = SessionState.merge([decode_sessions(s.sessions, self.bits) for s in stored])
        return PartitionState(max(marks) if marks else None, sessions)

    # -- many batches ------------------------------------------------------------------------

    def run(
        self,
        until: datetime | None = None,
        max_records: int | None = None,
        follow: bool = False,
        idle_timeout_s: float = 30.0,
        time_budget_s: float | None = None,
        retry_budget_s: float | None = 300.0,
        should_stop: Callable[[], bool] = lambda: False,
        on_batch: Callable[[BatchReport, IngestTotals], None] | None = None,
        on_problem: Callable[[SourceProblem | None], None] | None = None,
    ) -> IngestTotals:
        """Batches until the source is caught up (or forever with `follow`), the replay reaches
        `until`, `max_records` were read, or `time_budget_s` passed.

        A source that cannot be reached is retried with exponential backoff (1 s doubling to
        30 s), reported through `on_problem` and, once it answers again, read on from the stored
        positions. Without `follow`, giving up after `retry_budget_s` raises TemporaryError.
        """
        totals = IngestTotals()
        # A replay up to `until` usually needs a few lines, not a full batch: start small and
        # grow while whole batches are due, so holding back the future costs little decoding.
        holding_back = until is not None and self.source.replayable
        size = min(1024, self.settings.max_batch) if holding_back else self.settings.max_batch
        started = last_records = self.monotonic()
        attempt, trouble_since = 0, None
        while not should_stop():
            if time_budget_s is not None and self.monotonic() - started > time_budget_s:
                break
            want = size
            if max_records is not None:
                want = min(want, max_records - totals.records)
                if want <= 0:
                    break
            try:
                report = self.step(want, until)
                problem = None if self.source.health().ok else self.source.health().message
            except TemporaryError as exc:
                report, problem = BatchReport(), str(exc)
            if problem is not None and report.records == 0:
                attempt += 1
                trouble_since = trouble_since or self.monotonic()
                delay = min(30.0, 2.0 ** (attempt - 1))
                if on_problem:
                    on_problem(SourceProblem(problem, delay, attempt))
                waited = self.monotonic() - trouble_since
                if not follow and retry_budget_s is not None and waited > retry_budget_s:
                    raise TemporaryError(
                        f"{self.source.url}: unreachable for {waited:.0f}s: {problem}"
                    )
                self.sleep(delay)
                continue
            if attempt and on_problem:
                on_problem(None)
            attempt, trouble_since = 0, None
            totals.add(report)
            if report.records >= want and report.next_event_at is None:
                size = min(size * 4, self.settings.max_batch)
            if report.records or report.conflict:
                last_records = self.monotonic()
                if on_batch:
                    on_batch(report, totals)
            if report.next_event_at is not None and not follow:
                break
            if not follow and self.source.caught_up():
                break
            if report.records == 0 and not report.conflict:
                if not follow and self.monotonic() - last_records > idle_timeout_s:
                    break
                if self.source.replayable:
                    self.sleep(0.2 if follow else 0.0)
        totals.next_event_at = totals.next_event_at if not self.source.caught_up() else None
        return totals


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _iso(ms: int) -> str:
    return _time(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _span(ms: int) -> str:
    seconds = ms / 1000
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.1f}min"
    return f"{seconds:.1f}s"
