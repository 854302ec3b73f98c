"""The schema and the engine. Times are stored as integer Unix seconds (UTC) for portability."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from controller.domain.errors import InputError

metadata = MetaData()

metrics = Table(
    "metrics",
    metadata,
    Column("bucket", BigInteger, primary_key=True),
    Column("persona", String(120), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("events", BigInteger, nullable=False),
    Column("sessions", BigInteger, nullable=False),
    # Resource sums in integer thousandths of their unit: additive upserts from any number of
    # batches and processes stay exact (floats would depend on the order of addition).
    Column("cpu_ms_milli", BigInteger, nullable=False),
    Column("memory_mb_milli", BigInteger, nullable=False),
    Column("network_kb_milli", BigInteger, nullable=False),
    Column("io_ops_milli", BigInteger, nullable=False),
    # sessions matched to the persona with resource use far outside its profile (issue 5)
    Column("unusual_sessions", BigInteger, nullable=False),
)

metric_event_types = Table(
    "metric_event_types",
    metadata,
    Column("bucket", BigInteger, primary_key=True),
    Column("persona", String(120), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("event_type", String(64), primary_key=True),
    Column("events", BigInteger, nullable=False),
)

coverage = Table(
    "stream_coverage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
)

stream_partitions = Table(
    "stream_partitions",
    metadata,
    # One row per partition of a source (a file has one; Kafka partitions, Kinesis shards).
    # Written in the same transaction as the aggregates it produced: exactly-once.
    Column("source", Text, primary_key=True),
    Column("partition", String(128), primary_key=True),
    Column("position", Text, nullable=False),
    Column("watermark_ms", BigInteger),
    Column("events_total", BigInteger, nullable=False),
    Column("dead_letters_total", BigInteger, nullable=False),
    Column("sessions", LargeBinary, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("position", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
)

cycle_runs = Table(
    "cycle_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("clock_now", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("summary", Text),
)

cycle_steps = Table(
    "cycle_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cycle_id", Integer, nullable=False, index=True),
    Column("step", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("detail", Text),
    Column("error", Text),
)

state_documents = Table(
    "state_documents",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
)

plans = Table(
    "plans",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("cycle_id", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("status", String(24), nullable=False),
    Column("summary", Text, nullable=False),
    Column("variables", Text, nullable=False),
)

drift_findings = Table(
    "drift_findings",
    metadata,
    Column("view", String(16), primary_key=True),
    Column("resource", String(400), primary_key=True),
    Column("attribute", String(200), primary_key=True),
    Column("classification", String(16), nullable=False),
    Column("fleets", Text, nullable=False),
    Column("applied", Text, nullable=False),
    Column("live", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("since", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
)

drift_checks = Table(
    "drift_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("view", String(16), nullable=False, index=True),
    Column("checked_at", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("findings", Integer, nullable=False),
    Column("drift", Integer, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(700), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("opened_message", Text, nullable=False),
    Column("opened_sent_at", BigInteger),
    Column("resolved_at", BigInteger),
    Column("resolved_message", Text),
    Column("resolved_sent_at", BigInteger),
)

fleet_health = Table(
    "fleet_health",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fleet", String(120), nullable=False, index=True),
    Column("plan_id", String(64), nullable=False),
    Column("checked_at", BigInteger, nullable=False),
    Column("window_complete", Integer, nullable=False),
    Column("record", Text, nullable=False),
)

persona_learning = Table(
    "persona_learning",
    metadata,
    # What the matcher learned per persona version (controller.matching.model.learned_rows as
    # JSON). `statistics` grows with every ingest batch, in the batch's own transaction (each
    # complete session teaches once); `adopted` is the copy in force, taken after a finished
    # ingest run, so classification does not depend on where batches or restarts fell.
    Column("persona", String(120), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("statistics", Text, nullable=False),
    Column("adopted", Text),
    Column("updated_at", BigInteger, nullable=False),
)

controller_meta = Table(
    "controller_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def connect(url: str) -> Engine:
    """Engine for `url`, creating the SQLite file's directory and every table."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(postgres_driver_url(url), pool_pre_ping=True)
    _create_tables(engine)
    return engine


def store_exists(url: str) -> bool:
    """Whether `url` holds a store already (looking creates nothing)."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).is_file()
    engine = create_engine(postgres_driver_url(url), pool_pre_ping=True)
    try:
        return inspect(engine).has_table(state_documents.name)
    finally:
        engine.dispose()


def connect_existing(url: str) -> Engine:
    """Engine for a store that must be there already: commands that only read say so when it
    is not, instead of creating an empty one (a typo in data_dir would otherwise leave a new
    store behind and report "nothing yet")."""
    if store_exists(url):
        return connect(url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        raise InputError(
            f"no store at {path} (data_dir {path.parent}): run `fleetctl cycle` first "
            "(or `fleetctl ingest`), or check --config and data_dir"
        )
    shown = make_url(postgres_driver_url(url)).render_as_string(hide_password=True)
    raise InputError(
        f"no store in {shown}: run `fleetctl cycle` first (or `fleetctl ingest`), or check "
        "database_url"
    )


def _create_tables(engine: Engine) -> None:
    """Every table, however many processes open a new store at once (two ingesters, the daemon
    and a command). `create_all` looks, then creates: another process may create a table in
    between, and the CREATE fails. Looking again then finds it; each retry gets past at least
    the table it lost."""
    for attempt in range(len(metadata.tables) + 1):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError as exc:
            text = str(exc.orig)
            created_meanwhile = "already exists" in text or (
                "duplicate key" in text and "pg_type" in text  # PostgreSQL's form of it
            )
            if not created_meanwhile or attempt == len(metadata.tables):
                raise


def postgres_driver_url(url: str) -> str:
    """A plain postgresql:// URL with the driver that is installed.

    SQLAlchemy 2.1 maps postgresql:// to psycopg 3, which the `postgres` and `test` extras
    install; a machine that only has psycopg2 still connects with the same URL.
    """
    if not url.startswith("postgresql://") or find_spec("psycopg") is not None:
        return url
    if find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        _write_ahead_log(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _write_ahead_log(cursor: Any, patience_s: float = 30.0) -> None:
    """WAL, once per file (it stays WAL). Switching needs the file to itself and SQLite says
    "database is locked" at once, without waiting, while another process opens it too: so
    wait here, as `timeout` waits for every other lock."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def upsert(engine: Engine, table: Table) -> sqlite.Insert:
    """The dialect's INSERT that supports ON CONFLICT (SQLite and PostgreSQL).

    Typed as SQLite's: both dialects offer the same `excluded` / `on_conflict_do_update`.
    """
    if engine.dialect.name == "postgresql":
        return cast(sqlite.Insert, postgresql.insert(table))
    return sqlite.insert(table)


def to_epoch(when: datetime) -> int:
    return int(when.timestamp())


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
