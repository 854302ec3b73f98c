"""kafka://HOST:PORT[,HOST:PORT]/TOPIC?group=GROUP: a confluent-kafka consumer group as a source.

Offsets live in OUR database, committed in the same transaction as the aggregates they produced
(Kafka's own offset commit could not be atomic with them). So: auto-commit is off, and every time
the group assigns us a partition we seek it to the offset stored for it. Several `fleetctl ingest`
processes in one group split the partitions between them; a partition that moves in a rebalance
continues from whatever its last owner committed.

The consumer itself runs in a process of its own (kafka_fetcher: why, and what crosses over);
this side answers its questions (where does a newly assigned partition start?), sends it
rewinds and commits, and turns what it sent into chunks. A consumer process that dies is
reported as a TemporaryError and started afresh at the next poll, from the stored offsets.

URL parameters: `group` (required), `session_timeout_ms` (default 10000: how fast the group
notices a dead member), `max_poll_interval_ms` (default 600000), and any librdkafka property
with a dot in its name, passed through as is (e.g. `security.protocol=SASL_SSL`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import controller
from controller.adapters.event_source import (
    PositionLookup,
    RecordChunk,
    RecordView,
    SourceHealth,
    parse_source_url,
)
from controller.domain.errors import ConfigError, TemporaryError

PARAMS = ("group", "session_timeout_ms", "max_poll_interval_ms")
CLOSE_TIMEOUT_S = 15.0
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
log = logging.getLogger(__name__)


@dataclass
class _Reading:
    start: str | None
    """where the next chunk of this partition starts (the committed position at assignment)"""
    epoch: int
    """bumped at each assignment and rewind: runs read before it are dropped"""
    eof: bool = False


@dataclass
class _Run:
    """Consecutive records of one partition as the consumer process sent them; `taken` of
    them are already in a chunk (a poll took part of the run)."""

    partition: int
    offsets: npt.NDArray[np.int64]
    lengths: npt.NDArray[np.int64]
    records: RecordView
    """the records, b"\\n"-joined in one buffer as sent"""
    newline_free: bool
    taken: int = 0
    eof: bool = False
    """not records: the marker that the partition was read to its end here"""

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - self.taken


@dataclass
class _Fetcher:
    process: subprocess.Popen[bytes]
    conn: Connection


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
        }
        self._config.update({k: v for k, v in parsed.params.items() if "." in k})
        self._positions = positions
        self._fetcher: _Fetcher | None = None
        self._reading: dict[int, _Reading] = {}
        self._epochs = 0
        self._runs: deque[_Run] = deque()
        self._problem: str | None = None
        self.assigned_at: float | None = None
        """monotonic time of the first assignment (the group join is done: benchmarks time
        from here)"""

    # -- the protocol ------------------------------------------------------------------------

    def poll(self, max_records: int, timeout_s: float) -> list[RecordChunk]:
        fetcher = self._ensure()
        taken: dict[int, list[tuple[_Run, int, int]]] = {}
        count = 0
        deadline = time.monotonic() + timeout_s
        while True:
            while self._runs and (count < max_records or self._runs[0].eof):
                run = self._runs[0]
                reading = self._reading[run.partition]
                if run.eof:
                    reading.eof = True
                    self._runs.popleft()
                    continue
                reading.eof = False
                n = min(len(run), max_records - count)
                taken.setdefault(run.partition, []).append((run, run.taken, run.taken + n))
                run.taken += n
                count += n
                if len(run) == 0:
                    self._runs.popleft()
            if count >= max_records:
                break
            # Take what the consumer process has sent, waiting only while there is nothing:
            # waiting for a full batch would leave the ingester idle while the broker sends.
            wait = max(0.0, deadline - time.monotonic()) if count == 0 else 0.0
            if not self._receive(fetcher, wait):
                break
        return [self._chunk(partition, slices) for partition, slices in taken.items()]

    def rewind(self, partition: str, position: str | None) -> None:
        number = int(partition)
        if self._fetcher is None or number not in self._reading:
            return
        self._epochs += 1
        self._reading[number] = _Reading(position, self._epochs)
        self._runs = deque(r for r in self._runs if r.partition != number)
        offset = int(position) if position is not None else None
        self._send(("seek", number, self._epochs, offset))

    def caught_up(self) -> bool:
        return bool(self._reading) and all(r.eof for r in self._reading.values())

    def acknowledge(self, positions: dict[str, str]) -> None:
        """Commit to Kafka too (asynchronously, best effort), so `kafka-consumer-groups` and
        lag exporters see the group's progress. Only our store decides where reading resumes."""
        offsets = [(int(p), int(at)) for p, at in positions.items() if int(p) in self._reading]
        if offsets:
            self._send(("commit", offsets))

    def health(self) -> SourceHealth:
        return SourceHealth(self._problem is None, self._problem or "")

    def close(self) -> None:
        fetcher, self._fetcher = self._fetcher, None
        self._reading.clear()
        self._runs.clear()
        if fetcher is None:
            return
        with contextlib.suppress(OSError):
            fetcher.conn.send(("close",))
        # Closing our end too: a consumer process blocked sending to us sees it and leaves.
        fetcher.conn.close()
        try:
            fetcher.process.wait(CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("the kafka consumer process did not stop in %ss: killed", CLOSE_TIMEOUT_S)
            fetcher.process.kill()
            fetcher.process.wait()

    @property
    def assigned(self) -> list[str]:
        return [str(p) for p in sorted(self._reading)]

    @property
    def consumer_pid(self) -> int | None:
        """The process that consumes for us (see kafka_fetcher), while there is one."""
        return None if self._fetcher is None else self._fetcher.process.pid

    # -- the consumer process ----------------------------------------------------------------

    def _ensure(self) -> _Fetcher:
        if self._fetcher is None:
            # A process of its own, started afresh (no fork of a threaded process, and no
            # re-import of whatever script embeds us): see kafka_fetcher.
            ours, theirs = socket.socketpair()
            with theirs:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "controller.adapters.kafka_fetcher",
                        str(theirs.fileno()),
                    ],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    env=_importable_env(),
                )
            conn = Connection(ours.detach())
            conn.send(("start", self._config, self.topic))
            self._fetcher = _Fetcher(process, conn)
            log.info("kafka consumer process %s started for %s", process.pid, self.topic)
        return self._fetcher

    def _send(self, command: tuple[Any, ...]) -> None:
        if self._fetcher is not None:
            # if the process is gone, the next poll says so
            with contextlib.suppress(OSError):
                self._fetcher.conn.send(command)

    def _receive(self, fetcher: _Fetcher, wait_s: float) -> bool:
        """Handle one message from the consumer process; False if none came within `wait_s`."""
        try:
            if not fetcher.conn.poll(wait_s):
                return False
            message = fetcher.conn.recv()
            kind = message[0]
            if kind == "data":
                _, partition, epoch, offsets, lengths, newline_free = message
                buffer = fetcher.conn.recv_bytes()
                reading = self._reading.get(partition)
                if reading is not None and reading.epoch == epoch:
                    records = RecordView.of(buffer, lengths)
                    self._runs.append(_Run(partition, offsets, lengths, records, newline_free))
            elif kind == "eof":
                reading = self._reading.get(message[1])
                if reading is not None and reading.epoch == message[2]:
                    empty = np.zeros(0, dtype=np.int64)
                    nothing = RecordView(b"", empty, empty)
                    self._runs.append(_Run(message[1], empty, empty, nothing, True, eof=True))
            elif kind == "assign":
                self._assign(fetcher, message[1], message[2])
            elif kind == "revoke":
                for partition in message[1]:
                    self._reading.pop(partition, None)
                self._runs = deque(r for r in self._runs if r.partition in self._reading)
                log.info("revoked %s", message[1])
            elif kind == "health":
                self._problem = message[1]
            elif kind == "error":
                raise TemporaryError(message[1])
            elif kind == "fatal":
                self.close()
                raise ConfigError(f"source URL {self.url!r}: {message[1]}")
        except (EOFError, OSError) as exc:
            code = fetcher.process.poll()
            self.close()
            raise TemporaryError(
                f"kafka {self._config['bootstrap.servers']}: the consumer process stopped "
                f"(exit code {code}): {exc or 'pipe closed'}"
            ) from exc
        return True

    def _assign(self, fetcher: _Fetcher, partitions: list[int], at: float) -> None:
        if self.assigned_at is None:
            self.assigned_at = at
        reply: dict[int, tuple[int, str | None]] = {}
        for partition in partitions:
            stored = self._positions.position(self.key, str(partition))
            self._epochs += 1
            self._reading[partition] = _Reading(stored, self._epochs)
            reply[partition] = (self._epochs, stored)
        fetcher.conn.send(("positions", reply))
        log.info("assigned %s", partitions)

    def _chunk(self, partition: int, slices: list[tuple[_Run, int, int]]) -> RecordChunk:
        reading = self._reading[partition]
        whole = slices[0][0]
        if len(slices) == 1 and slices[0][1] == 0 and slices[0][2] == whole.offsets.shape[0]:
            records, lengths, offsets = whole.records, whole.lengths, whole.offsets
            newline_free = whole.newline_free
        else:
            buffer = b"\n".join(
                memoryview(run.records.buffer)[
                    int(run.records.starts[a]) : int(run.records.ends[b - 1])
                ]
                for run, a, b in slices
            )
            lengths = np.concatenate([run.lengths[a:b] for run, a, b in slices])
            offsets = np.concatenate([run.offsets[a:b] for run, a, b in slices])
            records = RecordView.of(buffer, lengths)
            newline_free = all(run.newline_free for run, _, _ in slices)
        start = reading.start
        end = str(int(offsets[-1]) + 1)
        reading.start = end
        topic = self.topic
        return RecordChunk(
            partition=str(partition),
            records=records,
            start=start,
            end=end,
            position_at=lambda i: str(int(offsets[i])),
            label_at=lambda i: f"{topic} partition {partition} offset {int(offsets[i])}",
            joined=records.buffer if newline_free else None,
            lengths=lengths,
        )


def _importable_env() -> dict[str, str]:
    """The environment, with this package's directory on PYTHONPATH: the consumer process
    imports it whether or not it is installed (a checkout run as scripts, as bench/ does)."""
    root = str(Path(controller.__file__).resolve().parent.parent)
    paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def _passthrough_names(url: str) -> tuple[str, ...]:
    query = url.partition("?")[2]
    names = (pair.partition("=")[0] for pair in query.split("&") if pair)
    return tuple(name for name in names if "." in name)
