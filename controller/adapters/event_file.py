"""NDJSON event files (optionally gzip), read from a stored byte position up to a time.

Positions are byte offsets into the uncompressed stream, so a restart resumes exactly after the
last line whose effects were committed.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, cast

from pydantic import ValidationError

from controller.domain.errors import InputError
from controller.domain.event import Event

MAX_LINE_BYTES = 64 * 1024


@dataclass(frozen=True)
class DeadLetter:
    position: str
    reason: str
    raw: bytes


@dataclass
class EventBatch:
    start_position: int
    end_position: int
    events: list[Event] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    next_event_at: datetime | None = None
    """Timestamp of the first unread event (it lies beyond `until`); None at end of file."""


class FileEventSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"file://{path}"

    def _open(self) -> IO[bytes]:
        try:
            if self.path.suffix == ".gz":
                return cast(IO[bytes], gzip.open(self.path, "rb"))
            return self.path.open("rb")
        except FileNotFoundError:
            raise InputError(f"{self.path}: event file does not exist") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read event file: {exc.strerror}") from None

    def read(self, position: int, until: datetime | None, max_events: int) -> EventBatch:
        """Lines from `position` on, stopping before the first event later than `until`."""
        batch = EventBatch(start_position=position, end_position=position)
        try:
            with self._open() as stream:
                stream.seek(position)
                self._read_lines(stream, batch, until, max_events)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(
                f"{self.path}: unreadable at byte {batch.end_position}: {exc}"
            ) from None
        return batch

    def _read_lines(
        self, stream: IO[bytes], batch: EventBatch, until: datetime | None, max_events: int
    ) -> None:
        line_start = batch.end_position
        while len(batch.events) < max_events:
            raw = stream.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            line_end = line_start + len(raw)
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                rest = stream.readline()
                line_end += len(rest)
                batch.dead_letters.append(
                    DeadLetter(
                        f"byte {line_start}", f"event larger than {MAX_LINE_BYTES} bytes", raw
                    )
                )
            elif raw.strip():
                parsed = _parse(raw)
                if isinstance(parsed, str):
                    batch.dead_letters.append(
                        DeadLetter(f"byte {line_start}", parsed, raw.rstrip(b"\n"))
                    )
                elif until is not None and parsed.timestamp > until:
                    batch.next_event_at = parsed.timestamp
                    return
                else:
                    batch.events.append(parsed)
            line_start = batch.end_position = line_end


def _parse(raw: bytes) -> Event | str:
    """The event, or the reason it is a dead letter."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 (byte {exc.start})"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    try:
        return Event.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"
