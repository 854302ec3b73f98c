"""The Kafka consumer runs in a process of its own (controller/adapters/kafka_fetcher.py): what
the ingester sees of it must be what one in-process consumer would give, through rewinds, its
death, and the death of the ingester."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from controller.adapters.event_source import RecordChunk
from controller.adapters.kafka_source import KafkaEventSource
from controller.config import load_config
from controller.workflow.ingestion import Ingestion, open_ingestion
from tests.ingest.conftest import (
    KafkaBroker,
    event_lines,
    fleetctl,
    input_totals,
    project,
    source_events,
    stored_totals,
    wait_until,
)

pytestmark = pytest.mark.kafka


class NothingStored:
    def position(self, source: str, partition: str) -> str | None:
        return None


@contextmanager
def kafka_source(url: str) -> Iterator[KafkaEventSource]:
    source = KafkaEventSource(url, NothingStored())
    try:
        yield source
    finally:
        source.close()


@contextmanager
def kafka_ingestion(root: Path, url: str, **events: object) -> Iterator[Ingestion]:
    ingestion = open_ingestion(load_config(project(root, **events)), url)
    try:
        yield ingestion
    finally:
        ingestion.close()


def offsets(chunk: RecordChunk) -> list[int]:
    return [int(chunk.position_at(i)) for i in range(len(chunk))]


def poll_until(source: KafkaEventSource, want: int) -> list[RecordChunk]:
    chunks: list[RecordChunk] = []
    wait_until(lambda: bool(chunks.extend(source.poll(want, 1.0)) or chunks), 60, "records")
    return chunks


def test_a_rewind_reads_from_that_offset_and_never_hands_over_what_was_read_before_it(
    kafka_broker: KafkaBroker,
) -> None:
    lines = event_lines(30_000, seed=31)
    topic = kafka_broker.create_topic(partitions=1)
    kafka_broker.produce(topic, lines, partitions=1)
    with kafka_source(kafka_broker.url(topic)) as source:
        (first,) = poll_until(source, 100)
        assert (first.start, offsets(first)[0], len(first)) == (None, 0, 100)
        time.sleep(1.0)  # the consumer process reads on, far beyond offset 100, and sends it
        source.rewind("0", "40")
        seen: list[int] = []
        chunks: list[RecordChunk] = []
        while not source.caught_up():
            chunks += source.poll(500, 1.0)
        for chunk in chunks:
            assert chunk.start == str(seen[-1] + 1 if seen else 40)
            seen += offsets(chunk)
            assert chunk.end == str(seen[-1] + 1)
        assert seen == list(range(40, 30_000)), "from the rewind on: each offset once, in order"
        assert list(chunks[0].records[:2]) == lines[40:42]


def test_records_keep_their_bytes_whatever_they_contain(kafka_broker: KafkaBroker) -> None:
    values = [b'{"a":\n1}', b"", b"plain", b"two\nlines\n", b"\xff\x00"]
    topic = kafka_broker.create_topic(partitions=1)
    kafka_broker.produce(topic, values, partitions=1)
    with kafka_source(kafka_broker.url(topic)) as source:
        got: list[bytes] = []
        while len(got) < len(values):
            for chunk in source.poll(10, 1.0):
                got += list(chunk.records)
                assert chunk.lengths is not None
                assert chunk.lengths.tolist() == [len(r) for r in chunk.records]
                if chunk.joined is not None:  # only when it frames the records unambiguously
                    assert bytes(chunk.joined) == b"\n".join(chunk.records)
                    assert all(b"\n" not in r for r in chunk.records)
    assert got == values


def test_a_consumer_process_that_dies_is_reported_and_reading_resumes_from_stored_offsets(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    lines = event_lines(30_000, seed=32)
    topic = kafka_broker.create_topic(partitions=2)
    kafka_broker.produce(topic, lines, partitions=2)
    config = project(tmp_path, max_batch=2000)
    with kafka_ingestion(tmp_path, kafka_broker.url(topic, group="dies"), max_batch=2000) as ing:
        source = ing.ingestor.source
        assert isinstance(source, KafkaEventSource)
        first = ing.ingestor.run(max_records=4000)
        pid = source.consumer_pid
        assert pid is not None and first.records == 4000
        os.kill(pid, signal.SIGKILL)
        problems: list[str] = []
        ing.ingestor.run(on_problem=lambda p: problems.append(p.message) if p else None)
        assert source.consumer_pid not in (None, pid), "a new consumer process took over"
    assert any("consumer process stopped" in p for p in problems), problems
    assert stored_totals(config) == input_totals(lines)


def test_the_consumer_process_leaves_when_its_ingester_is_killed(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    topic = kafka_broker.create_topic(partitions=1)
    kafka_broker.produce(topic, event_lines(2000, seed=33), partitions=1)
    config = project(tmp_path)
    ingester = fleetctl(config, "ingest", "--follow", "--source", kafka_broker.url(topic))
    try:
        wait_until(lambda: source_events(config) == 2000, 90, "the events")
        (consumer,) = _children(ingester.pid)
    finally:
        ingester.send_signal(signal.SIGKILL)
        ingester.wait(10)
    wait_until(lambda: not _running(consumer), 30, "the orphaned consumer process to exit")


def _children(pid: int) -> list[int]:
    """(Any of its threads may have started them.)"""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(child) for task in tasks for child in (task / "children").read_text().split()]


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]  # a zombie has exited, only not yet reaped
