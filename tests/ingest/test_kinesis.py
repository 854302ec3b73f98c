"""Kinesis sources against moto's server over HTTP with the real boto3 client; resharding,
which moto routes unlike AWS, against a recording fake of the same client (fake_kinesis)."""

from __future__ import annotations

import hashlib
import json
import signal
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from controller.adapters.aws.kinesis_source import KinesisEventSource
from controller.cli import main
from controller.config import load_config
from controller.workflow.ingestion import open_ingestion
from tests.ingest.conftest import (
    START,
    MotoServer,
    event_lines,
    fleetctl,
    input_totals,
    project,
    source_events,
    stored_rows,
    stored_totals,
    wait_until,
)
from tests.ingest.fake_kinesis import MAX_HASH, FakeKinesis
from tests.ingest.test_kafka import Output
from tests.matching.sessions import PUBLISHING, SHOPPING

pytestmark = pytest.mark.kinesis
REGION = "us-east-1"


def kinesis(moto: MotoServer):  # type: ignore[no-untyped-def]
    return boto3.client("kinesis", region_name=REGION, endpoint_url=moto.endpoint)


def new_stream(moto: MotoServer, shards: int) -> str:
    name = f"events-{uuid.uuid4().hex[:8]}"
    kinesis(moto).create_stream(StreamName=name, ShardCount=shards)
    return name


def put(moto: MotoServer, stream: str, lines: list[bytes]) -> None:
    client = kinesis(moto)
    for i in range(0, len(lines), 500):
        batch = lines[i : i + 500]
        entries = [
            {"Data": line, "PartitionKey": _user(line) or str(j)} for j, line in enumerate(batch)
        ]
        assert client.put_records(StreamName=stream, Records=entries)["FailedRecordCount"] == 0


def url(moto: MotoServer, stream: str) -> str:
    return f"kinesis://{stream}?region={REGION}&endpoint={moto.endpoint}"


def _user(line: bytes) -> str | None:
    try:
        return str(json.loads(line)["user_id"])
    except (ValueError, KeyError, TypeError):
        return None


class NoPositions:
    def position(self, source: str, partition: str) -> str | None:
        return None


def test_kinesis_ingestion_reads_every_shard_to_exactly_the_input(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    lines = event_lines(6000, seed=31)
    lines[10:10] = [b"{oops", b'{"user_id":"u1","timestamp":"soon","event_type":"browse"}']
    stream = new_stream(moto_server, shards=3)
    put(moto_server, stream, lines)
    config = project(tmp_path)

    assert (
        main(["--config", str(config), "ingest", "--source", url(moto_server, stream), "--quiet"])
        == 0
    )

    assert stored_totals(config) == input_totals(lines)


def test_a_restart_continues_after_the_stored_sequence_numbers(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    first = event_lines(2000, seed=32)
    later = event_lines(1500, seed=33, start=START + timedelta(hours=2))
    stream = new_stream(moto_server, shards=2)
    config = project(tmp_path)
    put(moto_server, stream, first)
    main(["--config", str(config), "ingest", "--source", url(moto_server, stream), "--quiet"])
    put(moto_server, stream, later)

    main(["--config", str(config), "ingest", "--source", url(moto_server, stream), "--quiet"])

    assert stored_totals(config) == input_totals(first + later)


def resharded(parent_lines: list[bytes], child_lines: list[bytes]) -> tuple[FakeKinesis, list[str]]:
    """A one-shard stream holding `parent_lines`, split in two, then `child_lines` put by
    their users' hash keys: AWS's routing after a split (see fake_kinesis for why not moto)."""
    fake = FakeKinesis("events")
    for i, line in enumerate(parent_lines):
        fake.put(_hash_key(line, i), line)
    children = fake.split("shardId-000000000000", MAX_HASH // 2 + 1)
    for i, line in enumerate(child_lines):
        fake.put(_hash_key(line, i), line)
    return fake, list(children)


def _hash_key(line: bytes, index: int) -> int:
    key = _user(line) or str(index)
    return int(hashlib.md5(key.encode()).hexdigest(), 16)


def test_after_a_split_the_parent_is_read_to_its_end_before_its_children() -> None:
    later = event_lines(400, seed=35, start=START + timedelta(hours=1))
    fake, children = resharded(event_lines(300, seed=34), later)
    parent = "shardId-000000000000"
    source = KinesisEventSource(f"kinesis://{fake.stream}?region={REGION}", NoPositions(), fake)
    order: list[str] = []
    for _ in range(20):
        for chunk in source.poll(100, 0.0):
            order.extend([chunk.partition] * len(chunk))
            if chunk.partition in children:
                assert chunk.inherits == (parent,)
        if source.caught_up():
            break

    assert order.count(parent) == 300
    assert sum(order.count(c) for c in children) == 400
    assert all(order.count(c) > 0 for c in children)
    last_parent = max(i for i, p in enumerate(order) if p == parent)
    first_child = min(i for i, p in enumerate(order) if p in children)
    assert last_parent < first_child


def test_a_child_shard_continues_its_parents_sessions(tmp_path: Path) -> None:
    def event(minute: int, kind: str, use: tuple[float, float, float, float]) -> bytes:
        return json.dumps(
            {
                "user_id": "u-reshard",
                "timestamp": (START + timedelta(minutes=minute)).isoformat(),
                "event_type": kind,
                "resource_consumption": dict(
                    zip(("cpu_ms", "memory_mb", "network_kb", "io_ops"), use, strict=True)
                ),
            }
        ).encode()

    # alone, a browse with a shopper's resource use is a shopper's
    fake, _ = resharded([event(0, "upload", PUBLISHING)], [event(5, "browse", SHOPPING)])
    config = project(tmp_path)

    ingestion = open_ingestion(
        load_config(config),
        f"kinesis://{fake.stream}?region={REGION}",
        lambda url, positions: KinesisEventSource(url, positions, fake),
    )
    try:
        ingestion.ingestor.run()
    finally:
        ingestion.close()

    personas = {(r.bucket.minute, r.persona) for r in stored_rows(config)}  # type: ignore[attr-defined]
    # the session so far (an upload, publisher-sized use) still points at the publisher: the
    # child shard knew what the session had done in its parent
    assert personas == {(0, "content-publisher"), (5, "content-publisher")}


def test_an_unreachable_endpoint_is_reported_and_reading_resumes_from_stored_positions(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    before = event_lines(1500, seed=36)
    after = event_lines(1000, seed=37, start=START + timedelta(hours=1))
    stream = new_stream(moto_server, shards=2)
    put(moto_server, stream, before)
    config = project(tmp_path)
    child = fleetctl(config, "ingest", "--follow", "--source", url(moto_server, stream))
    out = Output(child)
    try:
        wait_until(lambda: source_events(config) == len(before), 60, "the first events")
        moto_server.stop()
        try:
            wait_until(lambda: out.has("source unreachable"), 60, "the outage to be reported")
        finally:
            moto_server.start()
        put(moto_server, stream, after)
        total = len(before) + len(after)
        wait_until(lambda: source_events(config) == total, 90, "the events after the outage")
        wait_until(lambda: out.has("reachable again"), 30, "the recovery to be reported")
    finally:
        child.send_signal(signal.SIGTERM)
        code = child.wait(30)
    assert code == 0, out.text
    assert stored_totals(config) == input_totals(before + after)
