"""The one place that builds the controller from its configuration (Karpenter's controllers.go)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from controller.adapters.alert_channels import (
    AlertChannel,
    AlertDispatcher,
    LogAlerts,
    WebhookAlerts,
)
from controller.adapters.aws import AwsFleet, AwsSettings
from controller.adapters.aws.sns_alerts import SnsAlerts
from controller.adapters.event_file import FileEventSource
from controller.adapters.event_source import EventSource, open_event_source
from controller.adapters.rendering import VariableRenderer
from controller.adapters.storage.alert_store import AlertStore
from controller.adapters.storage.anomaly_alert_store import AnomalyAlertStore
from controller.adapters.storage.anomaly_store import AnomalyStore
from controller.adapters.storage.db import connect
from controller.adapters.storage.drift_store import DriftStore
from controller.adapters.storage.forecast_store import ForecastStore
from controller.adapters.storage.health_store import HealthStore
from controller.adapters.storage.ingest_store import IngestStore
from controller.adapters.storage.learning_store import LearningStore
from controller.adapters.storage.meta_store import MetaStore
from controller.adapters.storage.metric_store import MetricStore
from controller.adapters.storage.persona_store import PersonaStore
from controller.adapters.storage.plan_store import PlanStore
from controller.adapters.storage.run_store import RunStore
from controller.adapters.storage.state_store import StateStore
from controller.adapters.terraform.runner import BinaryTerraform, EmbeddedTerraform, TerraformRunner
from controller.adapters.terraform.workspace import TerraformWorkspace
from controller.config import PACKAGE_DIR, ControllerConfig
from controller.domain.alert import AlertSink
from controller.domain.clock import Clock, ReplayClock, SystemClock
from controller.domain.cloud import FleetCloud
from controller.domain.errors import ConfigError

REPLAY_POSITION_KEY = "replay_clock_now"
DEFAULT_TEMPLATES = PACKAGE_DIR.parent / "templates"


class RegionalClouds:
    """FleetCloud per region, each built on first use (no AWS client unless one is needed)."""

    def __init__(self, make: Callable[[str], FleetCloud]) -> None:
        self._make = make
        self._built: dict[str, FleetCloud] = {}

    def __call__(self, region: str) -> FleetCloud:
        if region not in self._built:
            self._built[region] = self._make(region)
        return self._built[region]


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
    persona_store: PersonaStore
    forecast_store: ForecastStore
    renderer: VariableRenderer
    workspace: TerraformWorkspace
    drift_store: DriftStore
    alert_store: AlertStore
    health_store: HealthStore
    cloud: RegionalClouds
    """region -> FleetCloud (AwsFleet unless a test injects another)"""
    alert_sinks: list[AlertSink]
    """where alerts are delivered; a log line by default (controller.workflow.alerts)"""
    learning_store: LearningStore
    """what the feedback loop learned: model choices, bias corrections, resource profiles"""
    anomaly_store: AnomalyStore
    anomaly_alerts: AlertDispatcher
    """anomaly alerts: the log always, a webhook and SNS when configured"""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    """waits between retries; tests inject a recorder instead of sleeping"""

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
    cloud: Callable[[str], FleetCloud] | None = None,
    alert_sinks: list[AlertSink] | None = None,
) -> Controller:
    from controller.workflow.alerts import LogAlertSink

    engine = connect(config.sqlalchemy_url)
    meta_store = MetaStore(engine)
    ingest_store = IngestStore(engine)
    source = _event_source(config.events.source, ingest_store)
    clock = clock or _clock(config, meta_store, source, ingest_store)
    return Controller(
        config=config,
        clock=clock,
        engine=engine,
        source=source,
        ingest_store=ingest_store,
        metric_store=MetricStore(engine),
        run_store=RunStore(engine),
        plan_store=PlanStore(engine),
        state_store=StateStore(engine, mirror=config.data_dir / "state.json"),
        meta_store=meta_store,
        persona_store=PersonaStore(engine, clock),
        forecast_store=ForecastStore(engine),
        renderer=VariableRenderer(templates),
        workspace=TerraformWorkspace(
            runner or _runner(config), config.terraform.stack, config.terraform_workdir
        ),
        drift_store=DriftStore(engine),
        alert_store=AlertStore(engine),
        health_store=HealthStore(engine),
        cloud=RegionalClouds(cloud or _aws(config)),
        alert_sinks=alert_sinks if alert_sinks is not None else [LogAlertSink()],
        learning_store=LearningStore(engine),
        anomaly_store=AnomalyStore(engine),
        anomaly_alerts=AlertDispatcher(AnomalyAlertStore(engine), _anomaly_channels(config)),
    )


def _anomaly_channels(config: ControllerConfig) -> list[AlertChannel]:
    settings = config.anomalies
    channels: list[AlertChannel] = [LogAlerts()]
    if settings.webhook_url:
        channels.append(WebhookAlerts(settings.webhook_url))
    if settings.sns_topic_arn:
        channels.append(SnsAlerts(settings.sns_topic_arn, endpoint_url=config.aws.endpoint_url))
    return channels


def _aws(config: ControllerConfig) -> Callable[[str], FleetCloud]:
    aws = config.aws

    def make(region: str) -> FleetCloud:
        return AwsFleet(
            AwsSettings(
                region=region,
                endpoint_url=aws.endpoint_url,
                max_attempts=aws.max_attempts,
                connect_timeout_s=aws.connect_timeout.total_seconds(),
                read_timeout_s=aws.read_timeout.total_seconds(),
            )
        )

    return make


def _event_source(url: str, store: IngestStore) -> EventSource:
    return open_event_source(url, positions=store)


def _runner(config: ControllerConfig) -> TerraformRunner:
    if config.terraform.runner == "binary":
        return BinaryTerraform(config.terraform.binary)
    return EmbeddedTerraform()


def resume_replay_position(controller: Controller) -> None:
    """Catch the replay clock up with the position last saved in the database.

    The clock is read from the database once, when the controller is built; since then another
    daemon (before a failover) or a one-shot `fleetctl cycle` may have moved it on. Only the
    lease holder runs cycles, so what is saved now is the latest: continuing from it means
    simulated time never goes backwards.
    """
    clock = controller.clock
    saved = controller.meta_store.get(REPLAY_POSITION_KEY)
    if isinstance(clock, ReplayClock) and saved is not None:
        clock.catch_up(datetime.fromisoformat(saved))


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
