"""Bulk ingestion reads and decodes the next batch in a background thread while the current one
is processed: what it stores must be exactly what one batch at a time stores."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.adapters import event_file
from controller.adapters.event_source import EventSource, RecordChunk, SourceHealth
from controller.adapters.storage.ingest_store import PositionConflict
from controller.adapters.storage.matcher_store import MatcherStore
from controller.cli import main
from controller.config import load_config
from controller.domain.errors import InputError, TemporaryError
from controller.workflow.ingestion import Ingestion, SourceProblem, open_ingestion
from tests.ingest.conftest import event_lines, input_totals, project

BATCH = 37


def dirty_lines() -> list[bytes]:
    """A few hundred events, some malformed lines, and one event too late to count."""
    lines = event_lines(400, per_minute=30)  # about 13 minutes
    late = json.loads(lines[350])
    late["timestamp"] = "2026-11-02T08:01:00.000Z"  # ~10 min behind: beyond 5 min lateness
    lines.insert(351, json.dumps(late).encode())
    lines[40:40] = [b"{broken", b'{"user_id": "u1"}']
    lines.insert(200, b"\xff\xfe not utf8")
    lines.insert(260, b'{"user_id":"u7","timestamp":"2026-11-02T08:09:00Z","event_type":"x"}')
    return lines


def counted_events(lines: list[bytes]) -> int:
    return input_totals(lines)["events"] - 1  # the too-late event is a dead letter


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def dirty_file(tmp_path: Path) -> tuple[list[bytes], Path]:
    """The dirty lines, and the event file that holds them."""
    lines = dirty_lines()
    return lines, write(tmp_path / "events.ndjson", lines)


@contextmanager
def ingestion_over(root: Path, events: Path) -> Iterator[Ingestion]:
    ingestion = open_ingestion(load_config(project(root, max_batch=BATCH)), f"file://{events}")
    try:
        yield ingestion
    finally:
        ingestion.close()


def stored(ingestion: Ingestion, root: Path) -> dict[str, Any]:
    """Everything a run leaves in the store that must not depend on reading ahead."""
    out = root / "metrics.csv"
    config = str(root / "controller.yaml")
    assert main(["--config", config, "metrics", "export", "--out", str(out)]) == 0
    key = ingestion.source.key
    return {
        "totals": ingestion.metrics.totals(),
        "rows": list(ingestion.metrics.rows()),
        "export": out.read_text(),
        "dead_letters": [
            (d.position, d.kind, d.reason, d.raw) for d in ingestion.store.dead_letters()
        ],
        "partition": ingestion.store.partition(key, event_file.PARTITION),
        "learned": MatcherStore(ingestion.store.engine).learned(),
    }


def one_batch_at_a_time(root: Path, events: Path) -> dict[str, Any]:
    with ingestion_over(root, events) as ingestion:
        while True:
            ingestion.ingestor.step(BATCH)
            if ingestion.source.caught_up():
                break
        return stored(ingestion, root)


@dataclass
class Watched:
    """A source that notes its calls, and fails if two threads ever call it at once."""

    inner: EventSource
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    polled: list[int] = field(default_factory=list)
    overlaps: int = 0
    fail_poll: dict[int, Exception] = field(default_factory=dict)
    """poll number (from 1) -> what that poll raises instead"""
    _busy: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def _call(self, name: str, argument: Any = None) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            self._busy.acquire()
        try:
            self.calls.append((name, threading.current_thread().name, argument))
            yield
        finally:
            self._busy.release()

    @property
    def url(self) -> str:
        return self.inner.url

    @property
    def key(self) -> str:
        return self.inner.key

    @property
    def replayable(self) -> bool:
        return self.inner.replayable

    def poll(self, max_records: int, timeout_s: float) -> list[RecordChunk]:
        with self._call("poll", max_records):
            failure = self.fail_poll.pop(len(self.polled) + 1, None)
            if failure is not None:
                self.polled.append(0)
                raise failure
            threading.Event().wait(0.002)  # widen the window in which the other thread runs
            chunks = self.inner.poll(max_records, timeout_s)
            self.polled.append(sum(len(c) for c in chunks))
            return chunks

    def rewind(self, partition: str, position: str | None) -> None:
        with self._call("rewind", position):
            self.inner.rewind(partition, position)

    def caught_up(self) -> bool:
        with self._call("caught_up"):
            return self.inner.caught_up()

    def acknowledge(self, positions: dict[str, str]) -> None:
        with self._call("acknowledge", positions):
            self.inner.acknowledge(positions)

    def health(self) -> SourceHealth:
        with self._call("health"):
            return self.inner.health()

    def close(self) -> None:
        self.inner.close()


def watch(ingestion: Ingestion) -> Watched:
    watched = Watched(ingestion.ingestor.source)
    ingestion.ingestor.source = watched
    return watched


def no_reader_thread() -> bool:
    return not any(t.name.startswith("ingest-read") for t in threading.enumerate())


def test_reading_ahead_stores_exactly_what_one_batch_at_a_time_stores(tmp_path: Path) -> None:
    lines, events = dirty_file(tmp_path)
    expected = one_batch_at_a_time(tmp_path / "steps", events)

    with ingestion_over(tmp_path / "ahead", events) as ingestion:
        watched = watch(ingestion)
        totals = ingestion.ingestor.run()
        got = stored(ingestion, tmp_path / "ahead")

    assert got == expected
    assert got["totals"]["events"] == counted_events(lines)
    assert {d[1] for d in got["dead_letters"]} == {
        "invalid-json",
        "invalid-event",
        "not-utf8",
        "too-late",
    }
    assert totals.records == len(lines)
    assert watched.overlaps == 0, "the source was called from two threads at once"
    assert {thread for name, thread, _ in watched.calls if name == "poll"} == {"ingest-read_0"}
    assert no_reader_thread()


def test_reading_ahead_keeps_dead_letters_whole_when_the_file_reuses_its_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small reads: the file source compacts its buffer on nearly every poll, over the bytes
    # of the chunk before (which the batch being processed still holds).
    monkeypatch.setattr(event_file, "_READ_STEP", 512)
    _lines, events = dirty_file(tmp_path)
    expected = one_batch_at_a_time(tmp_path / "steps", events)

    with ingestion_over(tmp_path / "ahead", events) as ingestion:
        ingestion.ingestor.run()
        got = stored(ingestion, tmp_path / "ahead")

    assert got["dead_letters"] == expected["dead_letters"]
    assert got == expected


def test_reading_ahead_never_reads_past_max_records(tmp_path: Path) -> None:
    lines, events = dirty_file(tmp_path)

    with ingestion_over(tmp_path / "ahead", events) as ingestion:
        watched = watch(ingestion)
        first = ingestion.ingestor.run(max_records=100)
        assert first.records == 100
        assert sum(watched.polled) == 100, "a read ahead went past max_records"
        assert [n for name, _, n in watched.calls if name == "poll"] == [37, 37, 26]
        position = ingestion.store.position(ingestion.source.key, event_file.PARTITION)
        assert position is not None and position.split(";")[0].endswith(":100")

        rest = ingestion.ingestor.run()
        assert first.records + rest.records == len(lines)
        assert ingestion.metrics.totals()["events"] == counted_events(lines)
        assert watched.overlaps == 0
    assert no_reader_thread()


def test_a_conflict_with_a_batch_read_ahead_discards_it_and_the_totals_stay_exact(
    tmp_path: Path,
) -> None:
    _lines, events = dirty_file(tmp_path)
    expected = one_batch_at_a_time(tmp_path / "steps", events)

    with ingestion_over(tmp_path / "ahead", events) as ingestion:
        watched = watch(ingestion)
        store = ingestion.ingestor.store
        commit, commits = store.commit, []

        def commit_or_conflict(*args: Any, **kwargs: Any) -> None:
            commits.append(len(commits) + 1)
            if len(commits) == 3:  # lost to another ingester: nothing is committed
                raise PositionConflict("partition 0 moved")
            commit(*args, **kwargs)

        store.commit = commit_or_conflict  # type: ignore[method-assign]
        totals = ingestion.ingestor.run()
        got = stored(ingestion, tmp_path / "ahead")

    assert totals.conflicts == 1
    assert got == expected
    # batch 3 was lost while batch 4 was read ahead: 4 was given back (its start, 111 lines
    # in), then the source went back to what the store holds (74 lines in)
    rewinds = [position for name, _, position in watched.calls if name == "rewind"]
    assert [r.split(";")[0].split(":")[1] for r in rewinds[:2]] == ["111", "74"]
    assert watched.overlaps == 0


def test_another_ingester_moving_the_position_during_a_read_ahead_loses_nothing(
    tmp_path: Path,
) -> None:
    _lines, events = dirty_file(tmp_path)
    expected = one_batch_at_a_time(tmp_path / "steps", events)

    with ingestion_over(tmp_path / "ahead", events) as ingestion:
        rival = open_ingestion(
            load_config(tmp_path / "ahead" / "controller.yaml"), f"file://{events}"
        )
        batches = []

        def rival_reads_two_batches(*_: object) -> None:
            batches.append(1)
            if len(batches) == 2:  # our third batch is being read ahead right now
                rival.ingestor.step(BATCH)
                rival.ingestor.step(BATCH)

        try:
            totals = ingestion.ingestor.run(on_batch=rival_reads_two_batches)
        finally:
            rival.close()
        got = stored(ingestion, tmp_path / "ahead")

    assert totals.conflicts == 1
    assert got["totals"] == expected["totals"]
    assert got["rows"] == expected["rows"]
    assert sorted(got["dead_letters"]) == sorted(expected["dead_letters"])
    assert got["partition"].position == expected["partition"].position


def test_a_source_unreachable_during_a_read_ahead_is_retried_as_before(tmp_path: Path) -> None:
    _lines, events = dirty_file(tmp_path)
    expected = one_batch_at_a_time(tmp_path / "steps", events)

    with ingestion_over(tmp_path / "ahead", events) as ingestion:
        watched = watch(ingestion)
        watched.fail_poll[3] = TemporaryError("broker gone")
        problems: list[SourceProblem | None] = []
        ingestion.ingestor.sleep = lambda _: None
        ingestion.ingestor.run(on_problem=problems.append)
        got = stored(ingestion, tmp_path / "ahead")

    assert problems == [SourceProblem("broker gone", 1.0, 1), None]
    assert got == expected
    assert no_reader_thread()


def test_an_unreadable_source_during_a_read_ahead_stops_the_run_with_its_error(
    tmp_path: Path,
) -> None:
    lines, events = dirty_file(tmp_path)

    with ingestion_over(tmp_path / "ahead", events) as ingestion:
        watched = watch(ingestion)
        watched.fail_poll[3] = InputError("events.ndjson: unreadable at byte 9000")
        with pytest.raises(InputError, match="unreadable at byte 9000"):
            ingestion.ingestor.run()
        assert no_reader_thread()
        # the two batches before it were committed, and the next run goes on from there
        assert ingestion.ingestor.run().records == len(lines) - 2 * BATCH
        assert ingestion.metrics.totals()["events"] == counted_events(lines)
