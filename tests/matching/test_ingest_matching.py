"""The matcher inside ingestion: clear cases, the unmatched path, unusual resource use, learning
kept per persona version and in force after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from controller.adapters.storage.db import connect
from controller.adapters.storage.matcher_store import MatcherStore
from controller.adapters.storage.metric_store import Measure, MetricStore
from controller.adapters.storage.persona_store import PersonaStore
from controller.cli import main
from controller.config import load_config
from controller.domain.clock import SystemClock
from controller.matching.drift import drift
from controller.workflow.ingestion import open_ingestion
from controller.workflow.persona_matching import (
    matcher_in_force,
    matcher_learned,
    personas_in_force,
)
from tests.ingest.conftest import project
from tests.ingest.test_file_ingest import write
from tests.matching.sessions import (
    HEAVY_IO_SHOPPING,
    START,
    by_time,
    publisher,
    session,
    shopper,
    stranger,
)

SHOPPER, PUBLISHER = "peak-hour-shopper", "content-publisher"
HOUR = (START, START + timedelta(hours=1), timedelta(hours=1))


def ingested(tmp_path: Path, lines: list[bytes]) -> Path:
    config = project(tmp_path)
    events = write(tmp_path / "events.ndjson", lines)
    assert main(["--config", str(config), "ingest", "--source", f"file://{events}", "--quiet"]) == 0
    return config


@contextmanager
def engine_of(config: Path) -> Iterator[Engine]:
    engine = connect(load_config(config).sqlalchemy_url)
    try:
        yield engine
    finally:
        engine.dispose()


def total(config: Path, measure: Measure, persona: str) -> float:
    with engine_of(config) as engine:
        return float(np.nansum(MetricStore(engine).series(measure, *HOUR, persona=persona).values))


def closing(lines: list[bytes]) -> list[bytes]:
    """The sessions, then one event two hours later: the stream moves on and they complete."""
    later = shopper("late-visitor", START + timedelta(hours=2))[:1]
    return by_time(lines, later)


def test_clear_sessions_count_for_their_personas_and_a_stranger_for_unmatched(
    tmp_path: Path,
) -> None:
    lines = by_time(shopper("alice"), shopper("bob"), publisher("carol"), stranger("mallory"))
    config = ingested(tmp_path, lines)

    assert total(config, "events", SHOPPER) == 8
    assert total(config, "sessions", SHOPPER) == 2
    assert total(config, "events", PUBLISHER) == 4
    assert total(config, "sessions", PUBLISHER) == 1
    assert total(config, "events", "unmatched") == 3
    assert total(config, "sessions", "unmatched") == 1


def test_a_matched_session_with_eight_times_the_io_is_counted_as_unusual(tmp_path: Path) -> None:
    odd = session("heavy", ["browse", "search", "purchase"], HEAVY_IO_SHOPPING, "eu-west-1")
    config = ingested(tmp_path, by_time(shopper("alice"), odd, publisher("carol")))

    assert total(config, "sessions", SHOPPER) == 2, "still matched to its persona"
    assert total(config, "unusual_sessions", SHOPPER) == 1
    assert total(config, "unusual_sessions", PUBLISHER) == 0
    assert total(config, "unusual_sessions", "unmatched") == 0


def test_learning_moves_the_parameters_toward_the_data_per_persona_version(
    tmp_path: Path,
) -> None:
    # every shopper shops from eu-west-1, which the definition says is 30% of them
    shoppers = [shopper(f"u{i}", START + timedelta(seconds=7 * i)) for i in range(60)]
    config = project(tmp_path)
    assert main(["--config", str(config), "personas", "sync", str(tmp_path / "personas")]) == 0
    events = write(tmp_path / "events.ndjson", closing(by_time(*shoppers)))
    assert main(["--config", str(config), "ingest", "--source", f"file://{events}", "--quiet"]) == 0

    loaded = load_config(config)
    with engine_of(config) as engine:
        store = MatcherStore(engine)
        personas = personas_in_force(loaded, PersonaStore(engine, SystemClock()))
        learned = store.learned()
        assert learned[(SHOPPER, 1)]["sessions"][0] == pytest.approx(60, abs=0.5)
        assert store.adopted() == learned, "a finished run puts what it learned in force"
        shift = {d.persona: d for d in drift(matcher_learned(loaded, store, personas))}[SHOPPER]
        declared, now = shift.regions["eu-west-1"]
        assert declared == pytest.approx(0.3, abs=0.01)
        assert now > 0.6, "pulled toward the 100% observed"

        edited = PersonaStore(engine, SystemClock())
        definition = edited.get_persona(SHOPPER).persona.model_copy(
            update={"associated_tags": ["x"]}
        )
        assert edited.update_persona(SHOPPER, definition, 1).version == 2
        fresh = matcher_in_force(loaded, store, personas_in_force(loaded, edited))
    assert fresh.learned is not None
    row = fresh.declared.keys.index(SHOPPER)
    assert fresh.learned.sessions[row] == 0, "a new version starts from its definition"
    assert np.allclose(fresh.parameters().log_region[row], fresh.declared.log_region[row])


def test_what_was_learned_is_in_force_after_a_restart(tmp_path: Path) -> None:
    shoppers = [shopper(f"u{i}", START + timedelta(seconds=7 * i)) for i in range(30)]
    config = ingested(tmp_path, closing(by_time(*shoppers)))

    restarted = open_ingestion(load_config(config))
    try:
        matcher = restarted.ingestor.classifier.matcher
    finally:
        restarted.close()
    row = matcher.declared.keys.index(SHOPPER)
    assert matcher.learned is not None and matcher.learned.sessions[row] > 29
    assert not np.allclose(matcher.parameters().log_region[row], matcher.declared.log_region[row])


def test_the_daemons_ingest_step_learns_and_puts_it_in_force_for_the_next_cycle(
    tmp_path: Path,
) -> None:
    from controller.domain.clock import FixedClock
    from controller.workflow import steps
    from controller.workflow.wiring import build_controller
    from tests.helpers import make_project

    shoppers = [shopper(f"u{i}", START + timedelta(seconds=7 * i)) for i in range(30)]
    events = write(tmp_path / "events.ndjson", closing(by_time(*shoppers)))
    loaded = load_config(make_project(tmp_path / "project"))
    config = loaded.model_copy(
        update={"events": loaded.events.model_copy(update={"source": f"file://{events}"})}
    )
    controller = build_controller(config, clock=FixedClock(START + timedelta(hours=3)))
    try:
        personas = steps.load_personas(config)
        steps.ingest(
            config, personas, controller.source, controller.ingest_store, controller.clock.now()
        )
        adopted = MatcherStore(controller.ingest_store.engine).adopted()
    finally:
        controller.close()
    assert adopted[(SHOPPER, 1)]["sessions"][0] == pytest.approx(30, abs=0.5)
