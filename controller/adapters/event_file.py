"""NDJSON event files (optionally gzip) as an event source with one partition, "0".

Positions are `BYTE:LINE` into the uncompressed stream, so a restart resumes exactly after the
last line whose effects were committed, and a dead letter names its line. Each position also
carries fingerprints of what was read (file_position.py): a file replaced or truncated under the
same path stops the source with FileReplaced instead of being read from the old offset.

Reading is the first thing the hot path does, so it avoids copies: the file is read into one
reusable buffer (`readinto`), lines are found in C (numpy without it), and a chunk's records are views into
that buffer, sliced only if someone asks for one (a dead letter). A chunk is therefore valid
until the next poll. A rewind into the chunk just returned (a replay holding back events the
clock has not reached) costs no re-read.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from datetime import UTC, datetime
from io import BufferedIOBase
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from controller.adapters.event_decode import EventDecoder, Rejected
from controller.adapters.event_source import (
    PositionLookup,
    RecordChunk,
    RecordView,
    SourceHealth,
)
from controller.adapters.file_position import (
    FilePosition,
    FileReplaced,
    Span,
    changed_under_handle,
    last_line_span,
    verify,
)
from controller.domain.errors import InputError

try:
    from controller.adapters import _event_scan
except ImportError:  # built without a C compiler
    _event_scan = None  # type: ignore[assignment]

PARTITION = "0"
MAX_LINE_BYTES = 64 * 1024
_READ_STEP = 4 * 1024 * 1024
"""bytes per read call: large enough to be cheap per byte, small enough to stay in cache"""
_BUFFER_MAX = 256 * 1024 * 1024
"""a poll returns fewer lines rather than hold more than this"""


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
        self._handle: BufferedIOBase | None = None
        self._opened_for: Path | None = None
        self._start: str | None = None
        self._byte = 0
        self._line = 0
        self._eof = False
        self._buffer = bytearray()
        self._lo = 0
        self._hi = 0
        """unread bytes are self._buffer[self._lo:self._hi]; self._byte is where _lo is"""
        self._last: tuple[int, int, int] | None = None
        """(byte, line, buffer index) where the last chunk began, while its bytes are still held"""
        self._head: Span | None = None
        """the fingerprint of the open file's first bytes, carried in every position"""
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
            elif self._moved():
                # Another file at the path, or a shorter one (followed, or between the daemon's
                # cycles): check it as on a restart, before reading from it.
                self._open(self._start)
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
            self._lo = last[2] + (byte - last[0])
            self._byte, self._line, self._start = byte, line, position
            self._eof = False
            return
        self.close()
        self._open(position)

    def caught_up(self) -> bool:
        return self._handle is not None and self._eof and self._lo == self._hi

    def health(self) -> SourceHealth:
        return SourceHealth(True)

    def acknowledge(self, positions: dict[str, str]) -> None:
        pass

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None
        self._lo = self._hi = 0
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
                    return datetime.fromisoformat(event.timestamp).astimezone(UTC)
        return None

    def replaced(self) -> FileReplaced | None:
        """Why the file now at the path is not the one the stored position was read from;
        None when it is, as far as the position's fingerprints tell."""
        with self._open_file() as stream:
            try:
                verify(self.path, stream, FilePosition.parse(self._stored()))
            except FileReplaced as exc:
                return exc
        return None

    def _stored(self) -> str | None:
        return self._positions.position(self.key, PARTITION) if self._positions else None

    def _open_file(self) -> BufferedIOBase:
        try:
            if self.path.suffix == ".gz":
                return cast(BufferedIOBase, gzip.open(self.path, "rb"))
            return self.path.open("rb")
        except FileNotFoundError:
            raise InputError(f"{self.path}: event file does not exist") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read event file: {exc.strerror}") from None

    def _open(self, position: str | None) -> None:
        """Open the file at `position`, after checking it is the file the position was read
        from (raises FileReplaced, before anything is read from it)."""
        self.close()
        where = FilePosition.parse(position)
        handle = self._open_file()
        try:
            self._head = verify(self.path, handle, where)
            handle.seek(where.byte)
        except BaseException:
            handle.close()
            raise
        self._handle, self._opened_for = handle, self.path
        self._byte, self._line, self._start = where.byte, where.line, position

    def _moved(self) -> bool:
        assert self._handle is not None
        try:
            return changed_under_handle(self.path, self._handle)
        except OSError:
            return True

    # -- reading -----------------------------------------------------------------------------

    def _fill(self, max_records: int) -> None:
        """Read until the buffer holds `max_records` lines, an oversize line, or the end."""
        assert self._handle is not None
        self._eof = False
        buffer = self._buffer
        lines = _count_newlines(buffer, self._lo, self._hi)
        tail = self._hi - (buffer.rfind(b"\n", self._lo, self._hi) + 1 or self._lo)
        while lines < max_records and tail <= self.max_line_bytes:  # else _take cuts it short
            want = int((max_records - lines) * self._line_size * 1.1) + 1
            want = min(max(want, _READ_STEP), _READ_STEP * 4)
            if not self._room(want):
                return
            buffer = self._buffer
            view = memoryview(buffer)[self._hi : self._hi + want]
            got = self._handle.readinto(view)
            view.release()
            if not got:
                self._eof = True
                return
            found = _count_newlines(buffer, self._hi, self._hi + got)
            newest = buffer.rfind(b"\n", self._hi, self._hi + got)
            tail = tail + got if newest < 0 else self._hi + got - newest - 1
            lines += found
            self._hi += got

    def _room(self, want: int) -> bool:
        """Make `want` bytes free after the unread data; False if the buffer may not grow."""
        buffer = self._buffer
        if len(buffer) - self._hi >= want:
            return True
        unread = self._hi - self._lo
        if self._lo and len(buffer) - unread >= want:
            buffer[:unread] = buffer[self._lo : self._hi]  # the last chunk's bytes go
        else:
            if unread + want > _BUFFER_MAX and unread > self.max_line_bytes:
                return False
            # A new buffer, not a resized one: the last chunk may still be viewing the old.
            grown = bytearray(max(2 * len(buffer), unread + want, _READ_STEP))
            grown[:unread] = buffer[self._lo : self._hi]
            self._buffer = grown
        self._lo, self._hi, self._last = 0, unread, None
        return True

    def _take(self, max_records: int) -> RecordChunk | None:
        lo, hi = self._lo, self._hi
        if lo == hi:
            return None
        buffer = self._buffer
        first = buffer.find(b"\n", lo, hi)
        if (first if first >= 0 else hi) - lo > self.max_line_bytes:
            return self._take_oversize(first)
        ends = _newline_offsets(buffer, lo, hi, max_records)
        partial = ends.shape[0] == 0 or ends[-1] < hi - lo - 1
        if self._eof and not self.follow and ends.shape[0] < max_records and partial:
            # The file ends without a newline: its last line is complete (a file being
            # followed may still be mid-write, so there it waits for its newline).
            ends = np.append(ends, hi - lo)
        starts = np.empty_like(ends)
        if ends.shape[0]:
            starts[0] = 0
            starts[1:] = ends[:-1] + 1
        long = np.flatnonzero(ends - starts > self.max_line_bytes)
        if long.shape[0]:
            ends, starts = ends[: long[0]], starts[: long[0]]
        if ends.shape[0] == 0:
            return None
        used = min(int(ends[-1]) + 1, hi - lo)
        view = memoryview(buffer)[lo : lo + used]
        lines = RecordView(view, starts.astype(np.int64), ends.astype(np.int64))
        self._line_size = 0.8 * self._line_size + 0.2 * (used / len(lines))
        chunk = self._emit(lines, view, lines.starts + self._byte, used, view[int(starts[-1]) :])
        chunk.lengths = lines.ends - lines.starts
        return chunk

    def _take_oversize(self, newline: int) -> RecordChunk:
        """One line longer than the limit: its head as a record, the rest streamed past."""
        assert self._handle is not None
        lo = self._lo
        head = bytes(self._buffer[lo : lo + self.max_line_bytes])
        where = np.array([self._byte], dtype=np.int64)
        if newline >= 0:
            full = newline - lo
            chunk = self._emit([head], head, where, full + 1, head)
        else:
            full, rest, ended = self._hi - lo, b"", False
            self._lo = self._hi = 0
            while not ended:
                more = self._handle.read(_READ_STEP)
                if not more:
                    self._eof = True
                    break
                cut = more.find(b"\n")
                ended = cut >= 0
                full += cut if ended else len(more)
                rest = more[cut + 1 :] if ended else b""
            chunk = self._emit([head], head, where, full + (1 if ended else 0), head)
            self._last = None
            self._room(len(rest))
            self._buffer[: len(rest)] = rest
            self._lo, self._hi = 0, len(rest)
        chunk.oversize = {0: full}
        return chunk

    def _emit(
        self,
        records: Sequence[bytes],
        joined: bytes | memoryview,
        line_bytes: npt.NDArray[np.int64],
        used: int,
        last_line: bytes | memoryview,
    ) -> RecordChunk:
        """`last_line`: the last record's bytes from its first, as in the file."""
        start, byte, line, head = self._start, self._byte, self._line, self._head
        self._last = (byte, line, self._lo)
        self._lo = min(self._lo + used, self._hi)
        self._byte, self._line = byte + used, line + len(records)
        last = last_line_span(int(line_bytes[-1]), last_line)
        end = FilePosition(self._byte, self._line, head, last).text()
        self._start = end

        def position_at(i: int) -> str:
            if i == 0:
                return start if start is not None else FilePosition(byte, line, head).text()
            before = last_line_span(int(line_bytes[i - 1]), records[i - 1] + b"\n")
            return FilePosition(int(line_bytes[i]), line + i, head, before).text()

        path = self.path
        return RecordChunk(
            partition=PARTITION,
            records=records,
            start=start,
            end=end,
            position_at=position_at,
            label_at=lambda i: f"{path} line {line + i + 1} (byte {int(line_bytes[i])})",
            joined=joined,
        )


def _count_newlines(buffer: bytearray, start: int, end: int) -> int:
    """Newlines in buffer[start:end] (in C without the GIL where built: a reading thread then
    leaves the core to the thread processing the last batch)."""
    if _event_scan is None:
        return buffer.count(b"\n", start, end)
    return _event_scan.newlines(buffer, start, end, _NO_OFFSETS)


def _newline_offsets(buffer: bytearray, start: int, end: int, limit: int) -> npt.NDArray[np.int64]:
    """Offsets from `start` of the first `limit` newlines in buffer[start:end]."""
    if limit <= 0:
        return _NO_OFFSETS
    if _event_scan is None:
        region = np.frombuffer(buffer, dtype=np.uint8, count=end - start, offset=start)
        return np.flatnonzero(region == 10)[:limit].astype(np.int64)
    out = np.empty(limit, dtype=np.int64)
    return out[: _event_scan.newlines(buffer, start, end, out)]


_NO_OFFSETS = np.zeros(0, dtype=np.int64)


def _parse(position: str | None) -> tuple[int, int]:
    where = FilePosition.parse(position)
    return where.byte, where.line
