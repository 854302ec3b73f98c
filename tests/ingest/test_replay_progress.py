"""`fleetctl ingest --speed`: progress lines carry the totals since the run began.

The replay is driven by a fake clock (its sleeps move the clock), so no test waits in real time.
"""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest

from controller.commands.ingest import _Progress, _replay_at_speed
from controller.config import load_config
from controller.workflow.ingestion import open_ingestion
from tests.ingest.conftest import event_lines, project

LINE = re.compile(
    r"^\s+([\d,]+) records\s+([\d,]+) events .* ([\d,]+) dead letters\s+([\d,]+) sessions"
)
SUMMARY = re.compile(
    r"^ingest done: ([\d,]+) events and ([\d,]+) dead letters.* from ([\d,]+) records"
)
SESSIONS = re.compile(r"^\s+([\d,]+) sessions \(")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def numbers(match: re.Match[str] | None) -> tuple[int, ...]:
    assert match is not None
    return tuple(int(group.replace(",", "")) for group in match.groups())


def test_speed_progress_lines_show_growing_totals_ending_at_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(3000, per_minute=150)  # 20 minutes of event time
    lines[1500:1500] = [b"{broken", b'{"user_id": "u1"}']  # dead letters mid-stream
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"".join(line + b"\n" for line in lines))
    clock = FakeClock()
    url = f"file://{events}"
    progress = _Progress(url, quiet=False, monotonic=clock.monotonic)
    ingestion = open_ingestion(load_config(project(tmp_path)), url)
    try:
        totals = _replay_at_speed(
            ingestion, 60.0, None, False, lambda: False, progress, clock.monotonic, clock.sleep
        )
        stored = ingestion.store.totals(ingestion.source.key)
        counts = ingestion.store.dead_letter_counts()
    finally:
        ingestion.close()
    progress.summary(totals, stored.events, counts, stopped=False)

    out = capsys.readouterr().out.splitlines()
    shown = [numbers(LINE.match(line)) for line in out if LINE.match(line)]
    assert len(shown) >= 10, out  # 20 minutes at 60x: about one line per simulated second
    for earlier, later in pairwise(shown):
        assert all(a <= b for a, b in zip(earlier, later, strict=True)), (earlier, later)
    assert shown[0][0] < shown[-1][0]
    events_done, letters_done, records_done = numbers(SUMMARY.match(out[-2]))
    (sessions_done,) = numbers(SESSIONS.match(out[-1]))
    assert shown[-1] == (records_done, events_done, letters_done, sessions_done)
    assert (records_done, letters_done) == (len(lines), 2)
