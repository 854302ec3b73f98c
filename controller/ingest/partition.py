"""One partition's step: screen stream time, sessionize, classify. Pure; the caller stores.

A partition is the unit that is read in order and owned by one ingester at a time (a file, a
Kafka partition, a Kinesis shard). Its state (watermark and open sessions) is committed with
its position, so whoever owns it next continues exactly where the last commit left off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from controller.ingest.aggregate import covered_spans
from controller.ingest.columns import BoolArray, EventColumns, IntArray
from controller.ingest.matching import SessionClassifier
from controller.ingest.sessions import SessionSoFar, SessionState, sessionize
from controller.ingest.stream_time import screen


@dataclass(frozen=True)
class StreamRules:
    bucket_ms: int
    session_gap_ms: int
    allowed_lateness_ms: int
    max_ahead_ms: int
    max_silence_ms: int

    def __post_init__(self) -> None:
        if self.bucket_ms < 1000 or self.bucket_ms % 1000:
            raise ValueError(f"bucket must be a whole number of seconds, got {self.bucket_ms} ms")
        if self.allowed_lateness_ms > 60 * self.bucket_ms:
            raise ValueError(
                "allowed lateness may be at most 60 buckets "
                f"({self.allowed_lateness_ms} ms > 60 x {self.bucket_ms} ms)"
            )


@dataclass(frozen=True)
class PartitionState:
    watermark_ms: int | None = None
    sessions: SessionState = field(default_factory=SessionState.empty)


@dataclass(frozen=True)
class PartitionStep:
    events: EventColumns
    """the accepted events"""
    persona_codes: IntArray
    counted: BoolArray
    unusual: BoolArray
    """per event: its session, as of this event, is matched with unusual resource use"""
    too_late: IntArray
    """record indices of events older than watermark - allowed lateness"""
    too_late_ts: IntArray
    too_late_stream_ms: IntArray
    """the watermark each too-late event was judged against"""
    too_far_ahead: IntArray
    """record indices of events absurdly far beyond the stream's time"""
    too_far_ahead_ts: IntArray
    reference_ms: int | None
    session_personas: IntArray
    """persona code of each session seen in this step, as of its last event here"""
    session_unusual: BoolArray
    closed: SessionSoFar
    """sessions this step completed (a new session of the key began, or they expired)"""
    covered: list[tuple[int, int]]
    state: PartitionState


def advance(
    events: EventColumns,
    state: PartitionState,
    rules: StreamRules,
    classifier: SessionClassifier,
) -> PartitionStep:
    screened = screen(
        events.ts_ms, state.watermark_ms, rules.allowed_lateness_ms, rules.max_ahead_ms
    )
    kept = events.take(screened.accepted) if not screened.accepted.all() else events
    bits = classifier.bits.bits(kept.types)[kept.type_codes] if len(kept) else _none()
    result = sessionize(
        kept.ts_ms,
        kept.key_codes,
        kept.keys,
        bits,
        state.sessions,
        rules.session_gap_ms,
        rules.bucket_ms,
        kept.resources,
        kept.region_codes,
        kept.regions,
    )
    sessions, expired = result.state, SessionState.empty()
    if screened.watermark_ms is not None:
        horizon = screened.watermark_ms - rules.allowed_lateness_ms - rules.session_gap_ms
        sessions, expired = sessions.expire(horizon)
    per_event = classifier.classify(result.so_far)
    last = result.session_events  # a session as of its last event here is that event's match
    closed = SessionSoFar.concat(
        [
            result.replaced.so_far(),
            result.sessions.take(result.session_closed),
            expired.so_far(),
        ]
    )
    return PartitionStep(
        events=kept,
        persona_codes=per_event.codes,
        counted=result.counted,
        unusual=per_event.unusual,
        too_late=events.records[screened.too_late],
        too_late_ts=events.ts_ms[screened.too_late],
        too_late_stream_ms=screened.stream_ms[screened.too_late],
        too_far_ahead=events.records[screened.too_far_ahead],
        too_far_ahead_ts=events.ts_ms[screened.too_far_ahead],
        reference_ms=screened.reference_ms,
        session_personas=per_event.codes[last],
        session_unusual=per_event.unusual[last],
        closed=closed,
        covered=covered_spans(kept.ts_ms, rules.max_silence_ms, state.watermark_ms),
        state=PartitionState(screened.watermark_ms, sessions),
    )


def _none() -> IntArray:
    return np.zeros(0, dtype=np.int64)
