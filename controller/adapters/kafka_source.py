"""kafka://HOST:PORT[,HOST:PORT]/TOPIC?group=GROUP: a confluent-kafka consumer group as a source.

Offsets live in OUR database, committed in the same transaction as the aggregates they produced
(Kafka's own offset commit could not be atomic with them). So: auto-commit is off, and every time
the group assigns us a partition we seek it to the offset stored for it. Several `fleetctl ingest`
processes in one group split the partitions between them; a partition that moves in a rebalance
continues from whatever its last owner committed.

URL parameters: `group` (required), `session_timeout_ms` (default 10000: how fast the group
notices a dead member), `max_poll_interval_ms` (default 600000), and any librdkafka property
with a dot in its name, passed through as is (e.g. `security.protocol=SASL_SSL`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from itertools import pairwise, repeat
from operator import is_
from typing import Any

import numpy as np
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from controller.adapters.event_source import (
    PositionLookup,
    RecordChunk,
    SourceHealth,
    parse_source_url,
)
from controller.domain.errors import ConfigError, TemporaryError

PARAMS = ("group", "session_timeout_ms", "max_poll_interval_ms")
PROBE_EVERY_S = 5.0
"""While polls come back empty, ask the broker for metadata this often: librdkafka retries a
silent broker quietly (it only logs), so an unanswered probe is how we notice it is away."""
PROBE_TIMEOUT_S = 2.0
FETCH_SETTINGS: dict[str, Any] = {
    # librdkafka's defaults prefetch too little for a busy topic: measured on Tansu, a bare
    # consume loop reads 240k events/s with them and 830k/s with these, and a loop that works
    # 2.5 us per event goes from 120k/s to 280k/s (the fetcher keeps the queue full while it
    # works). Prefetched messages are capped at 128 MB. Any of these can be overridden in the
    # URL (e.g. &queued.min.messages=100000).
    "queued.min.messages": 500_000,
    "queued.max.messages.kbytes": 128 * 1024,
    "max.partition.fetch.bytes": 8 << 20,
    "fetch.max.bytes": 64 << 20,
}
CONSUME_SLICE = 10_000
log = logging.getLogger(__name__)
librdkafka_log = logging.getLogger(f"{__name__}.librdkafka")
# librdkafka narrates every retry; outages reach people through SourceHealth instead. Attach a
# handler to this logger (and set propagate) to see its own words when debugging.
librdkafka_log.addHandler(logging.NullHandler())
librdkafka_log.propagate = False


@dataclass
class _Reading:
    start: str | None
    """where the next chunk of this partition starts (the committed position at assignment)"""
    eof: bool = False


class KafkaEventSource:
    replayable = False

    def __init__(self, url: str, positions: PositionLookup) -> None:
        parsed = parse_source_url(url, PARAMS + _passthrough_names(url))
        topic = parsed.path.strip("/")
        group = parsed.param("group")
        if not parsed.netloc or not topic or "/" in topic:
            raise ConfigError(
                f"source URL {url!r}: expected kafka://HOST:PORT[,HOST:PORT...]/TOPIC?group=GROUP"
            )
        if not group:
            raise ConfigError(f"source URL {url!r}: the consumer group is required (?group=NAME)")
        self.url = url
        self.topic = topic
        self.key = f"kafka://{parsed.netloc}/{topic}?group={group}"
        session_ms = parsed.int_param("session_timeout_ms", 10_000)
        self._config: dict[str, Any] = {
            "bootstrap.servers": parsed.netloc,
            "group.id": group,
            "client.id": "fleetctl",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": max(100, min(3000, session_ms // 3)),
            "max.poll.interval.ms": parsed.int_param("max_poll_interval_ms", 600_000),
            "reconnect.backoff.max.ms": 5000,
            **FETCH_SETTINGS,
            "error_cb": self._on_error,
            "logger": librdkafka_log,
        }
        self._config.update({k: v for k, v in parsed.params.items() if "." in k})
        self._positions = positions
        self._consumer: Consumer | None = None
        self._reading: dict[int, _Reading] = {}
        self._problem: str | None = None
        self._last_probe = 0.0
        self.assigned_at: float | None = None
        """monotonic time of the first assignment (the group join is done: benchmarks time
        from here)"""

    # -- the protocol ------------------------------------------------------------------------

    def poll(self, max_records: int, timeout_s: float) -> list[RecordChunk]:
        consumer = self._ensure()
        messages: list[Message] = []
        try:
            # Take what librdkafka has fetched, in slices, waiting only while there is nothing:
            # waiting for a full batch would leave the consumer idle while the broker sends.
            wait = timeout_s
            while len(messages) < max_records:
                want = min(CONSUME_SLICE, max_records - len(messages))
                got = consumer.consume(want, wait)
                messages.extend(got)
                if len(got) < want:
                    break
                wait = 0.0
        except KafkaException as exc:
            raise TemporaryError(f"kafka {self._config['bootstrap.servers']}: {exc}") from exc
        runs = self._runs(messages)
        if runs:
            self._problem = None
        elif time.monotonic() - self._last_probe > PROBE_EVERY_S:
            self._probe(consumer)
        return [self._chunk(p, run, values) for p, (run, values) in runs.items()]

    def _runs(self, messages: list[Message]) -> dict[int, tuple[list[Message], list[bytes]]]:
        """Messages and values by partition, in order. Per message only two C-level calls:
        librdkafka hands them over in per-partition runs, which numpy finds."""
        n = len(messages)
        runs: dict[int, tuple[list[Message], list[bytes]]] = {}
        if n == 0:
            return runs
        values = list(map(Message.value, messages))
        errors = list(map(Message.error, messages))
        found = list(map(Message.partition, messages))
        try:
            partitions = np.fromiter(found, dtype=np.int64, count=n)
        except TypeError:  # an error event without a partition
            partitions = np.array([-1 if p is None else p for p in found], dtype=np.int64)
        cuts = [0, *(np.flatnonzero(np.diff(partitions)) + 1).tolist(), n]
        for a, b in pairwise(cuts):
            partition = int(partitions[a])
            kept, kept_values = messages[a:b], values[a:b]
            ends_at_eof = False
            if not all(map(is_, errors[a:b], repeat(None))) or None in kept_values:
                # events (partition EOF, errors; their payload is librdkafka's message), or
                # null payloads (tombstones: an empty record)
                kept, kept_values, ends_at_eof = self._split_events(kept, kept_values)
            reading = self._reading.get(partition)
            if reading is None:
                continue
            if kept:
                reading.eof = False
                run = runs.setdefault(partition, ([], []))
                run[0].extend(kept)
                run[1].extend(kept_values)  # type: ignore[arg-type]
            if ends_at_eof:
                reading.eof = True
        return runs

    def _split_events(
        self, messages: list[Message], values: list[bytes | None]
    ) -> tuple[list[Message], list[bytes | None], bool]:
        """The real messages of a run (a null payload is an empty record), and whether the run
        ends with the partition's EOF."""
        kept: list[Message] = []
        kept_values: list[bytes | None] = []
        eof = False
        for message, value in zip(messages, values, strict=True):
            error = message.error()
            if error is None:
                kept.append(message)
                kept_values.append(value or b"")
                eof = False
            elif error.code() == KafkaError._PARTITION_EOF:
                eof = True
            elif error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                raise ConfigError(
                    f"source URL {self.url!r}: topic {self.topic!r} does not exist on "
                    f"{self._config['bootstrap.servers']}"
                )
            else:
                self._problem = f"kafka {self._config['bootstrap.servers']}: {error.str()}"
        return kept, kept_values, eof

    def rewind(self, partition: str, position: str | None) -> None:
        number = int(partition)
        if self._consumer is None or number not in self._reading:
            return
        offset = int(position) if position is not None else OFFSET_BEGINNING
        try:
            self._consumer.seek(TopicPartition(self.topic, number, offset))
        except KafkaException as exc:
            log.warning("seek %s[%s] to %s failed: %s", self.topic, partition, offset, exc)
        self._reading[number] = _Reading(position)

    def caught_up(self) -> bool:
        return bool(self._reading) and all(r.eof for r in self._reading.values())

    def acknowledge(self, positions: dict[str, str]) -> None:
        """Commit to Kafka too (asynchronously, best effort), so `kafka-consumer-groups` and
        lag exporters see the group's progress. Only our store decides where reading resumes."""
        if self._consumer is None:
            return
        offsets = [
            TopicPartition(self.topic, int(p), int(position))
            for p, position in positions.items()
            if int(p) in self._reading
        ]
        if offsets:
            try:
                self._consumer.commit(offsets=offsets, asynchronous=True)
            except KafkaException as exc:
                log.debug("committing offsets to kafka: %s", exc)

    def health(self) -> SourceHealth:
        if self._problem is not None and self._consumer is not None:
            self._probe(self._consumer)
        return SourceHealth(self._problem is None, self._problem or "")

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()  # leave the group now, so the others rebalance at once
            except (KafkaException, RuntimeError) as exc:
                log.warning("closing the consumer: %s", exc)
        self._consumer = None
        self._reading.clear()

    @property
    def assigned(self) -> list[str]:
        return [str(p) for p in sorted(self._reading)]

    # -- consumer group --------------------------------------------------------------------

    def _ensure(self) -> Consumer:
        if self._consumer is None:
            consumer = Consumer(self._config)
            consumer.subscribe(
                [self.topic],
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_revoke,
            )
            self._consumer = consumer
        return self._consumer

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.assigned_at is None:
            self.assigned_at = time.monotonic()
        for tp in partitions:
            stored = self._positions.position(self.key, str(tp.partition))
            tp.offset = int(stored) if stored is not None else OFFSET_BEGINNING
            self._reading[tp.partition] = _Reading(stored)
        consumer.assign(partitions)
        log.info("assigned %s", [tp.partition for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._reading.pop(tp.partition, None)
        consumer.unassign()
        log.info("revoked %s", [tp.partition for tp in partitions])

    def _probe(self, consumer: Consumer) -> None:
        """A metadata round trip: answered means the broker is there."""
        self._last_probe = time.monotonic()
        try:
            consumer.list_topics(self.topic, timeout=PROBE_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            text = error.str() if isinstance(error, KafkaError) else str(error)
            self._problem = f"kafka {self._config['bootstrap.servers']} not answering: {text}"
        else:
            self._problem = None

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT) or error.fatal():
            self._problem = f"kafka {self._config['bootstrap.servers']}: {error.str()}"
        log.debug("kafka error: %s", error)

    def _chunk(self, partition: int, run: list[Message], values: list[bytes]) -> RecordChunk:
        reading = self._reading[partition]
        start = reading.start
        last = run[-1].offset()
        assert last is not None
        end = str(last + 1)
        reading.start = end
        topic = self.topic

        def offset(i: int) -> int:
            found = run[i].offset()
            assert found is not None
            return found

        return RecordChunk(
            partition=str(partition),
            records=values,
            start=start,
            end=end,
            position_at=lambda i: str(offset(i)),
            label_at=lambda i: f"{topic} partition {partition} offset {offset(i)}",
        )


def _passthrough_names(url: str) -> tuple[str, ...]:
    query = url.partition("?")[2]
    names = (pair.partition("=")[0] for pair in query.split("&") if pair)
    return tuple(name for name in names if "." in name)
