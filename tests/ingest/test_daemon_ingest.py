"""The daemon's ingest step reads every kind of source through the same abstraction."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.cli import main
from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.domain.errors import ConfigError
from controller.workflow import steps
from controller.workflow.wiring import build_controller
from tests.helpers import make_project
from tests.ingest.conftest import START, KafkaBroker, MotoServer, event_lines, input_totals
from tests.ingest.test_file_ingest import write
from tests.ingest.test_kinesis import new_stream, put, url


def daemon_ingest(
    tmp_path: Path, source: str, now_offset: timedelta = timedelta(days=1)
) -> steps.IngestOutcome:
    config_path = make_project(tmp_path)
    config = load_config(config_path)
    config = config.model_copy(
        update={"events": config.events.model_copy(update={"source": source})}
    )
    controller = build_controller(config, clock=FixedClock(START + now_offset))
    try:
        personas = steps.load_personas(config)
        return steps.ingest(
            config, personas, controller.source, controller.ingest_store, controller.clock.now()
        )
    finally:
        controller.close()


@pytest.mark.kinesis
def test_the_ingest_step_reads_a_kinesis_stream(moto_server: MotoServer, tmp_path: Path) -> None:
    lines = event_lines(1500, seed=51)
    stream = new_stream(moto_server, shards=2)
    put(moto_server, stream, lines)

    outcome = daemon_ingest(tmp_path, url(moto_server, stream))

    assert outcome.events == outcome.events_total == input_totals(lines)["events"]
    assert outcome.next_event_at is None


@pytest.mark.kafka
def test_the_ingest_step_reads_a_kafka_topic(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    lines = event_lines(1500, seed=52)
    topic = kafka_broker.create_topic(partitions=2)
    kafka_broker.produce(topic, lines, partitions=2)

    outcome = daemon_ingest(tmp_path, kafka_broker.url(topic))

    assert outcome.events == outcome.events_total == 1500
    assert outcome.last_event_at is not None


def test_the_ingest_step_replays_a_file_only_up_to_the_clock(tmp_path: Path) -> None:
    lines = event_lines(1200, per_minute=60)  # 20 minutes
    events = write(tmp_path / "events.ndjson", lines)

    outcome = daemon_ingest(tmp_path, f"file://{events}", now_offset=timedelta(minutes=10))

    assert 0 < outcome.events < 1200
    assert outcome.next_event_at is not None
    assert outcome.next_event_at > START + timedelta(minutes=10)
    assert outcome.last_event_at is not None
    assert outcome.last_event_at <= START + timedelta(minutes=10)


def test_a_kafka_url_without_a_group_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"consumer group is required \(\?group=NAME\)"):
        daemon_ingest(tmp_path, "kafka://127.0.0.1:1/events")


@pytest.mark.kafka
def test_a_missing_topic_is_an_error_naming_it(
    kafka_broker: KafkaBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_project(tmp_path)
    code = main(["--config", str(config), "ingest", "--source", kafka_broker.url("no-such-topic")])
    assert code == 1
    assert "topic 'no-such-topic' does not exist" in capsys.readouterr().err
