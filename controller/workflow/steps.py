"""The steps of one cycle. Each takes what it needs and returns a typed result; none prints."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from threadpoolctl import threadpool_limits

from controller.adapters.calendar_file import CALENDAR_FILE, load_calendar
from controller.adapters.event_file import FileEventSource
from controller.adapters.persona_files import PersonaFile, load_persona_directory
from controller.adapters.storage.ingest_store import IngestStore
from controller.adapters.storage.metric_store import MetricStore
from controller.allocation.capacity import FleetRule, allocate
from controller.config import ControllerConfig, FleetConfig
from controller.domain.allocation import FleetAllocation
from controller.domain.errors import ConfigError
from controller.domain.forecast import Forecast
from controller.domain.series import floor_time, resample_mean
from controller.forecasting.cold_start import peak_prior
from controller.forecasting.pipeline import forecast_series
from controller.ingest.aggregate import aggregate
from controller.ingest.matching import UNMATCHED, AccessTypeMatcher

QUANTILES = {"mean": None, "p50": 0.5, "p95": 0.95}


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


def ingest(
    config: ControllerConfig,
    personas: PersonaSet,
    source: FileEventSource,
    store: IngestStore,
    now: datetime,
) -> IngestOutcome:
    """Read every event up to `now` in batches; each batch commits with its source position."""
    matcher = AccessTypeMatcher(
        {f.persona.key: f.persona.traffic_pattern.access_types for f in personas.files}
    )
    events = letters = unmatched = sessions = 0
    while True:
        position = store.position(source.url)
        batch = source.read(position.position, until=now, max_events=config.events.max_batch)
        result = aggregate(
            batch.events,
            matcher,
            bucket=config.events.bucket,
            max_silence=config.events.max_silence,
            previous_event_at=position.last_event_at,
        )
        newest = max((e.timestamp for e in batch.events), default=None)
        last = max(filter(None, (newest, position.last_event_at)), default=None)
        if batch.end_position != position.position:
            store.commit_batch(
                source.url, result, batch.dead_letters, batch.end_position, last, now
            )
        events += len(batch.events)
        letters += len(batch.dead_letters)
        unmatched += result.sessions_by_persona.get(UNMATCHED, 0)
        sessions += sum(result.sessions_by_persona.values())
        if len(batch.events) < config.events.max_batch:
            total = store.position(source.url)
            return IngestOutcome(
                events, letters, unmatched, sessions, total.events_total, last, batch.next_event_at
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
    """Per persona: events/s per forecast step -> the automatic forecaster (docs/forecasting.md).

    The calendar (personas/_calendar.yaml) adds campaigns, maintenance and history cut-offs;
    a persona with under two days of history starts from the shape of its peak_times.
    """
    step, bucket = config.forecast.step, config.events.bucket
    factor = int(step / bucket)
    if factor < 1 or step % bucket:
        raise ConfigError(
            f"forecast.step ({step}) must be a whole multiple of events.bucket ({bucket})"
        )
    horizon = math.ceil(config.forecast.horizon / step)
    start = origin - step * math.ceil(config.forecast.history / step)
    calendar = load_calendar(config.personas_dir / CALENDAR_FILE, known_personas=set(personas.keys))
    forecasts = {}
    with threadpool_limits(limits=1):  # small matrices: BLAS threads only contend
        for file in personas.files:
            key = file.persona.key
            per_bucket = metrics.events_per_bucket(key, start, origin, bucket)
            per_second = resample_mean(per_bucket, factor, scale=1 / bucket.total_seconds())
            prior = peak_prior(file.persona.traffic_pattern.peak_times)
            forecasts[key] = forecast_series(per_second, horizon, calendar=calendar, prior=prior)
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
