"""NDJSON event files (optionally gzip) as an event source with one partition, "0".

Positions are `BYTE:LINE` into the uncompressed stream, so a restart resumes exactly after the
last line whose effects were committed, and a dead letter names its line. The file stays open
between polls; a rewind into the chunk just returned (a replay holding back events the clock
has not reached) costs no re-read.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

import numpy as np

from controller.adapters.event_decode import EventDecoder, Rejected
from controller.adapters.event_source import PositionLookup, RecordChunk, SourceHealth
from controller.domain.errors import InputError

PARTITION = "0"
MAX_LINE_BYTES = 64 * 1024
_READ_MIN = 256 * 1024
_READ_MAX = 64 * 1024 * 1024


def file_path(url: str) -> Path:
    return Path(url.removeprefix("file://"))


class FileEventSource:
    replayable = True

    def __init__(
        self,
        path: Path,
        positions: PositionLookup | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = path
        self.max_line_bytes = max_line_bytes
        self.follow = False
        """set while following a growing file: a last line without newline is not done yet"""
        self._positions = positions
        self._handle: IO[bytes] | None = None
        self._opened_for: Path | None = None
        self._start: str | None = None
        self._byte = 0
        self._line = 0
        self._buf = b""
        self._eof = False
        self._last: tuple[int, int, bytes] | None = None
        self._line_size = 256.0

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    @property
    def key(self) -> str:
        return self.url

    def poll(self, max_records: int, timeout_s: float = 0.0) -> list[RecordChunk]:
        try:
            if self._handle is None or self._opened_for != self.path:
                self._open(self._stored())
            self._fill(max_records)
            chunk = self._take(max_records)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            self.close()
            raise InputError(f"{self.path}: unreadable at byte {self._byte}: {exc}") from None
        return [chunk] if chunk is not None else []

    def rewind(self, partition: str, position: str | None) -> None:
        byte, line = _parse(position)
        last = self._last
        if last is not None and self._handle is not None and last[0] <= byte <= self._byte:
            start, _, data = last
            self._buf = data[byte - start :] + self._buf
            self._byte, self._line, self._start = byte, line, position
            self._last = None
            return
        self.close()
        self._open(position)

    def caught_up(self) -> bool:
        return self._handle is not None and self._eof and not self._buf

    def health(self) -> SourceHealth:
        return SourceHealth(True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None
        self._buf = b""
        self._last = None
        self._eof = False

    def first_event_at(self) -> datetime | None:
        """Time of the first valid event after the stored position (to start a replay clock)."""
        byte, _ = _parse(self._stored())
        decoder = EventDecoder(self.max_line_bytes)
        with self._open_file() as stream:
            stream.seek(byte)
            for raw in stream:
                event = decoder.decode_one(raw) if raw.strip() else None
                if event is not None and not isinstance(event, Rejected):
                    return event.timestamp.astimezone(UTC)
        return None

    def _stored(self) -> str | None:
        return self._positions.position(self.key, PARTITION) if self._positions else None

    def _open_file(self) -> IO[bytes]:
        try:
            if self.path.suffix == ".gz":
                return cast(IO[bytes], gzip.open(self.path, "rb"))
            return self.path.open("rb")
        except FileNotFoundError:
            raise InputError(f"{self.path}: event file does not exist") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read event file: {exc.strerror}") from None

    def _open(self, position: str | None) -> None:
        self.close()
        byte, line = _parse(position)
        handle = self._open_file()
        try:
            handle.seek(byte)
        except BaseException:
            handle.close()
            raise
        self._handle, self._opened_for = handle, self.path
        self._byte, self._line, self._start = byte, line, position

    def _fill(self, max_records: int) -> None:
        assert self._handle is not None
        self._eof = False
        while True:
            lines = self._buf.count(b"\n")
            if lines >= max_records:
                return
            tail = len(self._buf) - (self._buf.rfind(b"\n") + 1)
            if tail > self.max_line_bytes:
                return  # an oversize line: _take handles it
            want = int((max_records - lines) * self._line_size * 1.1)
            more = self._handle.read(min(max(want, _READ_MIN), _READ_MAX))
            if not more:
                self._eof = True
                return
            self._buf += more

    def _take(self, max_records: int) -> RecordChunk | None:
        buf = self._buf
        if not buf:
            return None
        first_newline = buf.find(b"\n")
        first_length = first_newline if first_newline >= 0 else len(buf)
        if first_length > self.max_line_bytes:
            return self._take_oversize(first_newline)
        newlines = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
        ends = newlines[:max_records]
        partial = ends.shape[0] == 0 or ends[-1] < len(buf) - 1
        if self._eof and not self.follow and ends.shape[0] < max_records and partial:
            # The file ends without a newline: its last line is complete (a file being
            # followed may still be mid-write, so there it waits for its newline).
            ends = np.concatenate([ends, [len(buf)]])
        starts = np.concatenate([[0], ends[:-1] + 1])
        long = np.flatnonzero(ends - starts > self.max_line_bytes)
        if long.shape[0]:
            ends, starts = ends[: long[0]], starts[: long[0]]
        if ends.shape[0] == 0:
            return None
        used = min(int(ends[-1]) + 1, len(buf))
        data = buf[: int(ends[-1])]
        records = data.split(b"\n")
        self._line_size = 0.8 * self._line_size + 0.2 * (used / len(records))
        raw, self._buf = buf[:used], buf[used:]
        return self._emit(records, data, starts.astype(np.int64) + self._byte, used, raw)

    def _take_oversize(self, newline: int) -> RecordChunk:
        """One line longer than the limit: its head as a record, the rest streamed past."""
        assert self._handle is not None
        head = self._buf[: self.max_line_bytes]
        if newline >= 0:
            full = newline
            self._buf = self._buf[newline + 1 :]
        else:
            full = len(self._buf)
            self._buf = b""
            while True:
                more = self._handle.read(_READ_MIN)
                if not more:
                    self._eof = True
                    break
                cut = more.find(b"\n")
                if cut >= 0:
                    full += cut
                    self._buf = more[cut + 1 :]
                    newline = cut
                    break
                full += len(more)
        used = full + (1 if newline >= 0 else 0)
        chunk = self._emit([head], head, np.array([self._byte], dtype=np.int64), used, b"")
        chunk.oversize = {0: full}
        return chunk

    def _emit(
        self, records: list[bytes], joined: bytes, line_bytes: np.ndarray, used: int, raw: bytes
    ) -> RecordChunk:
        start, byte, line = self._start, self._byte, self._line
        self._last = (byte, line, raw) if raw else None
        self._byte, self._line = byte + used, line + len(records)
        end = f"{self._byte}:{self._line}"
        self._start = end
        path = self.path
        return RecordChunk(
            partition=PARTITION,
            records=records,
            start=start,
            end=end,
            position_at=lambda i: f"{int(line_bytes[i])}:{line + i}",
            label_at=lambda i: f"{path} line {line + i + 1} (byte {int(line_bytes[i])})",
            joined=joined,
        )


def _parse(position: str | None) -> tuple[int, int]:
    if position is None:
        return 0, 0
    byte, _, line = position.partition(":")
    return int(byte), int(line or 0)
