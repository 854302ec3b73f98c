"""File sources end to end: exact totals, restarts (also after SIGKILL), replay, speed, bad input."""

from __future__ import annotations

import gzip
import json
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from controller.cli import main
from tests.ingest.conftest import (
    START,
    event_lines,
    fleetctl,
    input_totals,
    project,
    source_events,
    stored_rows,
    stored_totals,
    wait_until,
)


def write(path: Path, lines: list[bytes]) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def ingest(config: Path, *args: str) -> int:
    return main(["--config", str(config), "ingest", *args])


def test_ingesting_a_file_stores_exactly_the_totals_of_its_events(tmp_path: Path) -> None:
    lines = event_lines(7000)
    lines[100:100] = [b"{broken", b'{"user_id": "u1"}']
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)

    assert ingest(config, "--source", f"file://{events}", "--quiet") == 0

    assert stored_totals(config) == input_totals(lines)


def test_running_again_reads_nothing_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(3000)
    events = write(tmp_path / "events.ndjson.gz", lines)
    config = project(tmp_path)
    ingest(config, "--source", f"file://{events}", "--quiet")
    capsys.readouterr()

    ingest(config, "--source", f"file://{events}", "--quiet")

    assert "ingest done: 0 events" in capsys.readouterr().out
    assert stored_totals(config) == input_totals(lines)


def test_max_events_stops_early_and_the_next_run_continues_where_it_stopped(tmp_path: Path) -> None:
    lines = event_lines(5000)
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)

    ingest(config, "--source", f"file://{events}", "--max-events", "1234", "--quiet")
    assert stored_totals(config)["events"] == 1234
    ingest(config, "--source", f"file://{events}", "--quiet")

    assert stored_totals(config) == input_totals(lines)


def test_an_ingester_killed_mid_stream_resumes_to_exactly_the_input(tmp_path: Path) -> None:
    lines = event_lines(120_000, seed=9)
    events = write(tmp_path / "events.ndjson", lines)
    killed = project(tmp_path / "killed", max_batch=1000)
    calm = project(tmp_path / "calm", max_batch=7000)

    child = fleetctl(killed, "ingest", "--source", f"file://{events}")
    wait_until(lambda: source_events(killed) >= 20_000, 60, "a few committed batches")
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    partial = source_events(killed)
    assert 20_000 <= partial < len(lines), "the kill should land mid-stream"

    assert ingest(killed, "--source", f"file://{events}", "--quiet") == 0
    assert ingest(calm, "--source", f"file://{events}", "--quiet") == 0

    assert stored_totals(killed) == input_totals(lines)
    assert stored_rows(killed) == stored_rows(calm), "sessions and personas exact too"
    taught, calmly = learned_sessions(killed), learned_sessions(calm)
    assert taught == pytest.approx(calmly, rel=1e-9), "each complete session taught once"
    assert sum(taught.values()) > 1000


def learned_sessions(config: Path) -> dict[tuple[str, int], float]:
    from controller.adapters.storage.db import connect
    from controller.adapters.storage.matcher_store import MatcherStore
    from controller.config import load_config

    engine = connect(load_config(config).sqlalchemy_url)
    try:
        return {key: row["sessions"][0] for key, row in MatcherStore(engine).learned().items()}
    finally:
        engine.dispose()


def test_speed_replays_by_event_time(tmp_path: Path) -> None:
    lines = event_lines(400, per_minute=200)  # two minutes of event time
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)

    began = time.monotonic()
    ingest(config, "--source", f"file://{events}", "--speed", "60", "--quiet")
    elapsed = time.monotonic() - began

    assert 1.5 <= elapsed <= 15, (
        f"2 min of events at 60x should take about 2 s, took {elapsed:.1f}s"
    )
    assert stored_totals(config) == input_totals(lines)


def test_a_replay_reads_only_events_up_to_the_clock_and_says_when_the_next_is_due(
    tmp_path: Path,
) -> None:
    from controller.config import load_config
    from controller.workflow.ingestion import open_ingestion

    lines = event_lines(2000, per_minute=100)  # 20 minutes
    events = write(tmp_path / "events.ndjson", lines)
    ingestion = open_ingestion(load_config(project(tmp_path)), f"file://{events}")
    try:
        cut = START + timedelta(minutes=7)
        first = ingestion.ingestor.run(until=cut)
        rest = ingestion.ingestor.run(until=START + timedelta(hours=1))
    finally:
        ingestion.close()
    due = [json.loads(line)["timestamp"] for line in lines]
    before = sum(1 for t in due if t <= "2026-11-02T08:07:00.000Z")
    assert first.events == before
    assert first.next_event_at is not None and first.next_event_at > cut
    assert first.events + rest.events == len(lines)
    assert rest.next_event_at is None


