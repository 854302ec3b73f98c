"""The Kafka consumer's own process: it joins the group, reads, and hands records over in bulk.

Why a process: confluent-kafka builds one Python object per message, under the GIL. In the
ingesting process that work and decoding/sessionizing take turns on one core; measured on
Tansu, the full path read 342k events/s against a bare consume loop's 968k. Here the consumer
runs beside the ingester, and what crosses over is one buffer per partition run (the payloads
b"\\n"-joined) with their offsets and lengths as arrays: the file source's shape, which the C
decoder reads without touching a Python object per record.

The process decides nothing. Where a partition starts comes from the parent (which asks the
store) when the group assigns it; rewinds and commits are the parent's commands. Every run
carries the partition's *epoch* (bumped by the parent at each assignment and rewind), so the
parent drops whatever was read before its latest rewind without a round trip.

The process runs as `python -m controller.adapters.kafka_fetcher FD`, FD one end of a socket
pair; the first message on it is ("start", librdkafka config, topic). What it sends goes through
an outbox drained by a thread of its own, so reading from Kafka goes on while the ingester is
busy and not reading (a socket buffer holds a fraction of one run).

Messages, child -> parent (`Connection.send`, data followed by `send_bytes`):
  ("assign", [partition], monotonic_s)   then waits for ("positions", {partition: (epoch, pos)})
  ("revoke", [partition])
  ("data", partition, epoch, offsets, lengths, newline_free)  + the joined payloads
  ("eof", partition, epoch)               the partition is read to its end (as of now)
  ("health", problem or None)             whenever it changes
  ("error", text)                         consume() failed: the parent raises TemporaryError
  ("fatal", text)                         the topic does not exist: ConfigError, and exit
Commands, parent -> child: ("seek", partition, epoch, offset or None), ("commit", [(p, off)]),
("close",). End of file on the pipe (the parent is gone, even by SIGKILL) means close too: the
consumer leaves the group, so a restarted ingester gets its partitions at once.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import sys
import threading
import time
from collections import deque
from itertools import pairwise, repeat
from multiprocessing.connection import Connection
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

CONSUME_SLICE = 10_000
IDLE_WAIT_S = 0.2
"""consume() waits this long for a full slice: how late a command (a rewind) may be applied"""
PROBE_EVERY_S = 5.0
"""While nothing comes, ask the broker for metadata this often: librdkafka retries a silent
broker quietly (it only logs), so an unanswered probe is how we notice it is away."""
PROBE_AGAIN_S = 1.0
"""...and this often while it is known to be away, so its return is noticed soon."""
PROBE_TIMEOUT_S = 2.0
OUTBOX_BYTES = 16 << 20
"""payload bytes queued for the ingester at most (besides one run): how far the process reads
ahead of it, on top of librdkafka's prefetch"""
librdkafka_log = logging.getLogger("controller.adapters.kafka_source.librdkafka")
librdkafka_log.addHandler(logging.NullHandler())
librdkafka_log.propagate = False


class ParentGone(Exception):
    """The pipe to the ingesting process is closed."""


def main(argv: list[str]) -> int:
    # Ctrl-C reaches the whole process group; the parent decides when reading stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Every consume() makes 10,000 Messages, which the cyclic GC tracks: at its default
    # threshold (700) it walks them about 14 times a slice, though reference counting frees
    # them all right after. Above a slice's worth, it runs only if something accumulates.
    gc.set_threshold(100_000)
    conn = Connection(int(argv[0]))
    try:
        kind, config, topic = conn.recv()
    except (EOFError, OSError):
        return 0
    assert kind == "start", kind
    fetcher = Fetcher(conn, config, topic)
    try:
        fetcher.loop()
    except (ParentGone, EOFError, OSError):
        pass
    finally:
        fetcher.close()
    return 0


