"""The ingestion loop: poll a source, decode, screen, sessionize, classify, aggregate, commit.

One batch = one transaction: its aggregates, dead letters, every partition's new position and
session state, and what the sessions it completed teach the persona matcher go to the store
together. The matcher's parameters stay fixed for a run; what was learned is put in force
(`adopt_learning`) after a run finishes, so persona totals never depend on batch sizes or
restarts. The in-memory state of a partition is trusted only while
the source continues from exactly the position it was committed at; any doubt (a rebalance, a
rewind, another ingester's commit) reloads it from the store.

In bulk (no `until`), run() reads and decodes the next batch in one background thread while
the current one is processed; the source is never called from both threads at once, and a
rewind gives the batch read ahead back (see "the read in flight" below).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from threadpoolctl import ThreadpoolController

from controller.adapters.event_decode import (
    TOO_FAR_AHEAD,
    TOO_LATE,
    Decoded,
    EventDecoder,
)
from controller.adapters.event_source import (
    EventSource,
    PositionLookup,
    RecordChunk,
    RecordView,
    open_event_source,
)
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


def open_ingestion(
    config: ControllerConfig,
    source_url: str | None = None,
    open_source: Callable[[str, PositionLookup], EventSource] = open_event_source,
) -> Ingestion:
    """Store, source and matcher from `config` (the source from `source_url` if given).

    Personas are the store's versions in force, else the directory's (see persona_matching).
    `open_source` opens the source over the store's positions; tests pass one with a fake."""
    engine = connect(config.sqlalchemy_url)
    try:
        store = IngestStore(engine)
        personas = personas_in_force(config, PersonaStore(engine, SystemClock()))
        matcher = matcher_in_force(config, MatcherStore(engine), personas)
        source = open_source(source_url or config.events.source, store)
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


@dataclass
class _Read:
    """The read phase's work: the chunks one poll returned, each decoded."""

    chunks: list[RecordChunk]
    decoded: list[Decoded]
    records: int
    caught_up: bool = False
    """(read ahead) `source.caught_up()` right after this poll"""
    problem: str | None = None
    """(read ahead) what `source.health()` said right after this poll, if not ok"""


