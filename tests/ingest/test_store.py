"""The metric store: regular series with gaps as gaps, events per type, exact sums, old schema."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from controller.adapters.storage.db import connect
from controller.adapters.storage.ingest_store import IngestStore
from controller.adapters.storage.metric_store import MetricStore
from controller.cli import main
from controller.config import load_config
from controller.domain.errors import ConfigError
from tests.ingest.conftest import START, event_lines, project
from tests.ingest.test_file_ingest import write


def ingest(tmp_path: Path, lines: list[bytes]) -> Path:
    events = write(tmp_path / "events.ndjson", lines)
    config = project(tmp_path)
    assert main(["--config", str(config), "ingest", "--source", f"file://{events}", "--quiet"]) == 0
    return config


def test_series_are_regular_with_silence_as_gaps_not_zeros(tmp_path: Path) -> None:
    early = event_lines(300, per_minute=30, seed=41)  # 08:00 - 08:10
    late = event_lines(300, per_minute=30, seed=42, start=START + timedelta(hours=1))
    config = ingest(tmp_path, early + late)
    engine = connect(load_config(config).sqlalchemy_url)
    try:
        series = MetricStore(engine).series(
            "events", START, START + timedelta(hours=2), timedelta(minutes=1)
        )
    finally:
        engine.dispose()

    assert len(series) == 120
    assert np.nansum(series.values) == 600
    assert not np.isnan(series.values[:10]).any()
    assert np.isnan(series.values[30:50]).all(), "an hour of silence is a gap"
    assert not np.isnan(series.values[60:70]).any()
    assert np.isnan(series.values[100:]).all(), "after the stream ends nothing is known"


def test_resource_series_are_in_their_units_and_filter_by_persona_and_region(
    tmp_path: Path,
) -> None:
    config = ingest(tmp_path, event_lines(2000, seed=43))
    engine = connect(load_config(config).sqlalchemy_url)
    store = MetricStore(engine)
    try:
        window = (START, START + timedelta(hours=1), timedelta(minutes=5))
        cpu = store.series("cpu_ms", *window)
        rows = list(store.rows())
        shopper_eu = store.series(
            "events", *window, persona="peak-hour-shopper", region="eu-west-1"
        )
    finally:
        engine.dispose()
    assert np.nansum(cpu.values) == pytest.approx(sum(r.cpu_ms_milli for r in rows) / 1000)
    expected = sum(
        r.events for r in rows if r.persona == "peak-hour-shopper" and r.region == "eu-west-1"
    )
    assert np.nansum(shopper_eu.values) == expected > 0


def test_events_per_type_add_up_to_the_input_per_type(tmp_path: Path) -> None:
    import json

    lines = event_lines(3000, seed=44)
    config = ingest(tmp_path, lines)
    engine = connect(load_config(config).sqlalchemy_url)
    try:
        stored = MetricStore(engine).events_by_type(START, START + timedelta(days=1))
    finally:
        engine.dispose()
    per_type: Counter[str] = Counter()
    for (_, event_type), n in stored.items():
        per_type[event_type] += n
    assert per_type == Counter(json.loads(line)["event_type"] for line in lines)


@pytest.mark.parametrize(
    ("resource_columns", "message"),
    [
        (  # resource sums as floats
            "cpu_ms FLOAT, memory_mb FLOAT, network_kb FLOAT, io_ops FLOAT",
            "predates exact per-persona metrics",
        ),
        (  # exact sums, but no unusual_sessions column
            "cpu_ms_milli BIGINT, memory_mb_milli BIGINT, network_kb_milli BIGINT, "
            "io_ops_milli BIGINT",
            "predates persona matching",
        ),
    ],
)
def test_a_database_from_before_a_metrics_change_is_refused_with_a_clear_message(
    tmp_path: Path, resource_columns: str, message: str
) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:
        db.execute(
            "CREATE TABLE metrics (bucket BIGINT, persona TEXT, region TEXT, events BIGINT, "
            f"sessions BIGINT, {resource_columns}, PRIMARY KEY (bucket, persona, region))"
        )
    engine = connect(f"sqlite:///{old}")
    try:
        with pytest.raises(ConfigError, match=message):
            IngestStore(engine)
    finally:
        engine.dispose()
