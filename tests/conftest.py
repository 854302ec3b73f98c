from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from controller.config import ControllerConfig, load_config
from controller.domain.clock import FixedClock
from controller.workflow.wiring import Controller, build_controller
from tests.helpers import ROOT, START, daily_trace, make_project, write_event_file


@pytest.fixture(scope="session")
def two_day_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of synthetic events (~3 per minute, daily cycle), shared read-only."""
    path = tmp_path_factory.mktemp("events") / "two-days.ndjson"
    write_event_file(path, daily_trace(days=2, mean_per_minute=3), ROOT / "personas")
    return path


@pytest.fixture
def project(tmp_path: Path, two_day_events: Path) -> Path:
    """A project in tmp_path whose controller.yaml points at the shared two-day events."""
    return make_project(tmp_path, events=two_day_events)


@pytest.fixture
def config(project: Path) -> ControllerConfig:
    return load_config(project)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START + timedelta(days=2, hours=1))


@pytest.fixture
def controller(config: ControllerConfig, clock: FixedClock) -> Iterator[Controller]:
    built = build_controller(config, clock=clock)
    yield built
    built.close()


@pytest.fixture(scope="module")
def planned_project(tmp_path_factory: pytest.TempPathFactory, two_day_events: Path) -> Path:
    """A project after `fleetctl plan` (a cycle that applied nothing) and an ingest: a store with
    a state document, a run, metrics and dead letters. Shared by a module's tests: read only."""
    config = make_project(tmp_path_factory.mktemp("planned"), events=two_day_events)
    for args in (["plan"], ["ingest", "--quiet"]):
        done = subprocess.run(
            [sys.executable, "-m", "controller.cli", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    return config
