"""Where reading a file resumes, and proof that the file there is still the one read.

A stored position is only meaningful for the file it was read from. A file replaced or
truncated under the same path would otherwise be read from the old byte offset: its first part
skipped without a word, or nothing read at all. So each position carries two fingerprints of
what was read, taken from the uncompressed stream (gzip included, where positions count
uncompressed bytes too):

- `head`: the file's first bytes (up to 4 KiB; fewer while the file was shorter), taken when
  the file is opened;
- `last`: the first bytes (up to 64) of the last line before the position.

Reopening checks both against the file now at the path, and that it still reaches the
position. Content decides, not the inode: a copy, a restored backup or a rewrite that only
appends keeps its content and reads on, while any other file fails at least one check.

Text form: `BYTE:LINE;head=AT+SIZE:HEX;last=AT+SIZE:HEX`. A position without fingerprints
(stored before they existed, or at the very start) is checked only for length; the next commit
stores them.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path

from controller.domain.errors import PermanentError

HEAD_BYTES = 4096
LAST_LINE_BYTES = 64


@dataclass(frozen=True)
class Span:
    """A fingerprint of bytes [at, at + size) of the uncompressed stream."""

    at: int
    size: int
    digest: str

    @staticmethod
    def of(at: int, data: bytes | memoryview) -> Span:
        return Span(at, len(data), _digest(data))

    def text(self) -> str:
        return f"{self.at}+{self.size}:{self.digest}"

    @staticmethod
    def parse(text: str) -> Span:
        where, _, digest = text.partition(":")
        at, _, size = where.partition("+")
        return Span(int(at), int(size), digest)


@dataclass(frozen=True)
class FilePosition:
    byte: int
    line: int
    head: Span | None = None
    last: Span | None = None

    def text(self) -> str:
        parts = [f"{self.byte}:{self.line}"]
        if self.head is not None:
            parts.append(f"head={self.head.text()}")
        if self.last is not None:
            parts.append(f"last={self.last.text()}")
        return ";".join(parts)

    @staticmethod
    def parse(text: str | None) -> FilePosition:
        if text is None:
            return FilePosition(0, 0)
        offsets, *fields = text.split(";")
        byte, _, line = offsets.partition(":")
        spans = dict(field.partition("=")[::2] for field in fields)
        return FilePosition(
            int(byte),
            int(line or 0),
            Span.parse(spans["head"]) if "head" in spans else None,
            Span.parse(spans["last"]) if "last" in spans else None,
        )


class FileReplaced(PermanentError):
    """The file at a source's path is not the one its stored position was read from."""

    def __init__(self, path: Path, position: FilePosition, what: str) -> None:
        self.path = path
        self.what = what
        super().__init__(
            f"{path}: {what}, so it is not the file this source read up to line "
            f"{position.line} (byte {position.byte}); nothing was read from it. If it holds new "
            "events, give it a name of its own and ingest that (fleetctl ingest --source "
            "file://NEW_PATH, or point events.source at it), or read it from its first line "
            f"under this name with: fleetctl ingest --source file://{path} --from-start"
        )


def head_of(stream: BufferedIOBase) -> Span:
    """The fingerprint of the file's first bytes; leaves the stream after them."""
    stream.seek(0)
    return Span.of(0, stream.read(HEAD_BYTES))


def last_line_span(line_start: int, line: bytes | memoryview) -> Span:
    """The fingerprint of the last line read (`line` from its first byte, newline included)."""
    return Span.of(line_start, line[:LAST_LINE_BYTES])


def verify(path: Path, stream: BufferedIOBase, position: FilePosition) -> Span:
    """Raise FileReplaced unless `stream` (the file now at `path`) is the one `position` was
    read from, as far as the position's fingerprints tell; return the file's head now.
    Leaves the stream at any place: the caller seeks to the position."""
    head = head_of(stream)
    # in stream order: a gzip stream seeks forward without starting over
    differs = None
    if position.head is not None and not _matches(stream, position.head):
        differs = "its first bytes differ"
    elif position.last is not None and not _matches(stream, position.last):
        differs = f"its line {position.line} differs"
    size = _size(stream, position.byte)
    if size < position.byte:
        raise FileReplaced(path, position, f"it ends at byte {size} now (truncated or replaced)")
    if differs is not None:
        raise FileReplaced(path, position, f"{differs} (replaced)")
    return head


def changed_under_handle(path: Path, stream: BufferedIOBase) -> bool:
    """The path now names another file than the open `stream`, or the file got shorter than
    the stream has read (plain files: a gzip stream's place is no file size)."""
    try:
        now = path.stat()
    except FileNotFoundError:
        return False  # the open file is still the one read; what comes at the path is checked then
    held = os.fstat(stream.fileno())
    if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
        return True
    return not isinstance(stream, gzip.GzipFile) and now.st_size < stream.tell()


def _matches(stream: BufferedIOBase, span: Span) -> bool:
    stream.seek(span.at)
    data = stream.read(span.size)
    return len(data) == span.size and _digest(data) == span.digest


def _size(stream: BufferedIOBase, at_least: int) -> int:
    """The uncompressed length if below `at_least`, else `at_least` (a gzip stream is not read
    further than needed to tell)."""
    if isinstance(stream, gzip.GzipFile):
        return stream.seek(at_least)  # stops at the end
    return min(os.fstat(stream.fileno()).st_size, at_least)


def _digest(data: bytes | memoryview) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()
