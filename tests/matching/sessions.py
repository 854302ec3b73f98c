"""Hand-made sessions as NDJSON event lines: the shapes the matching tests ingest and classify."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
# per event: cpu_ms, memory_mb, network_kb, io_ops (the declared profiles, controller.matching)
SHOPPING = (50.0, 64.0, 250.0, 5.0)
PUBLISHING = (200.0, 256.0, 1250.0, 40.0)
ODD = (0.001, 0.001, 0.001, 0.001)
HEAVY_IO_SHOPPING = (50.0, 64.0, 250.0, 40.0)
"""a shopper whose I/O per event is 8x its profile: matched, but unusual"""


def session(
    user: str,
    types: list[str],
    use: tuple[float, float, float, float],
    region: str | None,
    start: datetime = START,
    session_id: str | None = None,
    every: timedelta = timedelta(seconds=10),
) -> list[bytes]:
    lines = []
    for i, event_type in enumerate(types):
        event: dict[str, object] = {
            "user_id": user,
            "timestamp": (start + i * every).isoformat().replace("+00:00", "Z"),
            "event_type": event_type,
            "resource_consumption": dict(
                zip(("cpu_ms", "memory_mb", "network_kb", "io_ops"), use, strict=True)
            ),
        }
        if region is not None:
            event["region"] = region
        if session_id is not None:
            event["session_id"] = session_id
        lines.append(json.dumps(event).encode())
    return lines


def shopper(user: str, start: datetime = START, region: str = "eu-west-1") -> list[bytes]:
    return session(user, ["browse", "search", "browse", "purchase"], SHOPPING, region, start)


def publisher(user: str, start: datetime = START) -> list[bytes]:
    return session(user, ["upload", "edit", "preview", "publish"], PUBLISHING, "us-east-1", start)


def stranger(user: str, start: datetime = START) -> list[bytes]:
    return session(user, ["mine_crypto", "scan_ports", "mine_crypto"], ODD, None, start)


def by_time(*sessions: list[bytes]) -> list[bytes]:
    return sorted((line for s in sessions for line in s), key=lambda b: json.loads(b)["timestamp"])
