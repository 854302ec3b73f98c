"""Kinesis sources against moto's server over HTTP with the real boto3 client."""

from __future__ import annotations

import base64
import json
import signal
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from controller.adapters.aws.kinesis_source import KinesisEventSource
from controller.cli import main
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


def put_into_shard(stream: str, shard_id: str, lines: list[bytes]) -> None:
    """Write straight into one shard through moto's backend. After a split, AWS routes new
    records to the child shards; moto keeps routing them to the closed parent, so the test puts
    them where AWS would."""
    from moto.kinesis.models import kinesis_backends

    shard = kinesis_backends["123456789012"][REGION].streams[stream].shards[shard_id]
    for line in lines:
        shard.put_record(_user(line) or "k", base64.b64encode(line).decode(), "")


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


def test_after_a_split_the_parent_is_read_to_its_end_before_its_children(
    moto_server: MotoServer,
) -> None:
    stream = new_stream(moto_server, shards=1)
    put(moto_server, stream, event_lines(300, seed=34))
    client = kinesis(moto_server)
    (parent,) = client.list_shards(StreamName=stream)["Shards"]
    middle = (int(parent["HashKeyRange"]["EndingHashKey"]) + 1) // 2
    client.split_shard(
        StreamName=stream, ShardToSplit=parent["ShardId"], NewStartingHashKey=str(middle)
    )
    children = [
        s["ShardId"]
        for s in client.list_shards(StreamName=stream)["Shards"]
        if s.get("ParentShardId")
    ]
    for child in children:
        put_into_shard(stream, child, event_lines(200, seed=35, start=START + timedelta(hours=1)))

    source = KinesisEventSource(url(moto_server, stream), NoPositions())
    order: list[str] = []
    for _ in range(20):
        for chunk in source.poll(100, 0.0):
            order.extend([chunk.partition] * len(chunk))
            if chunk.partition in children:
                assert chunk.inherits == (parent["ShardId"],)
        if source.caught_up():
            break

    assert order.count(parent["ShardId"]) == 300
    assert sorted(order.count(c) for c in children) == [200, 200]
    last_parent = max(i for i, p in enumerate(order) if p == parent["ShardId"])
    first_child = min(i for i, p in enumerate(order) if p in children)
    assert last_parent < first_child


def test_a_child_shard_continues_its_parents_sessions(
    moto_server: MotoServer, tmp_path: Path
) -> None:
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

    stream = new_stream(moto_server, shards=1)
    put(moto_server, stream, [event(0, "upload", PUBLISHING)])
    client = kinesis(moto_server)
    (parent,) = client.list_shards(StreamName=stream)["Shards"]
    middle = (int(parent["HashKeyRange"]["EndingHashKey"]) + 1) // 2
    client.split_shard(
        StreamName=stream, ShardToSplit=parent["ShardId"], NewStartingHashKey=str(middle)
    )
    child = next(
        s["ShardId"]
        for s in client.list_shards(StreamName=stream)["Shards"]
        if s.get("ParentShardId")
    )
    # alone, a browse with a shopper's resource use is a shopper's
    put_into_shard(stream, child, [event(5, "browse", SHOPPING)])
    config = project(tmp_path)

    main(["--config", str(config), "ingest", "--source", url(moto_server, stream), "--quiet"])

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