class Outbox:
    """Messages to the parent, in order, written by a thread of its own; `send` waits while
    more than OUTBOX_BYTES of payloads are queued."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.queue: deque[tuple[tuple[Any, ...], bytes | None] | None] = deque()
        self.queued_bytes = 0
        self.changed = threading.Condition()
        self.broken = False
        self.thread = threading.Thread(target=self._drain, name="outbox", daemon=True)
        self.thread.start()

    def send(self, message: tuple[Any, ...], payload: bytes | None = None) -> None:
        size = 0 if payload is None else len(payload)
        with self.changed:
            while self.queued_bytes > OUTBOX_BYTES and not self.broken:
                self.changed.wait(0.5)
            if self.broken:
                raise ParentGone
            self.queue.append((message, payload))
            self.queued_bytes += size
            self.changed.notify_all()

    def close(self) -> None:
        """Send what is queued (unless the parent is gone) and stop."""
        with self.changed:
            self.queue.append(None)
            self.changed.notify_all()
        self.thread.join(5.0)

    def _drain(self) -> None:
        while True:
            with self.changed:
                while not self.queue:
                    self.changed.wait()
                item = self.queue.popleft()
            if item is None:
                return
            message, payload = item
            try:
                self.conn.send(message)
                if payload is not None:
                    self.conn.send_bytes(payload)
            except OSError:
                with self.changed:
                    self.broken = True
                    self.changed.notify_all()
                return
            if payload is not None:
                with self.changed:
                    self.queued_bytes -= len(payload)
                    self.changed.notify_all()


class Fetcher:
    def __init__(self, conn: Connection, config: dict[str, Any], topic: str) -> None:
        self.conn = conn
        self.outbox = Outbox(conn)
        self.topic = topic
        self.servers = str(config["bootstrap.servers"])
        self.epochs: dict[int, int] = {}
        self.problem: str | None = None
        self.reported: str | None = None
        self.closing = False
        self.last_probe = time.monotonic()
        self.deferred: list[tuple[Any, ...]] = []
        self.consumer: Consumer | None = Consumer(
            {**config, "error_cb": self._on_error, "logger": librdkafka_log}
        )
        self.consumer.subscribe(
            [topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )

    def loop(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while True:
            self._commands()
            if self.closing:
                return
            try:
                messages = consumer.consume(CONSUME_SLICE, IDLE_WAIT_S)
            except KafkaException as exc:
                self.outbox.send(("error", f"kafka {self.servers}: {exc}"))
                time.sleep(IDLE_WAIT_S)
                continue
            if messages and self._forward(messages):
                self.problem = None
            elif time.monotonic() - self.last_probe > (
                PROBE_AGAIN_S if self.problem else PROBE_EVERY_S
            ):
                self._probe(consumer)
            if self.problem != self.reported:
                self.outbox.send(("health", self.problem))
                self.reported = self.problem

    def close(self) -> None:
        if self.consumer is not None:
            # leave the group now, so the others rebalance at once
            with contextlib.suppress(KafkaException, RuntimeError, ParentGone):
                self.consumer.close()
        self.consumer = None
        self.outbox.close()
        self.conn.close()

    # -- commands ----------------------------------------------------------------------------

    def _commands(self) -> None:
        pending, self.deferred = self.deferred, []
        for command in pending:
            self._apply(command)
        while not self.closing and self.conn.poll():
            self._apply(self.conn.recv())

    def _apply(self, command: tuple[Any, ...]) -> None:
        kind = command[0]
        if kind == "close":
            self.closing = True
        elif kind == "seek":
            _, partition, epoch, offset = command
            if self.consumer is None or self.epochs.get(partition, epoch + 1) > epoch:
                return  # not ours any more, or assigned again since
            self.epochs[partition] = epoch
            where = OFFSET_BEGINNING if offset is None else int(offset)
            # if the partition moved meanwhile, its next owner starts from the store
            with contextlib.suppress(KafkaException):
                self.consumer.seek(TopicPartition(self.topic, partition, where))
        elif kind == "commit":
            offsets = [
                TopicPartition(self.topic, p, offset)
                for p, offset in command[1]
                if p in self.epochs
            ]
            if offsets and self.consumer is not None:
                # best effort: only our store decides where reading resumes
                with contextlib.suppress(KafkaException):
                    self.consumer.commit(offsets=offsets, asynchronous=True)

    # -- the group ---------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.outbox.send(("assign", [tp.partition for tp in partitions], time.monotonic()))
        while True:
            if self.conn.poll(1.0):
                reply = self.conn.recv()
                if reply[0] == "positions":
                    break
                if reply[0] == "close":
                    self.closing = True
                else:
                    self.deferred.append(reply)
        positions: dict[int, tuple[int, str | None]] = reply[1]
        for tp in partitions:
            epoch, stored = positions[tp.partition]
            self.epochs[tp.partition] = epoch
            tp.offset = int(stored) if stored is not None else OFFSET_BEGINNING
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.epochs.pop(tp.partition, None)
        consumer.unassign()
        self.outbox.send(("revoke", [tp.partition for tp in partitions]))

    # -- records -----------------------------------------------------------------------------

    def _forward(self, messages: list[Message]) -> bool:
        """Send the messages on, one buffer per partition run; whether any was a record.
        Per message only C-level calls: librdkafka hands them over in per-partition runs,
        which numpy finds."""
        n = len(messages)
        values = list(map(Message.value, messages))
        errors = list(map(Message.error, messages))
        found = list(map(Message.partition, messages))
        try:
            partitions = np.fromiter(found, dtype=np.int64, count=n)
            offsets = np.fromiter(map(Message.offset, messages), dtype=np.int64, count=n)
        except TypeError:  # an error event has no partition or offset
            partitions = np.array([-1 if p is None else p for p in found], dtype=np.int64)
            offsets = np.array([_offset(m) for m in messages], dtype=np.int64)
        cuts = [0, *(np.flatnonzero(np.diff(partitions)) + 1).tolist(), n]
        any_record = False
        for a, b in pairwise(cuts):
            partition = int(partitions[a])
            kept_values: list[bytes | None] = values[a:b]
            kept = np.arange(a, b)
            ends_at_eof = False
            if not all(map(is_, errors[a:b], repeat(None))) or None in kept_values:
                # events (partition EOF, errors), or null payloads (tombstones: empty records)
                kept, ends_at_eof = self._split_events(errors, a, b)
                kept_values = [values[i] or b"" for i in kept.tolist()]
            epoch = self.epochs.get(partition)
            if epoch is None:
                continue
            if kept.shape[0]:
                any_record = True
                records: list[bytes] = kept_values  # type: ignore[assignment]
                buffer = b"\n".join(records)
                lengths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
                newline_free = buffer.count(b"\n") == len(records) - 1
                header = ("data", partition, epoch, offsets[kept], lengths, newline_free)
                self.outbox.send(header, buffer)
            if ends_at_eof:
                self.outbox.send(("eof", partition, epoch))
        return any_record

    def _split_events(
        self, errors: list[KafkaError | None], a: int, b: int
    ) -> tuple[np.ndarray[Any, np.dtype[np.int64]], bool]:
        """The indices of a run's real messages, and whether the run ends with the partition's
        EOF."""
        kept: list[int] = []
        eof = False
        for i in range(a, b):
            error = errors[i]
            if error is None:
                kept.append(i)
                eof = False
            elif error.code() == KafkaError._PARTITION_EOF:
                eof = True
            elif error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                self.outbox.send(
                    ("fatal", f"topic {self.topic!r} does not exist on {self.servers}")
                )
                self.closing = True
            else:
                self.problem = f"kafka {self.servers}: {error.str()}"
        return np.array(kept, dtype=np.int64), eof

    def _probe(self, consumer: Consumer) -> None:
        """A metadata round trip: answered means the broker is there."""
        self.last_probe = time.monotonic()
        try:
            consumer.list_topics(self.topic, timeout=PROBE_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            text = error.str() if isinstance(error, KafkaError) else str(error)
            self.problem = f"kafka {self.servers} not answering: {text}"
        else:
            self.problem = None

    def _on_error(self, error: KafkaError) -> None:
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT) or error.fatal():
            self.problem = f"kafka {self.servers}: {error.str()}"


def _offset(message: Message) -> int:
    found = message.offset()
    return -1 if found is None else found


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
