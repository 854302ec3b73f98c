"""The steps of one cycle. Each takes what it needs and returns a typed result; none prints."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from threadpoolctl import threadpool_limits

from controller.adapters.calendar_file import CALENDAR_FILE, load_calendar
from controller.adapters.event_source import EventSource
from controller.adapters.persona_files import PersonaFile, load_persona_directory
from controller.adapters.storage.ingest_store import IngestStore
from controller.adapters.storage.matcher_store import MatcherStore
from controller.adapters.storage.metric_store import MetricStore, sessions_per_bucket
from controller.adapters.storage.persona_store import PersonaStore
from controller.allocation.capacity import FleetRule, allocate
from controller.allocation.catalog import Catalog, load_catalog
from controller.allocation.demand import (
    FleetDemand,
    FleetPlacement,
    PersonaDemand,
    Profile,
    fleet_demands,
)
from controller.allocation.load_balancers import allocate_load_balancers
from controller.allocation.warm_pool import WarmPoolRule, burst_quantile
from controller.config import ControllerConfig, FleetConfig
from controller.domain.allocation import FleetAllocation, LoadBalancerAllocation
from controller.domain.calendar import Calendar
from controller.domain.errors import ConfigError
from controller.domain.forecast import Forecast
from controller.domain.persona import Persona, ResourceProfile
from controller.domain.series import FloatArray, Series, floor_time, resample_mean
from controller.forecasting.auto import Selection
from controller.forecasting.cold_start import peak_prior
from controller.forecasting.pipeline import Learned, forecast_with_selection
from controller.workflow.ingestion import adopt_learning, configured_ingestor
from controller.workflow.persona_matching import PersonaVersions, matcher_in_force
from controller.workflow.persona_sync import sync_personas

QUANTILES = {"mean": None, "p50": 0.5, "p95": 0.95}


@dataclass(frozen=True)
class PersonaSet:
    files: tuple[PersonaFile, ...]
    served_by: dict[str, tuple[str, ...]]
    """fleet name -> persona keys it serves"""
    versions: dict[str, int] = field(default_factory=dict)
    """persona key -> store version in force (empty when loaded without a store)"""

    @property
    def keys(self) -> list[str]:
        return [f.persona.key for f in self.files]


def load_personas(config: ControllerConfig, store: PersonaStore | None = None) -> PersonaSet:
    """The personas in force; with a store, the directory is synced into it first (GitOps)."""
    fleets = {fleet.name for fleet in config.fleets}
    versions: dict[str, int] = {}
    if store is not None:
        synced = sync_personas(
            store, config.personas_dir, fleets, max_file_bytes=config.personas.max_file_bytes
        )
        files, versions = synced.files, synced.versions
    else:
        files = tuple(
            load_persona_directory(config.personas_dir, fleets, config.personas.max_file_bytes)
        )
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
    return PersonaSet(files, {name: tuple(sorted(v)) for name, v in served.items()}, versions)


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
    versions = PersonaVersions(
        tuple(f.persona for f in personas.files),
        tuple(personas.versions.get(f.persona.key, 1) for f in personas.files),
    )
    matcher = matcher_in_force(config, MatcherStore(store.engine), versions)
    budget = config.events.cycle_budget.total_seconds()
    run = configured_ingestor(config, source, store, matcher).run(
        until=now if source.replayable else None, time_budget_s=budget, retry_budget_s=budget
    )
    adopt_learning(store)
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
    calendar = persona_calendar(config, personas)
    forecasts = {}
    with threadpool_limits(limits=1):  # small matrices: BLAS threads only contend
        for file in personas.files:
            forecast, _ = forecast_persona(config, file, metrics, origin, calendar)
            forecasts[file.persona.key] = forecast
    return forecasts


def persona_calendar(config: ControllerConfig, personas: PersonaSet) -> Calendar:
    return load_calendar(
        config.personas_dir / CALENDAR_FILE,
        known_personas=set(personas.keys),
        max_file_bytes=config.personas.max_file_bytes,
    )


def forecast_persona(
    config: ControllerConfig,
    file: PersonaFile,
    metrics: MetricStore,
    origin: datetime,
    calendar: Calendar,
    learned: Learned | None = None,
) -> tuple[Forecast, Selection]:
    """One persona's forecast from `origin` (and the model selection behind it); `learned`:
    what the feedback loop adds (re-calibrated bands, bias correction, kept model)."""
    step = config.forecast.step
    horizon = math.ceil(config.forecast.horizon / step)
    start = origin - step * math.ceil(config.forecast.history / step)
    key = file.persona.key
    per_second = persona_rate(config, metrics, key, start, origin)
    prior = peak_prior(file.persona.traffic_pattern.peak_times)
    return forecast_with_selection(
        per_second, horizon, calendar=calendar, prior=prior, learned=learned
    )


def persona_rate(
    config: ControllerConfig, metrics: MetricStore, key: str, start: datetime, end: datetime
) -> Series:
    """A persona's events per second per forecast step (NaN = gap): what the forecaster learns
    from, and what the feedback step scores forecasts against."""
    bucket, step = config.events.bucket, config.forecast.step
    per_bucket = metrics.events_per_bucket(key, start, end, bucket)
    return resample_mean(per_bucket, int(step / bucket), scale=1 / bucket.total_seconds())


def fleet_rule(
    fleet: FleetConfig,
    catalog: Catalog | None = None,
    in_force: str | None = None,
    index: int = 0,
) -> FleetRule:
    """The allocator's rule for fleets[index]; `in_force` is the instance type last applied."""
    catalog = catalog or load_catalog()
    allowed = tuple(fleet.allowed_instance_types or catalog.names("x86_64"))
    unknown = [name for name in (*allowed, fleet.instance_type) if catalog.get(name) is None]
    if unknown:
        key = "allowed_instance_types" if unknown[0] in allowed else "instance_type"
        raise ConfigError(
            f"fleets.{index}.{key}: {unknown[0]!r} is not in the instance type catalog "
            f"(known: {', '.join(catalog.names())})"
        )
    return FleetRule(
        name=fleet.name,
        region=fleet.region,
        allowed_types=allowed,
        instance_type=in_force if in_force and catalog.get(in_force) else fleet.instance_type,
        target_utilization=fleet.target_utilization,
        min_size=fleet.min_instances,
        max_size=fleet.max_instances,
        warmup=fleet.warmup,
        quantile_label=fleet.quantile,
        type_change_min_saving=fleet.type_change_min_saving,
        scale_in_stabilization=fleet.scale_in_stabilization,
        scale_in_rate=fleet.scale_in_rate,
        max_capacity_breach=fleet.max_capacity_breach,
        max_capacity_buffer=fleet.max_capacity_buffer,
        schedule_horizon=fleet.schedule_horizon,
        load_balancer=fleet.load_balancer,
        warm_pool=_warm_pool_rule(fleet),
    )


