"""`fleetctl classify` on a small hand-made file, and `fleetctl personas drift`."""

from __future__ import annotations

import csv
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from controller.cli import main
from tests.ingest.conftest import project
from tests.ingest.test_file_ingest import write
from tests.matching.sessions import (
    PUBLISHING,
    START,
    by_time,
    session,
    shopper,
    stranger,
)

SHOPPER = "peak-hour-shopper"


def classify(config: Path, events: Path, out: Path) -> int:
    return main(["--config", str(config), "classify", "--input", str(events), "--out", str(out)])


def test_classify_writes_one_row_per_session_with_persona_and_probability(
    tmp_path: Path,
) -> None:
    lines = by_time(
        shopper("alice"),
        session("bob", ["upload", "edit", "publish"], PUBLISHING, "us-east-1", session_id="s-42"),
        stranger("mallory"),
        shopper("alice", START + timedelta(hours=1)),  # an hour of silence: a second session
    )
    config = project(tmp_path)
    out = tmp_path / "sessions.csv"
    assert classify(config, write(tmp_path / "events.ndjson", lines), out) == 0

    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "session_id",
        "user_id",
        "start",
        "end",
        "events",
        "persona",
        "probability",
    ]
    found = [
        (r["session_id"], r["user_id"], r["start"], r["end"], r["events"], r["persona"])
        for r in rows
    ]
    assert found == [
        (
            "alice@2026-11-02T15:00:00.000Z",
            "alice",
            "2026-11-02T15:00:00.000Z",
            "2026-11-02T15:00:30.000Z",
            "4",
            SHOPPER,
        ),
        (
            "mallory@2026-11-02T15:00:00.000Z",
            "mallory",
            "2026-11-02T15:00:00.000Z",
            "2026-11-02T15:00:20.000Z",
            "3",
            "",
        ),
        (
            "s-42",
            "bob",
            "2026-11-02T15:00:00.000Z",
            "2026-11-02T15:00:20.000Z",
            "3",
            "content-publisher",
        ),
        (
            "alice@2026-11-02T16:00:00.000Z",
            "alice",
            "2026-11-02T16:00:00.000Z",
            "2026-11-02T16:00:30.000Z",
            "4",
            SHOPPER,
        ),
    ]
    assert all(float(r["probability"]) > 0.99 for r in rows if r["persona"])


def test_a_malformed_event_is_named_by_line_and_value_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = shopper("alice")
    lines[2] = lines[2].replace(b'"cpu_ms": 50.0', b'"cpu_ms": "lots"')
    config = project(tmp_path)
    out = tmp_path / "sessions.csv"

    assert classify(config, write(tmp_path / "events.ndjson", lines), out) == 1
    error = capsys.readouterr().err
    assert "events.ndjson:3:" in error and "cpu_ms" in error and "lots" in error
    assert not out.exists()


def test_a_missing_input_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    assert classify(config, tmp_path / "nowhere.ndjson", tmp_path / "s.csv") == 1
    assert "nowhere.ndjson" in capsys.readouterr().err


def test_personas_drift_shows_learned_against_declared_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    assert main(["--config", str(config), "personas", "sync"]) == 0  # the store, still empty
    capsys.readouterr()
    assert main(["--config", str(config), "personas", "drift", "--json"]) == 0
    before = {d["persona"]: d for d in json.loads(capsys.readouterr().out)}
    assert before[SHOPPER]["sessions_learned"] == 0
    assert before[SHOPPER]["distance"]["regions"] == 0

    shoppers = [shopper(f"u{i}", START + timedelta(seconds=7 * i)) for i in range(60)]
    later = shopper("late", START + timedelta(hours=2))[:1]
    events = write(tmp_path / "events.ndjson", by_time(*shoppers, later))
    assert main(["--config", str(config), "ingest", "--source", f"file://{events}", "--quiet"]) == 0
    capsys.readouterr()

    assert main(["--config", str(config), "personas", "drift", "--json"]) == 0
    after = {d["persona"]: d for d in json.loads(capsys.readouterr().out)}[SHOPPER]
    assert after["version"] == 1
    assert after["sessions_learned"] == pytest.approx(60, abs=0.5)
    eu = after["regions"]["eu-west-1"]
    assert eu["declared"] == pytest.approx(0.3, abs=0.01) and eu["learned"] > 0.6
    assert after["distance"]["regions"] > 0.3

    assert main(["--config", str(config), "personas", "drift"]) == 0
    table = capsys.readouterr().out
    shopper_line = next(line for line in table.splitlines() if line.startswith(SHOPPER))
    assert "v1" in shopper_line
    assert re.search(r"region eu-west-1: 30\.\d% -> [6-9]\d\.\d%", table), table