def test_an_oversize_line_is_a_dead_letter_naming_its_line_and_neighbours_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(50)
    lines.insert(10, b'{"user_id":"u1","pad":"' + b"x" * 100_000 + b'"}')
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)

    ingest(config, "--source", f"file://{events}", "--quiet")
    main(["--config", str(config), "deadletters", "--json"])
    report = json.loads(capsys.readouterr().out.split("\n", 2)[-1])

    assert report["counts"] == {"oversize": 1}
    (letter,) = report["dead_letters"]
    offset = sum(len(x) + 1 for x in lines[:10])
    assert letter["position"].endswith(f"line 11 (byte {offset})")
    assert f"{len(lines[10]):,} bytes exceeds the limit of 65,536" in letter["reason"]
    assert len(letter["raw"]) == 65_536
    assert stored_totals(config)["events"] == 50


def test_a_late_and_a_far_ahead_event_are_dead_letters_with_their_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(600, per_minute=30)  # 20 minutes
    late = json.loads(lines[500])
    late["timestamp"] = "2026-11-02T08:01:00.000Z"  # ~15 min behind: beyond 5 min lateness
    ahead = json.loads(lines[300])
    ahead["timestamp"] = "2026-11-09T08:00:00.000Z"  # a week ahead
    lines.insert(501, json.dumps(late).encode())
    lines.insert(301, json.dumps(ahead).encode())
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)

    ingest(config, "--source", f"file://{events}", "--quiet")
    main(["--config", str(config), "deadletters", "--json"])
    report = json.loads(capsys.readouterr().out.split("\n", 2)[-1])

    assert report["counts"] == {"too-far-ahead": 1, "too-late": 1}
    by_kind = {d["kind"]: d for d in report["dead_letters"]}
    assert by_kind["too-late"]["reason"].startswith("too late: event time 2026-11-02T08:01:00.000Z")
    assert "line 503 " in by_kind["too-late"]["position"]
    assert by_kind["too-far-ahead"]["reason"].startswith("too far ahead: event time 2026-11-09")
    assert json.loads(by_kind["too-far-ahead"]["raw"]) == ahead
    assert stored_totals(config)["events"] == 600


def test_metrics_export_writes_the_exact_columns_in_utc(tmp_path: Path) -> None:
    lines = event_lines(500)
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)
    ingest(config, "--source", f"file://{events}", "--quiet")
    out = tmp_path / "metrics.csv"

    assert main(["--config", str(config), "metrics", "export", "--out", str(out)]) == 0

    header, *rows = out.read_text().splitlines()
    assert header == "bucket,persona,region,events,sessions,cpu_ms,memory_mb,network_kb,io_ops"
    first = rows[0].split(",")
    assert first[0] == "2026-11-02T08:00:00Z"
    assert sum(int(r.split(",")[3]) for r in rows) == 500
    cpu = sum(round(float(r.split(",")[5]) * 1000) for r in rows)
    assert cpu == input_totals(lines)["cpu_ms_milli"]


def test_deadletters_lists_each_with_position_and_reason_and_counts_by_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = event_lines(20)
    lines[3] = b"{not json"
    lines[7] = b'{"user_id":"u7","timestamp":"2026-11-02T08:00:00Z","event_type":"browse"}'
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)
    ingest(config, "--source", f"file://{events}", "--quiet")
    capsys.readouterr()

    main(["--config", str(config), "deadletters"])
    out = capsys.readouterr().out

    assert f"{events} line 4 (byte" in out
    assert "invalid JSON" in out
    assert "resource_consumption: required field is missing" in out
    counts = out.split("2 dead letters, by reason:\n")[1].split()
    assert sorted(zip(counts[::2], counts[1::2], strict=True)) == [
        ("invalid-event", "1"),
        ("invalid-json", "1"),
    ]


def test_an_unknown_source_scheme_is_an_error_naming_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    assert ingest(config, "--source", "mqtt://broker/topic") == 1
    assert "unsupported source 'mqtt'" in capsys.readouterr().err


def test_a_missing_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    assert ingest(config, "--source", f"file://{tmp_path}/nope.ndjson") == 1
    assert "nope.ndjson: event file does not exist" in capsys.readouterr().err
