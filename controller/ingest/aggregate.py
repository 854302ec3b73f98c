"""Events -> sessions -> persona -> one row per (bucket, persona, region)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controller.domain.event import Event
from controller.domain.series import floor_time
from controller.ingest.matching import AccessTypeMatcher

UNKNOWN_REGION = "unknown"


@dataclass
class BucketTotals:
    events: int = 0
    cpu_ms: float = 0.0
    memory_mb: float = 0.0
    network_kb: float = 0.0
    io_ops: float = 0.0
    sessions: set[str] = field(default_factory=set)


BucketKey = tuple[datetime, str, str]


@dataclass(frozen=True)
class Aggregate:
    buckets: dict[BucketKey, BucketTotals]
    sessions_by_persona: dict[str, int]
    covered: list[tuple[datetime, datetime]]

    @property
    def events(self) -> int:
        return sum(t.events for t in self.buckets.values())


def session_key(event: Event) -> str:
    return f"s:{event.session_id}" if event.session_id else f"u:{event.user_id}"


def aggregate(
    events: Sequence[Event],
    matcher: AccessTypeMatcher,
    bucket: timedelta,
    max_silence: timedelta,
    previous_event_at: datetime | None = None,
) -> Aggregate:
    """Aggregate one batch. Sessions are keyed by session_id, else user_id, within the batch.

    `covered` lists the stretches of time the stream was demonstrably live: consecutive events no
    more than `max_silence` apart. Buckets outside them are gaps, not zeros.
    """
    types_by_session: dict[str, set[str]] = defaultdict(set)
    for event in events:
        types_by_session[session_key(event)].add(event.event_type)
    persona_of = {key: matcher.match(types) for key, types in types_by_session.items()}

    buckets: dict[BucketKey, BucketTotals] = defaultdict(BucketTotals)
    for event in events:
        key = session_key(event)
        totals = buckets[
            (floor_time(event.timestamp, bucket), persona_of[key], event.region or UNKNOWN_REGION)
        ]
        use = event.resource_consumption
        totals.events += 1
        totals.cpu_ms += use.cpu_ms
        totals.memory_mb += use.memory_mb
        totals.network_kb += use.network_kb
        totals.io_ops += use.io_ops
        totals.sessions.add(key)

    sessions_by_persona: dict[str, int] = defaultdict(int)
    for persona in persona_of.values():
        sessions_by_persona[persona] += 1
    times = [e.timestamp for e in events]
    return Aggregate(
        dict(buckets),
        dict(sessions_by_persona),
        covered_spans(times, max_silence, previous_event_at),
    )


def covered_spans(
    times: Sequence[datetime], max_silence: timedelta, previous: datetime | None
) -> list[tuple[datetime, datetime]]:
    ordered = sorted(times)
    if previous is not None and ordered and ordered[0] - previous <= max_silence:
        ordered.insert(0, previous)
    spans: list[tuple[datetime, datetime]] = []
    for when in ordered:
        if spans and when - spans[-1][1] <= max_silence:
            spans[-1] = (spans[-1][0], max(spans[-1][1], when))
        else:
            spans.append((when, when))
    return spans