def _warm_pool_rule(fleet: FleetConfig) -> WarmPoolRule | None:
    pool = fleet.warm_pool
    if not pool.enabled:
        return None
    return WarmPoolRule(
        pool_state=pool.pool_state,
        min_size=pool.min_size,
        max_prepared=None if pool.max_prepared == "auto" else pool.max_prepared,
        reuse_on_scale_in=pool.reuse_on_scale_in,
        volume_gib=pool.volume_gib,
        usd_per_gib_month=pool.volume_usd_per_gib_month,
    )


@dataclass(frozen=True)
class SessionStats:
    """How a persona's forecast of events/s becomes active sessions, measured in the store."""

    sessions_per_event_rate: float
    """mean active sessions per bucket / mean events per second, over the history window"""
    recent: np.ndarray
    """active sessions per forecast step (mean of buckets), most recent last, ending at origin"""


RECENT = timedelta(hours=2)


def session_stats(
    config: ControllerConfig, personas: PersonaSet, metrics: MetricStore, origin: datetime
) -> dict[str, SessionStats]:
    """Per persona: the measured sessions-per-(event/s) factor and recent active sessions."""
    bucket, step = config.events.bucket, config.forecast.step
    start = origin - config.forecast.history
    stats = {}
    for key in personas.keys:
        sessions = sessions_per_bucket(metrics, key, start, origin, bucket)
        events = metrics.events_per_bucket(key, start, origin, bucket)
        seen = ~np.isnan(sessions.values) & ~np.isnan(events.values)
        event_rate = float(np.sum(events.values[seen])) / bucket.total_seconds()
        factor = float(np.sum(sessions.values[seen])) / event_rate if event_rate > 0 else 0.0
        tail = int(RECENT / bucket)
        recent_series = sessions.values[-tail:] if tail else sessions.values[:0]
        per_step = max(1, int(step / bucket))
        whole = len(recent_series) // per_step * per_step
        blocks = recent_series[len(recent_series) - whole :].reshape(-1, per_step)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-gap block is NaN, on purpose
            means = np.nanmean(blocks, axis=1) if blocks.size else np.zeros(0)
        stats[key] = SessionStats(factor, np.asarray(means, dtype=np.float64))
    return stats


@dataclass(frozen=True)
class AllocationSet:
    fleets: list[FleetAllocation]
    load_balancers: list[LoadBalancerAllocation]


