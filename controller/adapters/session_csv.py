"""Event files read whole for `fleetctl classify`, and its sessions CSV.

The file is read as a whole (it is a sample to look at, not a stream): every line is decoded
first, and the first bad one stops the command, naming its line, before anything is written.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from controller.adapters.event_decode import EventDecoder
from controller.domain.errors import InputError
from controller.ingest.columns import EventColumns

SESSION_COLUMNS = ("session_id", "user_id", "start", "end", "events", "persona", "probability")


class _Who(msgspec.Struct):
    user_id: str
    session_id: str | None = None


@dataclass(frozen=True)
class EventFile:
    events: EventColumns
    users: dict[str, str]
    """session key ('s:<session_id>') -> the user_id of its first event"""


@dataclass(frozen=True)
class SessionRow:
    session_id: str
    user_id: str
    start_ms: int
    end_ms: int
    events: int
    persona: str
    """empty when unmatched"""
    probability: float


def read_event_file(path: Path, max_event_bytes: int) -> EventFile:
    """Every event of an NDJSON file (optionally .gz); InputError naming the first bad line."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except FileNotFoundError:
        raise InputError(f"--input {path}: no such file") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"--input {path}: cannot read it: {exc}") from None
    records = data.split(b"\n")
    decoded = EventDecoder(max_event_bytes).decode(records, data)
    if decoded.rejected:
        first = decoded.rejected[0]
        more = len(decoded.rejected) - 1
        tail = f" ({more} more bad line{'s' if more != 1 else ''} after it)" if more else ""
        raise InputError(f"{path}:{first.record + 1}: {first.reason}{tail}")
    who = msgspec.json.Decoder(_Who)
    users: dict[str, str] = {}
    for record in records:
        if b'"session_id"' in record:
            found = who.decode(record)
            if found.session_id is not None:
                users.setdefault(f"s:{found.session_id}", found.user_id)
    return EventFile(decoded.events, users)


def sessions_csv(rows: Sequence[SessionRow]) -> str:
    """The CSV text: a header, then one row per session."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SESSION_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.session_id,
                row.user_id,
                iso_ms(row.start_ms),
                iso_ms(row.end_ms),
                row.events,
                row.persona,
                f"{row.probability:.4f}",
            )
        )
    return buffer.getvalue()


def iso_ms(ms: int) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