@dataclass
class _Ahead:
    """The next batch's read, running in the background thread."""

    future: Future[_Read]
    want: int
    caught_up_before: bool
    """`source.caught_up()` after the previous read (the batch being processed)"""


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
        self._ahead: _Ahead | None = None
        """run()'s read of the next batch while the current one is processed (bulk only)"""

    # -- one batch ---------------------------------------------------------------------------

    def step(
        self, max_records: int, until: datetime | None = None, timeout_s: float = 1.0
    ) -> BatchReport:
        """Read up to `max_records`, stopping before the first event later than `until` (files)."""
        return self._process_read(self._read(max_records, timeout_s), until)

    def _read(self, max_records: int, timeout_s: float) -> _Read:
        """The read phase: poll the source and decode what it returned. The decoder keeps
        vocabularies between batches: only this phase uses it, one read at a time."""
        chunks = self.source.poll(max_records, timeout_s)
        decoded = [self.decoder.decode(c.records, c.joined, c.oversize, c.lengths) for c in chunks]
        return _Read(chunks, decoded, sum(len(c) for c in chunks))

    def _read_ahead(self, max_records: int) -> _Read:
        """The read phase as run() does it in its background thread: the chunks keep their
        records past the next poll, and what run() asks the source after a batch is asked now,
        while no other thread uses the source."""
        read = self._read(max_records, 1.0)
        read.chunks = [_detached(chunk) for chunk in read.chunks]
        read.caught_up = self.source.caught_up()
        read.problem = None if self.source.health().ok else self.source.health().message
        return read

    def _process_read(self, read: _Read, until: datetime | None) -> BatchReport:
        """The process phase: everything after decoding, up to the commit and its report."""
        # the matcher multiplies (sessions x 4) by (4 x personas): BLAS threads only spin
        with _ONE_BLAS_THREAD.limit(limits=1, user_api="blas"):
            return self._step(read, until)

    def _step(self, read: _Read, until: datetime | None) -> BatchReport:
        report = BatchReport()
        processed = (
            self._process(chunk, decoded, until, report)
            for chunk, decoded in zip(read.chunks, read.decoded, strict=True)
        )
        parts = [p for p in processed if p is not None]
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
                self._rewind(
                    p.chunk.partition, self.store.position(self.source.key, p.chunk.partition)
                )
            return BatchReport(
                conflict=str(exc), partitions=tuple(p.chunk.partition for p in parts)
            )
        self._settle()  # a courtesy to the broker, but still a call: not during a read
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
        self, chunk: RecordChunk, decoded: Decoded, until: datetime | None, report: BatchReport
    ) -> _Part | None:
        held = self._state_for(chunk)
        if held is None:
            return None
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
            self._rewind(chunk.partition, chunk.start)  # nothing due yet
            return None
        if limit < len(chunk):
            events = events.take(events.records < limit)
            rejected = [r for r in rejected if r.record < limit]
            end = chunk.position_at(limit)
            self._rewind(chunk.partition, end)
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
            self._rewind(chunk.partition, position)
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

    # -- the read in flight ------------------------------------------------------------------
    # While run() reads ahead, the background thread owns the source: this thread calls it
    # only after waiting for that read (_settle), and a rewind first gives the read back
    # (_unread), since it was read past a position that no longer holds.

    def _rewind(self, partition: str, position: str | None) -> None:
        self._unread()
        self.source.rewind(partition, position)

    def _settle(self) -> None:
        """Wait for the read in flight, if any; its result (or exception) stays for later."""
        if self._ahead is not None:
            wait([self._ahead.future])

    def _unread(self) -> None:
        """Discard the read in flight, after waiting for it: its partitions are rewound to where
        its chunks began, so the source is where it would be had it never been read."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return
        try:
            read = ahead.future.result()
        except Exception:  # nothing was read; a fresh read meets the problem again
            return
        for chunk in read.chunks:
            self.source.rewind(chunk.partition, chunk.start)

    def _caught_up(self) -> bool:
        """`source.caught_up()` as of the batch just processed (not of the read ahead)."""
        if self._ahead is not None:
            return self._ahead.caught_up_before
        return self.source.caught_up()

    def _overlapped_step(
        self, reader: ThreadPoolExecutor, want: int, size: int, remaining: int | None, follow: bool
    ) -> tuple[BatchReport, str | None]:
        """One batch of run() in bulk: this batch's read (done ahead, or done now), the next
        batch's read started in `reader`, this batch processed meanwhile. The next read takes
        `size` records, fewer if `remaining` (of max_records) minus this read is less.
        Returns the report and what `source.health()` said after this batch's read; raises
        what this batch's read raised."""
        ahead = self._ahead
        if ahead is not None and ahead.want != want:
            self._unread()  # read for another size than this batch wants: read afresh
            ahead = None
        if ahead is None:
            ahead = _Ahead(reader.submit(self._read_ahead, want), want, False)
        self._ahead = ahead  # until it is taken: an interrupt while waiting gives it back
        try:
            read = ahead.future.result()
        except Exception:
            self._ahead = None
            raise
        self._ahead = None
        following = size if remaining is None else min(size, remaining - read.records)
        # Nothing read: nothing to overlap with. Caught up: run() stops after this batch.
        if read.records and following > 0 and (follow or not read.caught_up):
            self._ahead = _Ahead(
                reader.submit(self._read_ahead, following), following, read.caught_up
            )
        return self._process_read(read, None), read.problem

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

        Without `until` (bulk ingestion), the next batch is read and decoded in a background
        thread while this one processes the current batch; a read still in flight when the run
        ends is given back to the source. A replay up to `until` reads batch by batch.
        """
        reader = None
        if until is None:
            reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-read")
        try:
            totals = self._run(
                reader,
                until,
                max_records,
                follow,
                idle_timeout_s,
                time_budget_s,
                retry_budget_s,
                should_stop,
                on_batch,
                on_problem,
            )
            self._unread()
        except BaseException:
            try:
                self._unread()
            except Exception:  # the first error is the one to report
                self._ahead = None
            raise
        finally:
            if reader is not None:
                reader.shutdown(wait=True)
        totals.next_event_at = totals.next_event_at if not self.source.caught_up() else None
        return totals

    def _run(
        self,
        reader: ThreadPoolExecutor | None,
        until: datetime | None,
        max_records: int | None,
        follow: bool,
        idle_timeout_s: float,
        time_budget_s: float | None,
        retry_budget_s: float | None,
        should_stop: Callable[[], bool],
        on_batch: Callable[[BatchReport, IngestTotals], None] | None,
        on_problem: Callable[[SourceProblem | None], None] | None,
    ) -> IngestTotals:
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
                if reader is None:
                    report = self.step(want, until)
                    problem = None if self.source.health().ok else self.source.health().message
                else:
                    remaining = None if max_records is None else max_records - totals.records
                    report, problem = self._overlapped_step(reader, want, size, remaining, follow)
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
            if not follow and self._caught_up():
                break
            if report.records == 0 and not report.conflict:
                if not follow and self.monotonic() - last_records > idle_timeout_s:
                    break
                if self.source.replayable:
                    self.sleep(0.2 if follow else 0.0)
        return totals


def _detached(chunk: RecordChunk) -> RecordChunk:
    """The chunk with records of its own. A file's records view the source's read buffer,
    which the next poll may overwrite while this chunk is still processed (its dead letters
    keep raw bytes). Lists of bytes (Kafka, Kinesis) are kept as they are."""
    records = chunk.records
    if isinstance(records, RecordView):
        records = RecordView(bytes(records.buffer), records.starts, records.ends)
    elif not isinstance(records, list | tuple):
        records = [bytes(record) for record in records]
    return replace(chunk, records=records, joined=None)


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
