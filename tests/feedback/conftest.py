from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, and a schema of FLEET_TEST_POSTGRES_URL when set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fleet.db'}"
        return
    base = os.environ.get("FLEET_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("FLEET_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against")
    from controller.adapters.storage.db import connect

    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = connect(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()
