"""A file replaced or truncated under the same path stops ingestion, naming the file and what to
do, with nothing read from it; a file that only grew reads on exactly where it stopped."""

from __future__ import annotations

import gzip
import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from controller.adapters.event_file import PARTITION
from controller.adapters.file_position import FilePosition, FileReplaced
from controller.adapters.storage.db import connect, stream_partitions
from controller.adapters.storage.ingest_store import IngestStore
from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.workflow import steps
from controller.workflow.wiring import build_controller
from tests.helpers import make_project
from tests.ingest.conftest import (
    START,
    event_lines,
    fleetctl,
    input_totals,
    project,
    source_events,
    stored_totals,
    wait_until,
)
from tests.ingest.test_file_ingest import ingest, write


def ndjson(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def replace_file(path: Path, lines: list[bytes]) -> None:
    """A new file under the old name (a new inode), as `mv new old` leaves it."""
    write(path.with_name("incoming" + "".join(path.suffixes)), lines).replace(path)


def stored_position(config: Path, events: Path) -> str | None:
    engine = connect(load_config(config).sqlalchemy_url)
    try:
        return IngestStore(engine).position(f"file://{events}", PARTITION)
    finally:
        engine.dispose()


def ingested(tmp_path: Path, name: str, lines: list[bytes]) -> tuple[Path, Path]:
    events = write(tmp_path / name, lines)
    config = project(tmp_path)
    assert ingest(config, "--source", f"file://{events}", "--quiet") == 0
    assert stored_totals(config) == input_totals(lines)
    return config, events


def assert_refused(
    config: Path, events: Path, capsys: pytest.CaptureFixture[str], lines: list[bytes], why: str
) -> str:
    """`fleetctl ingest` exits 1 naming the file, why and what to do; the store is as it was."""
    position = stored_position(config, events)
    capsys.readouterr()

    assert ingest(config, "--source", f"file://{events}", "--quiet") == 1

    err = capsys.readouterr().err
    assert f"fleetctl: error: {events}: {why}" in err
    assert "nothing was read from it" in err
    assert "fleetctl ingest --source file://NEW_PATH" in err
    assert f"fleetctl ingest --source file://{events} --from-start" in err
    assert stored_totals(config) == input_totals(lines), "nothing stored from it, nothing lost"
    assert stored_position(config, events) == position
    return err


@pytest.mark.parametrize("name", ["events.ndjson", "events.ndjson.gz"])
def test_a_file_truncated_below_the_stored_position_stops_ingest_naming_it(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(3000)
    config, events = ingested(tmp_path, name, lines)
    # copytruncate-style rotation: cut to its first lines, in place, and new lines written on
    kept = lines[:1000] + event_lines(500, seed=6, start=START + timedelta(hours=2))
    data = ndjson(kept)
    with events.open("r+b") as handle:
        handle.truncate(0)
        handle.write(gzip.compress(data) if name.endswith(".gz") else data)

    assert_refused(config, events, capsys, lines, f"it ends at byte {len(data)} now")


def test_a_file_replaced_by_other_content_of_the_same_size_stops_ingest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(3000)
    config, events = ingested(tmp_path, "events.ndjson", lines)
    replace_file(events, lines[::-1])  # the same bytes in another order: the same size
    assert events.stat().st_size == len(ndjson(lines))

    assert_refused(config, events, capsys, lines, "its first bytes differ (replaced)")


def test_a_larger_file_sharing_the_first_bytes_but_not_the_line_read_last_stops_ingest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(3000)
    config, events = ingested(tmp_path, "events.ndjson.gz", lines)
    other = lines[:40] + event_lines(5000, seed=6, start=START + timedelta(hours=2))
    assert len(ndjson(lines[:40])) > 4096, "the first 4 KiB are the same"
    write(events, other)  # in place: the same inode

    assert_refused(config, events, capsys, lines, "its line 3000 differs (replaced)")


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("events.ndjson", "appended"),
        ("events.ndjson.gz", "appended"),  # a second gzip member
        ("events.ndjson.gz", "rewritten"),  # compressed anew, a new inode: the same events first
        ("events.ndjson", "rewritten"),
    ],
)
def test_a_file_that_only_grew_reads_on_exactly_where_it_stopped(
    tmp_path: Path, name: str, how: str
) -> None:
    first = event_lines(8)  # shorter than the 4 KiB fingerprinted at its start
    config, events = ingested(tmp_path, name, first)
    more = event_lines(3000, seed=6, start=START + timedelta(minutes=1))
    if how == "appended":
        data = ndjson(more)
        with events.open("ab") as handle:
            handle.write(gzip.compress(data) if name.endswith(".gz") else data)
    else:
        replace_file(events, first + more)

    assert ingest(config, "--source", f"file://{events}", "--quiet") == 0
    assert stored_totals(config) == input_totals(first + more)
    position = FilePosition.parse(stored_position(config, events))
    assert position.line == len(first + more)
    assert position.head is not None and position.head.size == 4096


