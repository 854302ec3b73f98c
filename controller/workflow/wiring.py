"""The one place that builds the controller from its configuration (Karpenter's controllers.go)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from controller.adapters.event_file import FileEventSource
from controller.adapters.event_source import EventSource, open_event_source
from controller.adapters.rendering import VariableRenderer
from controller.adapters.storage.db import connect
from controller.adapters.storage.ingest_store import IngestStore
from controller.adapters.storage.meta_store import MetaStore
from controller.adapters.storage.metric_store import MetricStore
from controller.adapters.storage.plan_store import PlanStore
from controller.adapters.storage.run_store import RunStore
from controller.adapters.storage.state_store import StateStore
from controller.adapters.terraform.runner import BinaryTerraform, EmbeddedTerraform, TerraformRunner
from controller.adapters.terraform.workspace import TerraformWorkspace
from controller.config import PACKAGE_DIR, ControllerConfig
from controller.domain.clock import Clock, ReplayClock, SystemClock
from controller.domain.errors import ConfigError

REPLAY_POSITION_KEY = "replay_clock_now"
DEFAULT_TEMPLATES = PACKAGE_DIR.parent / "templates"


@dataclass
class Controller:
    config: ControllerConfig
    clock: Clock
    engine: Engine
    source: EventSource
    ingest_store: IngestStore
    metric_store: MetricStore
    run_store: RunStore
    plan_store: PlanStore
    state_store: StateStore
    meta_store: MetaStore
    renderer: VariableRenderer
    workspace: TerraformWorkspace

    @property
    def clock_mode(self) -> str:
        return "replay" if isinstance(self.clock, ReplayClock) else "system"

    def close(self) -> None:
        self.source.close()
        self.engine.dispose()


def build_controller(
    config: ControllerConfig,
    clock: Clock | None = None,
    runner: TerraformRunner | None = None,
    templates: Path = DEFAULT_TEMPLATES,
) -> Controller:
    engine = connect(config.sqlalchemy_url)
    meta_store = MetaStore(engine)
    ingest_store = IngestStore(engine)
    source = _event_source(config.events.source, ingest_store)
    return Controller(
        config=config,
        clock=clock or _clock(config, meta_store, source, ingest_store),
        engine=engine,
        source=source,
        ingest_store=ingest_store,
        metric_store=MetricStore(engine),
        run_store=RunStore(engine),
        plan_store=PlanStore(engine),
        state_store=StateStore(engine, mirror=config.data_dir / "state.json"),
        meta_store=meta_store,
        renderer=VariableRenderer(templates),
        workspace=TerraformWorkspace(
            runner or _runner(config), config.terraform.stack, config.terraform_workdir
        ),
    )


def _event_source(url: str, store: IngestStore) -> EventSource:
    return open_event_source(url, positions=store)


def _runner(config: ControllerConfig) -> TerraformRunner:
    if config.terraform.runner == "binary":
        return BinaryTerraform(config.terraform.binary)
    return EmbeddedTerraform()


def _clock(
    config: ControllerConfig, meta: MetaStore, source: EventSource, ingest: IngestStore
) -> Clock:
    if config.clock.mode == "system":
        return SystemClock()
    saved = meta.get(REPLAY_POSITION_KEY)
    if saved is not None:
        start = datetime.fromisoformat(saved)
    elif config.clock.start is not None:
        start = config.clock.start
    else:
        if not isinstance(source, FileEventSource):
            raise ConfigError(
                f"clock.mode replay: replaying needs a file:// source or clock.start (got {source.url})"
            )
        first = source.first_event_at()
        if first is None:
            raise ConfigError(
                f"clock.mode replay: {source.path} has no valid events to start from; set clock.start"
            )
        start = first + config.clock.lead_in
    return ReplayClock(start, config.clock.step)
