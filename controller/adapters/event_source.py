"""Where events come from: one small protocol over files, Kafka and Kinesis.

A source is read in *partitions* (a file has one, a Kafka topic has its partitions, a Kinesis
stream its shards); each is ordered, and each has a *position* the source can resume from. The
source never decides where to start: it asks `PositionLookup` (the store), so the position that
counts is always the one committed with the aggregates. Positions are opaque strings to everyone
but the source that wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, overload
from urllib.parse import parse_qs, urlsplit

import numpy as np
import numpy.typing as npt

from controller.domain.errors import ConfigError


class PositionLookup(Protocol):
    def position(self, source: str, partition: str) -> str | None:
        """The committed position of `partition` (None: never committed, read from the start)."""
        ...


@dataclass
class RecordChunk:
    """Consecutive records of one partition, as read."""

    partition: str
    records: Sequence[bytes]
    start: str | None
    """the position reading resumed from (None: the partition's beginning)"""
    end: str
    """the position after the last record"""
    position_at: Callable[[int], str]
    """the position to resume from to read record i next (i < len(records))"""
    label_at: Callable[[int], str]
    """record i's place, for people: 'line 12 (byte 2040)', 'partition 3 offset 17'"""
    joined: bytes | memoryview | None = None
    """starts with b"\\n".join(records), when the source has it for free (files)"""
    lengths: npt.NDArray[np.int64] | None = None
    """the records' lengths, when the source knows them without looking (files)"""
    oversize: dict[int, int] = field(default_factory=dict)
    """records the source cut short: index -> full length in bytes"""
    inherits: tuple[str, ...] = ()
    """partitions whose open sessions this one continues (a Kinesis child shard's parents)"""

    def __len__(self) -> int:
        return len(self.records)


class RecordView(Sequence[bytes]):
    """Records laid out in one buffer (b"\\n"-joined), sliced only when someone asks for one:
    the fast path decodes the buffer whole and never does."""

    def __init__(
        self,
        buffer: bytes | memoryview,
        starts: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64],
    ) -> None:
        self.buffer, self.starts, self.ends = buffer, starts, ends

    @staticmethod
    def of(buffer: bytes | memoryview, lengths: npt.NDArray[np.int64]) -> RecordView:
        starts = np.zeros(lengths.shape[0], dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        return RecordView(buffer, starts, starts + lengths)

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return bytes(self.buffer[int(self.starts[index]) : int(self.ends[index])])


@dataclass(frozen=True)
class SourceHealth:
    ok: bool
    message: str = ""


class EventSource(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def key(self) -> str:
        """Identity of the stream in the store: positions and totals are kept under it."""
        ...

    @property
    def replayable(self) -> bool:
        """A file: events can be held back until the clock reaches them, and re-read."""
        ...

    def poll(self, max_records: int, timeout_s: float) -> list[RecordChunk]:
        """Up to `max_records` new records, at most one chunk per partition; [] if none came
        within `timeout_s`. Raises TemporaryError when the source cannot be reached."""
        ...

    def rewind(self, partition: str, position: str | None) -> None:
        """Read `partition` from `position` next (after a partial batch or a lost commit)."""
        ...

    def caught_up(self) -> bool:
        """Every partition this process reads has been read to its current end."""
        ...

    def acknowledge(self, positions: dict[str, str]) -> None:
        """These positions are committed in our store; tell the broker, for its lag tools.
        Never read back: where reading resumes always comes from the store."""
        ...

    def health(self) -> SourceHealth:
        """Whether the broker/stream is reachable, and if not, what went wrong."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceUrl:
    scheme: str
    netloc: str
    path: str
    params: dict[str, str]

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)

    def int_param(self, name: str, default: int) -> int:
        text = self.params.get(name)
        if text is None:
            return default
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"source URL: {name} must be a whole number, got {text!r}") from None


def parse_source_url(url: str, allowed: Sequence[str]) -> SourceUrl:
    parts = urlsplit(url)
    params: dict[str, str] = {}
    for name, values in parse_qs(parts.query, keep_blank_values=True).items():
        if name not in allowed:
            raise ConfigError(
                f"source URL {url!r}: unknown parameter {name!r} (known: {', '.join(allowed)})"
            )
        params[name] = values[-1]
    return SourceUrl(parts.scheme, parts.netloc, parts.path, params)


def open_event_source(url: str, positions: PositionLookup) -> EventSource:
    """The source for file://PATH, kafka://HOST:PORT/TOPIC?group=G, kinesis://STREAM?region=R.

    Opening is lazy: nothing connects until the first poll, so commands that only look at the
    store never join a consumer group.
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "file":
        from controller.adapters.event_file import FileEventSource, file_path

        return FileEventSource(file_path(url), positions)
    if scheme == "kafka":
        from controller.adapters.kafka_source import KafkaEventSource

        return KafkaEventSource(url, positions)
    if scheme == "kinesis":
        from controller.adapters.aws.kinesis_source import KinesisEventSource

        return KinesisEventSource(url, positions)
    raise ConfigError(
        f"events.source: unsupported source {scheme or url!r} (got {url!r}; use file://PATH, "
        "kafka://HOST:PORT/TOPIC?group=GROUP or kinesis://STREAM?region=REGION)"
    )
