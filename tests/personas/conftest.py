"""Store fixtures: every store test runs on SQLite, and on PostgreSQL when CI provides one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from controller.adapters.storage.db import connect, postgres_driver_url
from controller.adapters.storage.persona_store import PersonaStore
from controller.domain.clock import FixedClock

POSTGRES_URL = os.environ.get("FLEET_TEST_POSTGRES_URL")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own per test: a SQLite file, or a fresh PostgreSQL schema.

    A schema per test (dropped afterwards) lets parallel runs share one PostgreSQL server.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fleet.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(
            "PostgreSQL store tests need FLEET_TEST_POSTGRES_URL "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test); only SQLite ran"
        )
    schema = f"personas_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(postgres_driver_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def version_clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store(database_url: str, version_clock: FixedClock) -> Iterator[PersonaStore]:
    engine = connect(database_url)
    yield PersonaStore(engine, version_clock)
    engine.dispose()
