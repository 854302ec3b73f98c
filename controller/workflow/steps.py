"""The steps of one cycle. Each takes what it needs and returns a typed result; none prints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from controller.adapters.event_source import EventSource
from controller.adapters.persona_files import PersonaFile, load_persona_directory
from controller.adapters.storage.ingest_store import IngestStore
from controller.adapters.storage.metric_store import MetricStore
from controller.allocation.capacity import FleetRule, allocate
from controller.config import ControllerConfig, FleetConfig
from controller.domain.allocation import FleetAllocation
from controller.domain.errors import ConfigError
from controller.domain.forecast import Forecast
from controller.domain.series import floor_time, resample_mean
from controller.forecasting.seasonal_naive import SeasonalNaive
from controller.ingest.matching import AccessTypeMatcher
from controller.workflow.ingestion import IngestSettings, StreamIngestor

QUANTILES = {"mean": None, "p50": 0.5, "p95": 0.95}
DAY = timedelta(days=1)


@dataclass(frozen=True)
class PersonaSet:
    files: tuple[PersonaFile, ...]
    served_by: dict[str, tuple[str, ...]]
    """fleet name -> persona keys it serves"""

    @property
    def keys(self) -> list[str]:
        return [f.persona.key for f in self.files]


def load_personas(config: ControllerConfig) -> PersonaSet:
    fleets = {fleet.name for fleet in config.fleets}
    files = tuple(load_persona_directory(config.personas_dir, known_fleets=fleets))
    keys = {f.persona.key for f in files}
    served: dict[str, set[str]] = {fleet.name: set() for fleet in config.fleets}
    for f in files:
        for fleet in f.persona.fleets:
            served[fleet].add(f.persona.key)
    for index, fleet_config in enumerate(config.fleets):
        for key in fleet_config.personas:
            if key not in keys:
                raise ConfigError(
                    f"fleets.{index}.personas: unknown persona {key!r} "
                    f"(personas in {config.personas_dir}: {', '.join(sorted(keys))})"
                )
            served[fleet_config.name].add(key)
    return PersonaSet(files, {name: tuple(sorted(v)) for name, v in served.items()})


@dataclass(frozen=True)
class IngestOutcome:
    events: int
    dead_letters: int
    unmatched_sessions: int
    sessions: int
    events_total: int
    last_event_at: datetime | None
    next_event_at: datetime | None
    """first event not yet due (replay); None once the source is exhausted"""
    dead_letters_by_kind: dict[str, int] = field(default_factory=dict)


def ingest(
    config: ControllerConfig,
    personas: PersonaSet,
    source: EventSource,
    store: IngestStore,
    now: datetime,
) -> IngestOutcome:
    """Read what the source has (a file: every event up to `now`), batch by batch; each batch
    commits with its partitions' positions. A live stream is read for at most
    events.cycle_budget, and one that stays unreachable that long fails the step (retryable)."""
    matcher = AccessTypeMatcher(
        {f.persona.key: f.persona.traffic_pattern.access_types for f in personas.files}
    )
    budget = config.events.cycle_budget.total_seconds()
    ingestor = StreamIngestor(source, store, matcher, IngestSettings.from_config(config.events))
    run = ingestor.run(
        until=now if source.replayable else None, time_budget_s=budget, retry_budget_s=budget
    )
    stored = store.totals(source.key)
    last = None
    if stored.watermark_ms is not None:
        last = datetime.fromtimestamp(stored.watermark_ms / 1000, UTC)
    return IngestOutcome(
        events=run.events,
        dead_letters=sum(run.dead_letters.values()),
        unmatched_sessions=run.unmatched_sessions,
        sessions=run.sessions,
        events_total=stored.events,
        last_event_at=last,
        next_event_at=run.next_event_at,
        dead_letters_by_kind=dict(run.dead_letters),
    )


def forecast_origin(
    now: datetime, last_event_at: datetime | None, config: ControllerConfig
) -> datetime:
    """Forecasts start after the last complete forecast bucket of data, never after `now`.

    Anchoring on the data rather than the wall clock makes the cycle deterministic: no new
    events means the same forecast, the same variables and a plan with no changes.
    """
    horizon_end = now
    if last_event_at is not None:
        horizon_end = min(
            now, floor_time(last_event_at, config.events.bucket) + config.events.bucket
        )
    return floor_time(horizon_end, config.forecast.step)


def forecast_personas(
    config: ControllerConfig, personas: PersonaSet, metrics: MetricStore, origin: datetime
) -> dict[str, Forecast]:
    step, bucket = config.forecast.step, config.events.bucket
    factor = int(step / bucket)
    if factor < 1 or step % bucket:
        raise ConfigError(
            f"forecast.step ({step}) must be a whole multiple of events.bucket ({bucket})"
        )
    horizon = math.ceil(config.forecast.horizon / step)
    season = max(1, int(DAY / step))
    start = origin - config.forecast.history
    forecasts = {}
    for key in personas.keys:
        per_bucket = metrics.events_per_bucket(key, start, origin, bucket)
        per_second = resample_mean(per_bucket, factor, scale=1 / bucket.total_seconds())
        observed = per_second.values
        first = (
            int(np.argmax(~np.isnan(observed))) if np.any(~np.isnan(observed)) else len(observed)
        )
        prediction = SeasonalNaive(season).fit(observed[first:]).predict(horizon)
        forecasts[key] = Forecast(
            series_id=key,
            origin=origin,
            step=step,
            mean=prediction.mean,
            quantiles=prediction.quantiles,
            model=prediction.model,
            backtest_score=prediction.backtest_mae,
        )
    return forecasts


def fleet_rule(fleet: FleetConfig) -> FleetRule:
    return FleetRule(
        name=fleet.name,
        region=fleet.region,
        instance_type=fleet.instance_type,
        capacity_per_instance=fleet.capacity_per_instance,
        target_utilization=fleet.target_utilization,
        min_size=fleet.min_instances,
        max_size=fleet.max_instances,
        warmup=fleet.warmup,
        quantile_label=fleet.quantile,
        lb_capacity_per_unit=fleet.lb_capacity_per_unit,
    )


def allocate_fleets(
    config: ControllerConfig, personas: PersonaSet, forecasts: dict[str, Forecast], origin: datetime
) -> list[FleetAllocation]:
    allocations = []
    for fleet in config.fleets:
        quantile = QUANTILES[fleet.quantile]
        demand = {key: forecasts[key].level(quantile) for key in personas.served_by[fleet.name]}
        allocations.append(allocate(fleet_rule(fleet), demand, origin, config.forecast.step))
    return allocations