def allocate_fleets(
    config: ControllerConfig,
    personas: PersonaSet,
    forecasts: dict[str, Forecast],
    origin: datetime,
    sessions: dict[str, SessionStats] | None = None,
    in_force: dict[str, str] | None = None,
    lb_units_in_force: dict[str, int] | None = None,
    learned_profiles: Mapping[str, ResourceProfile | Profile] | None = None,
    catalog: Catalog | None = None,
    capacity_in_force: Mapping[str, int] | None = None,
) -> AllocationSet:
    """Forecast events/s x measured sessions per (event/s) = sessions; x profile = demand.

    `sessions` defaults to one session per event/s when no measurement is given (tests).
    `capacity_in_force`: per fleet, the capacity the applied schedule holds now; bounded
    scale-in steps start from it, so re-planning every cycle cannot skip them.
    """
    catalog = catalog or load_catalog()
    step = config.forecast.step
    in_force = in_force or {}
    learned_profiles = learned_profiles or {}
    by_key = {f.persona.key: f.persona for f in personas.files}
    groups: dict[tuple[str, timedelta], list[FleetConfig]] = {}
    position = {fleet.name: index for index, fleet in enumerate(config.fleets)}
    for fleet in config.fleets:
        groups.setdefault((fleet.quantile, fleet.scale_in_stabilization), []).append(fleet)
    results: dict[str, FleetAllocation] = {}
    demands = {}
    for (quantile_label, window), fleets in groups.items():
        quantile = QUANTILES[quantile_label]
        keys = sorted({k for fleet in fleets for k in personas.served_by[fleet.name]})
        inputs = _DemandInputs(by_key, sessions or {}, learned_profiles, window, step)
        served = {f.name: personas.served_by[f.name] for f in fleets}
        placements = [FleetPlacement(f.name, f.region) for f in fleets]
        rates = {key: forecasts[key].level(quantile) for key in keys}
        group_demands = fleet_demands(inputs.personas(rates), served, placements)
        demands.update(group_demands)
        burst: tuple[str, dict[str, FleetDemand]] | None = None
        if any(f.warm_pool.enabled for f in fleets):
            label, upper = burst_rates(forecasts, keys, quantile)
            burst = (label, fleet_demands(inputs.personas(upper), served, placements))
        for fleet in fleets:
            rule = fleet_rule(fleet, catalog, in_force.get(fleet.name), position[fleet.name])
            results[fleet.name] = allocate(
                rule,
                group_demands[fleet.name],
                origin,
                step,
                catalog,
                (capacity_in_force or {}).get(fleet.name),
                None if burst is None else (burst[0], burst[1][fleet.name]),
            )
    ordered = [results[f.name] for f in config.fleets]
    fleets_out, balancers = allocate_load_balancers(ordered, demands, lb_units_in_force)
    return AllocationSet(fleets_out, balancers)


@dataclass(frozen=True)
class _DemandInputs:
    """What turns a persona's forecast events/s into its demand, besides the rate itself."""

    by_key: Mapping[str, Persona]
    sessions: Mapping[str, SessionStats]
    learned_profiles: Mapping[str, ResourceProfile | Profile]
    window: timedelta
    step: timedelta

    def personas(self, rates: Mapping[str, FloatArray]) -> list[PersonaDemand]:
        return [self._persona(key, level) for key, level in rates.items()]

    def _persona(self, key: str, level: FloatArray) -> PersonaDemand:
        persona = self.by_key[key]
        stats = self.sessions.get(key)
        factor = stats.sessions_per_event_rate if stats else 1.0
        rate = np.maximum(np.nan_to_num(level, nan=0.0), 0.0)
        learned = self.learned_profiles.get(key)
        profile = _profile(learned or persona.resource_profile)
        observed = None
        if stats is not None:
            steps_back = max(1, int(self.window / self.step))
            recent = stats.recent[-steps_back:]
            if recent.size and np.any(~np.isnan(recent)):
                observed = float(np.nanmax(recent))
        return PersonaDemand(
            key=key,
            sessions=rate * factor,
            requests_per_s=rate,
            profile=profile,
            profile_source="learned" if learned else "declared",
            regions=persona.traffic_pattern.geographic_distribution,
            observed_sessions=observed,
            note=f"sessions = events/s x {factor:.1f} measured"
            if stats
            else "sessions = events/s (no measured factor)",
        )


def burst_rates(
    forecasts: Mapping[str, Forecast], keys: list[str], quantile: float | None
) -> tuple[str, dict[str, FloatArray]]:
    """Each persona's events/s at its highest stored quantile (0.975 with the daemon's 95 %
    interval; never below the fleet's own), which sizes warm pools, and a label naming the
    lowest quantile so used, so a reason never overstates it."""
    chosen: dict[str, float | None] = {}
    for key in keys:
        chosen[key] = burst_quantile(forecasts[key].quantiles, quantile)
    used = [q for q in chosen.values() if q is not None]
    label = f"p{min(used) * 100:g}" if used else "mean"
    return label, {key: forecasts[key].level(q) for key, q in chosen.items()}


def _profile(profile: ResourceProfile | Profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    return Profile(
        profile.cpu_demand,
        float(profile.memory_demand),
        float(profile.network_bandwidth),
        float(profile.io_operations),
    )
