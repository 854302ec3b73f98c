"""The cycle's anomaly step: detect in the data just ingested, track across cycles, alert, and
decide the mitigations the allocation and the variables then carry.

Runs after forecast/feedback (so the forecasts in force over the window are stored) and before
allocate. Times are the data's (the forecast origin), not the wall clock's, so a replay and a
lagging stream judge the same stretch the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from controller.adapters.storage.anomaly_store import AnomalyStore
from controller.adapters.storage.forecast_store import ForecastStore
from controller.adapters.storage.metric_store import MetricStore
from controller.allocation.capacity import with_desired
from controller.anomaly.band import ExpectedBand, band_in_force
from controller.anomaly.detect import (
    Thresholds,
    outside_interval,
    seasonal_burst,
    traffic_vanished,
    trailing_median,
    unmatched_spike,
    unusual_session_rate,
    weekend_days,
)
from controller.anomaly.mitigation import (
    AllocationOverride,
    Policy,
    apply_override,
    overrides_for,
    throttle_limits,
)
from controller.anomaly.records import ANOMALY_KINDS, Anomaly, AnomalyKind, Finding, track
from controller.config import AnomaliesConfig, ControllerConfig
from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.ingest.matching import UNMATCHED
from controller.workflow.steps import AllocationSet, PersonaSet, fleet_rule, persona_rate
from controller.workflow.wiring import Controller

LOOKBACK = timedelta(hours=2)
"""how much recent data each cycle re-reads (findings already reported are not reopened)"""
SEASONAL_HISTORY = timedelta(days=7)
DAY = timedelta(days=1)
"""per-bucket history the seasonal second opinion compares the same time of day with"""
RATE_BASELINE = timedelta(hours=2)
"""unmatched (and unusual) sessions per minute are compared with their median over this"""
EXPECTED_CLIENT_WINDOW = timedelta(days=1)
"""per-client request rates for throttling are measured over this, before the anomaly window"""
RESOLVED_SHOWN = timedelta(days=1)
MIN_STEPS = 2


@dataclass(frozen=True)
class AnomalyOutcome:
    anomalies: tuple[Anomaly, ...]
    """unresolved ones and those resolved this cycle"""
    overrides: tuple[AllocationOverride, ...] = ()
    rate_limits: dict[str, int] = field(default_factory=dict)
    """fleet -> requests per 5 minutes per client (the `anomaly_rate_limits` variable)"""
    alert_problems: tuple[str, ...] = ()
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """anomaly id -> the mitigations in force because of it"""

    def describe(self) -> str:
        live = [a for a in self.anomalies if a.status != "resolved"]
        parts = [f"{len(live)} unresolved" + (f" ({_subjects(live)})" if live else "")]
        resolved = len(self.anomalies) - len(live)
        if resolved:
            parts.append(f"{resolved} resolved")
        if self.overrides:
            parts.append("scale-out " + ", ".join(sorted({o.fleet for o in self.overrides})))
        if self.rate_limits:
            parts.append("throttle " + ", ".join(f"{k}={v}" for k, v in self.rate_limits.items()))
        parts.extend(f"alert failed: {p}" for p in self.alert_problems)
        return "; ".join(parts)


def detect_and_mitigate(
    controller: Controller, personas: PersonaSet, origin: datetime
) -> AnomalyOutcome:
    config = controller.config
    settings = config.anomalies
    store = controller.anomaly_store
    reported = store.resolved_until()
    findings = [
        f
        for f in metric_findings(
            config, personas, controller.metric_store, controller.forecast_store, origin
        )
        if f.end > reported.get((f.kind, f.persona), f.start)
    ]
    anomalies = track(store.unresolved(), findings, origin, settings.resolve_after)
    store.save(anomalies)
    problems = controller.anomaly_alerts.dispatch(anomalies, controller.clock.now())
    policies = policies_from(settings)
    fleets_of = fleets_serving(personas)
    overrides = overrides_for(
        held_for_scale_out(anomalies, store, policies, origin),
        policies,
        fleets_of,
        [fleet.name for fleet in config.fleets],
    )
    live = tuple(o for o in overrides if o.expires > origin)
    limits = throttle_limits(
        anomalies,
        policies,
        fleets_of,
        expected_per_client_5min(config, controller.metric_store, personas, origin),
    )
    notes = mitigation_notes(anomalies, live, limits, policies, fleets_of)
    return AnomalyOutcome(tuple(anomalies), live, limits, tuple(problems), notes)


def held_for_scale_out(
    anomalies: Sequence[Anomaly],
    store: AnomalyStore,
    policies: Mapping[AnomalyKind, Policy],
    origin: datetime,
) -> list[Anomaly]:
    """The anomalies whose scale-out may still be in force: a scale-out is held `duration` after
    the anomaly was last seen, which can outlast the anomaly itself (resolved after
    `resolve_after` quiet), so recently resolved ones count as live here."""
    longest = max(policy.duration for policy in policies.values())
    known = {a.id: a for a in store.current(origin - longest)}
    known.update({a.id: a for a in anomalies})
    return [replace(a, status="ongoing") if a.status == "resolved" else a for a in known.values()]


def metric_findings(
    config: ControllerConfig,
    personas: PersonaSet,
    metrics: MetricStore,
    forecasts: ForecastStore,
    origin: datetime,
) -> list[Finding]:
    """Per persona: demand outside the band of the forecasts in force, traffic vanished; and
    a spike of unmatched sessions. Over the last LOOKBACK before `origin`."""
    step, bucket = config.forecast.step, config.events.bucket
    start = origin - LOOKBACK
    steps = int(LOOKBACK / step)
    times = [start + step * i for i in range(steps)]
    thresholds = thresholds_for(config.anomalies, step)
    found: list[Finding] = []
    for key in personas.keys:
        actual = persona_rate(config, metrics, key, start, origin).values
        made = [s.forecast for s in forecasts.since(key, start - config.forecast.horizon)]

        def opinion(demand: list[Finding], key: str = key) -> list[Finding]:
            return seasonal_second_opinion(config, metrics, key, demand, start, origin)

        band, demand = demand_findings(config, key, times, actual, made, opinion)
        found += demand
        found += traffic_vanished(times, actual, band.mean, key, thresholds)
    unmatched = metrics.series("sessions", start - RATE_BASELINE, origin, bucket, persona=UNMATCHED)
    found += unmatched_spike(
        *_with_baseline(unmatched, int(LOOKBACK / bucket)), thresholds_for(config.anomalies, bucket)
    )
    unusual = {
        key: metrics.series("unusual_sessions", start - RATE_BASELINE, origin, bucket, persona=key)
        for key in personas.keys
    }
    found += unusual_session_findings(config, unusual)
    return found


def demand_findings(
    config: ControllerConfig,
    key: str,
    times: Sequence[datetime],
    actual: npt.NDArray[np.float64],
    made: Sequence[Forecast],
    second_opinion: Callable[[list[Finding]], list[Finding]],
) -> tuple[ExpectedBand, list[Finding]]:
    """One persona's demand (events/s per forecast step at `times`) against the band of the
    forecasts `made` in force before each step, with the count floors and, if
    `seasonal_guard`, `second_opinion` on the findings (`seasonal_second_opinion` in the
    cycle; `fleetctl anomalies` gives it the trace's counts). The band, and the findings."""
    step = config.forecast.step
    thresholds = thresholds_for(config.anomalies, step)
    # judged against forecasts made before the sustained window began (see anomaly.band)
    band = band_in_force(made, times[0], step, len(times), lead=thresholds.sustained_steps)
    demand = outside_interval(
        times,
        actual,
        band.lo,
        band.hi,
        key,
        thresholds,
        expected=band.mean,
        counts_per_unit=step.total_seconds(),  # demand is events/s: counts per step
    )
    if config.anomalies.seasonal_guard:
        demand = second_opinion(demand)
    return band, demand


def seasonal_second_opinion(
    config: ControllerConfig,
    metrics: MetricStore,
    key: str,
    demand: list[Finding],
    start: datetime,
    origin: datetime,
) -> list[Finding]:
    """`demand` with each finding above the forecast band kept only if the persona's events per
    bucket also show a burst against the same time on earlier days (`confirmed_by_season`)."""
    if not any(f.evidence.get("direction") == "above" for f in demand):
        return demand
    bucket = config.events.bucket
    pad = max(config.anomalies.sustained, bucket)
    # day types: a day more, so the first of the 7 days compared is whole from its midnight
    history = SEASONAL_HISTORY + (DAY if config.anomalies.guard_day_types else timedelta(0))
    counts = metrics.events_per_bucket(key, start - history - pad, origin, bucket)
    return confirmed_by_season(demand, counts, config.anomalies)


def confirmed_by_season(
    demand: list[Finding], counts: Series, settings: AnomaliesConfig
) -> list[Finding]:
    """The findings of `demand` that are not above the band, and those above it that
    `detect.seasonal_burst` confirms on `counts` (events per bucket, starting SEASONAL_HISTORY
    before them) within `sustained` of their span, at the guard's own count floor
    (`guard_excess_factor`, by default `excess_factor`). Measured on the NASA trace (bench/anomaly_eval.py,
    `daemon_rule`): the forecast band alone flags the trace's night and weekend surges about
    as often as the injected bursts. With `guard_day_types`, a weekend is judged against the
    weekends' volume (`detect.weekend_days` in `local_timezone`, `detect.day_type_ratio`)."""
    if not settings.guard_day_types:
        burst = season_bursts(counts, settings)
    else:
        lead, day_type = weekend_days(
            counts.start, counts.step, counts.values.shape[0], ZoneInfo(settings.local_timezone)
        )
        from_midnight = Series(
            counts.series_id,
            counts.start - lead * counts.step,
            counts.step,
            np.concatenate([np.full(lead, np.nan), counts.values]),
        )
        burst = season_bursts(from_midnight, settings, day_type)[lead:]
    return kept_if_confirmed(demand, burst, counts, settings.sustained)


def season_bursts(
    counts: Series, settings: AnomaliesConfig, day_type: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.bool_]:
    """Per bucket of `counts`: whether the seasonal second opinion sees a burst there (the
    configured thresholds, with `guard_excess_factor`, if set, for the count floor's factor;
    `day_type`
    as in `detect.seasonal_burst`, for counts starting at a day boundary)."""
    bucket = counts.step
    thresholds = thresholds_for(settings, bucket)
    if settings.guard_excess_factor is not None:
        thresholds = replace(thresholds, excess_factor=settings.guard_excess_factor)
    day = int(timedelta(days=1) / bucket)
    return seasonal_burst(counts.values, day, thresholds, day_type=day_type)


def kept_if_confirmed(
    demand: list[Finding], burst: npt.NDArray[np.bool_], counts: Series, pad: timedelta
) -> list[Finding]:
    """`demand` less the findings above the band with no burst in `burst` (per bucket of
    `counts`) within `pad` (at least a bucket) of their span."""
    bucket = counts.step
    pad = max(pad, bucket)

    def confirmed(finding: Finding) -> bool:
        first = max(0, int((finding.start - pad - counts.start) / bucket))
        last = max(first, int((finding.end + pad - counts.start) / bucket))
        return bool(burst[first:last].any())

    return [f for f in demand if f.evidence.get("direction") != "above" or confirmed(f)]


def unusual_session_findings(
    config: ControllerConfig, unusual_per_bucket: Mapping[str, Series]
) -> list[Finding]:
    """Session level: per persona, a spike in the rate of matched sessions with very unusual
    resource use (`unusual_resources`), from the metric store's `unusual_sessions` per bucket.

    Each series must start RATE_BASELINE before the window (its first part is only the
    baseline)."""
    found: list[Finding] = []
    for key, series in unusual_per_bucket.items():
        thresholds = thresholds_for(config.anomalies, series.step)
        times, values, baseline = _with_baseline(series, int(LOOKBACK / series.step))
        found += unusual_session_rate(times, values, baseline, key, thresholds)
    return found


def _with_baseline(series: Series, window: int) -> tuple[list[datetime], np.ndarray, np.ndarray]:
    """The last `window` steps of a per-bucket count and, per step, the median of the
    RATE_BASELINE before it (gaps: no sessions were seen, so zero)."""
    values = np.nan_to_num(series.values)
    baseline = trailing_median(values, int(RATE_BASELINE / series.step))
    first = max(0, values.shape[0] - window)
    times = [series.time_at(i) for i in range(first, values.shape[0])]
    return times, values[first:], baseline[first:]


def thresholds_for(settings: AnomaliesConfig, step: timedelta) -> Thresholds:
    """The configured thresholds in steps of `step`. The 3-minute trailing mean that calms
    per-minute noise is the step itself once steps are that long (5-minute forecast steps).

    A condition holds for at least two steps however short `sustained` is: one step beyond a
    p05-p95 band happens one step in twenty by construction, two in a row far more rarely.
    Demand is judged on the median over the sustained steps (at 5-minute steps and the default
    10 minutes: the mean of the last two) against max(p95, `excess_factor` x the forecast mean
    + `poisson_sigmas` Poisson sigmas of that window's count)."""
    return Thresholds(
        sustained_steps=max(MIN_STEPS, math.ceil(settings.sustained / step)),
        resource_z=settings.resource_z,
        unmatched_factor=settings.unmatched_factor,
        unmatched_min_rate=settings.unmatched_min_rate * step / timedelta(minutes=1),
        vanished_fraction=settings.vanished_fraction,
        vanished_min_expected=settings.vanished_min_rate / 60.0,  # demand is in events/s
        smoothing_steps=max(1, round(timedelta(minutes=3) / step)),
        excess_factor=settings.excess_factor,
        poisson_sigmas=settings.poisson_sigmas,
    )


def policies_from(settings: AnomaliesConfig) -> dict[AnomalyKind, Policy]:
    """Every kind alerts; the configured ones may also scale out or throttle."""
    policies: dict[AnomalyKind, Policy] = {kind: Policy(kind) for kind in ANOMALY_KINDS}
    for kind, policy in settings.policies.items():
        policies[kind] = Policy(
            kind,
            tuple(policy.actions),
            policy.factor,
            policy.min_extra,
            policy.duration,
            policy.throttle_headroom,
        )
    return policies


def fleets_serving(personas: PersonaSet) -> dict[str, tuple[str, ...]]:
    """persona key -> the fleets that serve it."""
    out: dict[str, list[str]] = {}
    for fleet, keys in personas.served_by.items():
        for key in keys:
            out.setdefault(key, []).append(fleet)
    return {key: tuple(sorted(fleets)) for key, fleets in out.items()}


def expected_per_client_5min(
    config: ControllerConfig, metrics: MetricStore, personas: PersonaSet, origin: datetime
) -> dict[str, float]:
    """Per persona: events per active session per 5 minutes over the day before the anomaly
    window (a session stands for a client); personas with no sessions then are left out."""
    bucket = config.events.bucket
    end = origin - LOOKBACK
    start = end - EXPECTED_CLIENT_WINDOW
    out = {}
    for key in personas.keys:
        events = metrics.series("events", start, end, bucket, persona=key).values
        sessions = metrics.series("sessions", start, end, bucket, persona=key).values
        active = np.nansum(sessions)
        if active > 0:
            per_bucket = float(np.nansum(events) / active)
            out[key] = per_bucket * timedelta(minutes=5) / bucket
    return out


def with_overrides(
    config: ControllerConfig,
    allocation: AllocationSet,
    overrides: Sequence[AllocationOverride],
    origin: datetime,
) -> AllocationSet:
    """The allocation with the anomalies' temporary scale-outs applied (reason included)."""
    if not overrides:
        return allocation
    step = config.forecast.step
    rules = {f.name: (f, i) for i, f in enumerate(config.fleets)}
    fleets = []
    for fleet in allocation.fleets:
        settings, index = rules[fleet.fleet]
        rule = fleet_rule(settings, in_force=fleet.instance_type, index=index)
        starts = [origin + step * i for i in range(len(fleet.desired_per_step))]
        desired, reason = apply_override(
            fleet.fleet, fleet.desired_per_step, starts, overrides, rule.max_size
        )
        fleets.append(with_desired(rule, fleet, desired, origin, step, reason) if reason else fleet)
    return AllocationSet(fleets, allocation.load_balancers)


def mitigation_notes(
    anomalies: Sequence[Anomaly],
    overrides: Sequence[AllocationOverride],
    limits: Mapping[str, int],
    policies: Mapping[AnomalyKind, Policy],
    fleets_of: Mapping[str, Sequence[str]],
) -> dict[str, tuple[str, ...]]:
    """anomaly id -> what is in force because of it (for the state document and the report)."""
    notes: dict[str, list[str]] = {}
    for override in overrides:
        notes.setdefault(override.anomaly_id, []).append(
            f"scale-out {override.fleet} x{override.factor:g} (+{override.min_extra} at least) "
            f"until {override.expires.isoformat()}"
        )
    for anomaly in anomalies:
        policy = policies.get(anomaly.kind)
        if anomaly.status == "resolved" or policy is None or "throttle" not in policy.actions:
            continue
        for fleet in fleets_of.get(anomaly.persona or "", ()):
            if fleet in limits:
                notes.setdefault(anomaly.id, []).append(
                    f"rate limit {fleet}: {limits[fleet]} requests per 5 min per client "
                    "(anomaly_rate_limits)"
                )
    return {key: tuple(value) for key, value in notes.items()}


def _subjects(anomalies: Sequence[Anomaly]) -> str:
    return ", ".join(a.subject for a in anomalies)