def test_a_position_stored_before_fingerprints_reads_on_and_takes_them_at_the_next_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(2000)
    config, events = ingested(tmp_path, "events.ndjson", lines)
    old = stored_position(config, events)
    assert old is not None
    set_stored_position(config, events, old.split(";")[0])  # as a store from before kept it
    more = event_lines(1000, seed=6, start=START + timedelta(hours=2))
    with events.open("ab") as handle:
        handle.write(ndjson(more))

    assert ingest(config, "--source", f"file://{events}", "--quiet") == 0

    assert stored_totals(config) == input_totals(lines + more)
    position = FilePosition.parse(stored_position(config, events))
    assert position.head is not None and position.last is not None
    set_stored_position(config, events, f"{position.byte}:{position.line}")
    events.write_bytes(ndjson(lines[:10]))
    assert_refused(config, events, capsys, lines + more, "it ends at byte")


def set_stored_position(config: Path, events: Path, position: str) -> None:
    engine = connect(load_config(config).sqlalchemy_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(stream_partitions)
                .where(stream_partitions.c.source == f"file://{events}")
                .values(position=position)
            )
    finally:
        engine.dispose()


def test_from_start_reads_a_replaced_file_from_its_first_line_keeping_what_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(3000)
    config, events = ingested(tmp_path, "events.ndjson", lines)
    newer = event_lines(1000, seed=6, start=START + timedelta(hours=2))
    replace_file(events, newer)
    capsys.readouterr()

    assert ingest(config, "--source", f"file://{events}", "--from-start", "--quiet") == 0

    assert "(truncated or replaced); --from-start: reading it from its first line" in (
        capsys.readouterr().out
    )
    assert stored_totals(config) == input_totals(lines + newer)
    assert ingest(config, "--source", f"file://{events}", "--quiet") == 0
    assert stored_totals(config) == input_totals(lines + newer), "and it reads on from there"


def test_from_start_is_refused_for_the_file_already_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(1000)
    config, events = ingested(tmp_path, "events.ndjson", lines)
    capsys.readouterr()

    assert ingest(config, "--source", f"file://{events}", "--from-start", "--quiet") == 1

    err = capsys.readouterr().err
    assert f"{events}: --from-start refused: this is the file already read up to " in err
    assert "would count its events twice" in err
    assert stored_totals(config) == input_totals(lines)


def test_following_a_file_reads_each_appended_line_once_also_across_a_rewrite(
    tmp_path: Path,
) -> None:
    batches = [event_lines(300, seed=s, start=START + timedelta(hours=s)) for s in (1, 2, 3)]
    later = event_lines(10, seed=4, start=START + timedelta(hours=4))
    events = write(tmp_path / "events.ndjson", batches[0])
    config = project(tmp_path)
    child = fleetctl(config, "ingest", "--source", f"file://{events}", "--follow", "--quiet")
    try:
        wait_until(lambda: source_events(config) == 300, 60, "the first lines")
        data = ndjson(batches[1] + batches[2])
        with events.open("ab") as handle:
            handle.write(data[:-100])  # the last line is being written
        wait_until(lambda: source_events(config) == 899, 60, "every whole line")
        # rewritten as a new file (a new inode) with the same content and more: it reads on
        grown = ndjson(batches[0]) + data + ndjson(later)
        incoming = tmp_path / "incoming.ndjson"
        incoming.write_bytes(grown[:-50])
        incoming.replace(events)
        wait_until(lambda: source_events(config) == 909, 60, "the lines after the rewrite")
        with events.open("ab") as handle:
            handle.write(grown[-50:])
        wait_until(lambda: source_events(config) == 910, 60, "the last line once it ended")
    finally:
        child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=60)
    assert child.returncode == 0, output
    assert stored_totals(config) == input_totals([line for b in batches for line in b] + later)


@pytest.mark.parametrize("how", ["replaced", "truncated"])
def test_following_a_file_replaced_or_truncated_under_its_name_stops_naming_it(
    tmp_path: Path, how: str
) -> None:
    lines = event_lines(300)
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)
    child = fleetctl(config, "ingest", "--source", f"file://{events}", "--follow", "--quiet")
    try:
        wait_until(lambda: source_events(config) == 300, 60, "the first lines")
        other = event_lines(500, seed=6, start=START + timedelta(hours=2))
        if how == "replaced":
            replace_file(events, other)
        else:
            os.truncate(events, 1000)
        code = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
        output, _ = child.communicate(timeout=60)

    assert code == 1, output
    assert f"fleetctl: error: {events}: " in output
    assert "--from-start" in output
    assert stored_totals(config) == input_totals(lines)


def test_the_daemon_ingest_step_stops_at_a_replaced_file_and_stores_nothing_of_it(
    tmp_path: Path,
) -> None:
    lines = event_lines(1200, per_minute=60)  # 20 minutes
    events = write(tmp_path / "events.ndjson", lines)
    config = load_config(make_project(tmp_path, events=events))
    controller = build_controller(config, clock=FixedClock(START + timedelta(days=1)))
    try:
        personas = steps.load_personas(config)

        def ingest_step() -> steps.IngestOutcome:
            return steps.ingest(
                config, personas, controller.source, controller.ingest_store, START + timedelta(1)
            )

        assert ingest_step().events_total == input_totals(lines)["events"]
        replace_file(events, event_lines(2000, seed=6, per_minute=60))

        with pytest.raises(FileReplaced, match=rf"{events}: its first bytes differ") as failed:
            ingest_step()
        assert not failed.value.retryable, "a person must act: retrying cannot help"
        again = controller.ingest_store.totals(controller.source.key)
    finally:
        controller.close()
    assert again.events == input_totals(lines)["events"]
