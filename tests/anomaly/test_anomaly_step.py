"""The pieces the cycle's anomaly step is made of: the band of the forecasts in force, the SQL
record of anomalies across cycles, scale-out overrides applied to an allocation, the session-level
rate detector waiting for the `unusual_sessions` metric, and the state document's typed records."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from controller.adapters.storage.anomaly_store import AnomalyStore
from controller.adapters.storage.db import connect
from controller.anomaly.band import band_in_force
from controller.anomaly.detect import Thresholds, outside_interval
from controller.anomaly.mitigation import AllocationOverride, overrides_for
from controller.anomaly.records import Anomaly, Finding
from controller.cli import main
from controller.config import AnomaliesConfig, ControllerConfig, FleetConfig
from controller.domain.allocation import FleetAllocation
from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.domain.state import SCHEMA_VERSION, FleetStateDocument
from controller.workflow.anomaly_step import (
    RATE_BASELINE,
    confirmed_by_season,
    held_for_scale_out,
    policies_from,
    thresholds_for,
    unusual_session_findings,
    with_overrides,
)
from controller.workflow.steps import AllocationSet
from tests.personas.conftest import database_url  # noqa: F401  (SQLite, and PostgreSQL when set)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
STEP = timedelta(minutes=5)


def _forecast(origin: datetime, level: float, horizon: int = 12) -> Forecast:
    mean = np.full(horizon, level)
    return Forecast(
        "shop", origin, STEP, mean, {0.05: mean * 0.5, 0.5: mean, 0.95: mean * 2}, "test"
    )


def _outside(
    direction: str,
    times: list[datetime],
    actual: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    thresholds: Thresholds,
    expected: np.ndarray | None = None,
) -> list[Finding]:
    """`outside_interval`'s findings in one direction, for demand in events/s per 5-minute step
    (300 counts per unit)."""
    found = outside_interval(times, actual, lo, hi, "shop", thresholds, expected, 300.0)
    return [f for f in found if f.evidence["direction"] == direction]


def test_each_step_is_judged_against_the_newest_forecast_made_before_it() -> None:
    older, newer = _forecast(T0, 10.0), _forecast(T0 + STEP * 4, 20.0)
    late = _forecast(T0 + STEP * 10, 99.0)  # made after the window: never used for it
    band = band_in_force([newer, late, older], T0, STEP, 8)
    assert list(band.mean) == [10.0] * 4 + [20.0] * 4
    assert list(band.hi) == [20.0] * 4 + [40.0] * 4
    assert np.isnan(band_in_force([late], T0, STEP, 8).mean).all()


def test_with_a_lead_each_step_is_judged_by_a_forecast_made_that_many_steps_before_it() -> None:
    older, newer = _forecast(T0, 10.0), _forecast(T0 + STEP * 4, 20.0)
    band = band_in_force([newer, older], T0, STEP, 8, lead=2)
    assert list(np.isnan(band.mean[:2])) == [True, True]  # nothing made 2 steps before them
    assert list(band.mean[2:]) == [10.0] * 4 + [20.0] * 2


def test_a_burst_that_re_made_forecasts_follow_is_still_found_against_the_older_forecasts() -> None:
    """The daemon re-forecasts every step, and its models follow the last observations: here
    each forecast expects the last step's demand to go on. A 3x burst of 20 minutes then raises
    its own forecast after one step; judged against forecasts made before the sustained window
    (the cycle's lead), it is found."""
    steps = 48
    actual = np.full(steps, 10.0)
    actual[20:24] = 30.0
    made = [_forecast(T0 + STEP * o, float(actual[o - 1])) for o in range(1, steps)]
    thresholds = thresholds_for(ControllerConfig().anomalies, STEP)
    times = [T0 + STEP * i for i in range(steps)]

    def above(lead: int) -> list[Finding]:
        band = band_in_force(made, T0, STEP, steps, lead=lead)
        return _outside("above", times, actual, band.lo, band.hi, thresholds, band.mean)

    assert above(lead=0) == []  # the newest forecast has already seen the burst
    (burst,) = above(lead=thresholds.sustained_steps)
    assert times[20] <= burst.start <= times[21]


def test_steps_no_forecast_covered_have_no_band() -> None:
    band = band_in_force([_forecast(T0, 10.0, horizon=3)], T0, STEP, 6)
    assert list(np.isnan(band.lo)) == [False] * 3 + [True] * 3


def _anomaly(status: str, end: datetime = T0) -> Anomaly:
    return Anomaly(
        "traffic_vanished:shop:1",
        "traffic_vanished",
        "shop",
        T0 - timedelta(minutes=30),
        end,
        0.1,
        {"mean_actual": 0.5, "mean_expected": 5.0},
        status,  # type: ignore[arg-type]
    )


def test_anomalies_are_kept_across_cycles_and_updated_in_place(database_url: str) -> None:  # noqa: F811
    store = AnomalyStore(connect(database_url))
    store.save([_anomaly("open")])
    assert store.unresolved() == [_anomaly("open")]

    store.save([_anomaly("resolved", end=T0 + timedelta(minutes=20))])

    assert store.unresolved() == []
    assert store.current(resolved_since=T0) == [_anomaly("resolved", T0 + timedelta(minutes=20))]
    assert store.current(resolved_since=T0 + timedelta(hours=1)) == []
    assert store.resolved_until() == {("traffic_vanished", "shop"): T0 + timedelta(minutes=20)}


def _allocation(desired: int, steps: int) -> FleetAllocation:
    return FleetAllocation(
        fleet="web",
        region="us-east-1",
        instance_type="m6i.large",
        desired_now=desired,
        min_size=2,
        max_size=40,
        desired_per_step=(desired,) * steps,
        scheduled_actions=(),
        lb_capacity_units=1,
        reasons=("forecast p95",),
    )


def test_a_scale_out_override_raises_desired_until_it_expires_and_the_schedule_follows() -> None:
    config = ControllerConfig(fleets=[FleetConfig(name="web", min_instances=2, max_instances=40)])
    override = AllocationOverride(
        "web", 2.0, 1, T0 + timedelta(minutes=90), "demand_outside_forecast:shop:1", "anomaly x"
    )
    out = with_overrides(config, AllocationSet([_allocation(4, 36)], []), [override], T0)

    (web,) = out.fleets
    assert web.desired_per_step == (8,) * 18 + (4,) * 18
    assert web.desired_now == 8
    assert [(a.start, a.desired) for a in web.scheduled_actions] == [(T0 + timedelta(hours=2), 4)]
    assert web.reasons[0] == "forecast p95"
    assert web.reasons[-1].startswith("temporary scale-out x2 (+1 at least) until")
    assert "anomaly x" in web.reasons[-1]


def test_a_scale_out_never_goes_past_the_fleets_max() -> None:
    config = ControllerConfig(fleets=[FleetConfig(name="web", min_instances=2, max_instances=10)])
    override = AllocationOverride("web", 3.0, 1, T0 + timedelta(hours=9), "id", "anomaly x")
    out = with_overrides(config, AllocationSet([_allocation(6, 6)], []), [override], T0)
    assert out.fleets[0].desired_per_step == (10,) * 6


def test_no_override_leaves_the_allocation_as_it_was() -> None:
    config = ControllerConfig(fleets=[FleetConfig(name="web")])
    allocation = AllocationSet([_allocation(4, 6)], [])
    expired = AllocationOverride("other", 2.0, 1, T0 + timedelta(hours=1), "id", "x")
    assert with_overrides(config, allocation, [], T0) is allocation
    assert with_overrides(config, allocation, [expired], T0).fleets == allocation.fleets


def test_a_burst_of_unusual_sessions_per_minute_is_an_unusual_resources_anomaly() -> None:
    """For the `unusual_sessions` metric column (branch issue-5a): not wired until it exists."""
    minute = timedelta(minutes=1)
    history = int(RATE_BASELINE / minute)
    rng = np.random.default_rng(1)
    values = rng.poisson(1.0, history + 120).astype(np.float64)
    values[history + 60 : history + 75] += 12  # 15 minutes of many unusual sessions
    start = T0 - RATE_BASELINE
    config = ControllerConfig()

    (found,) = unusual_session_findings(config, {"shop": Series("shop", start, minute, values)})

    assert found.kind == "unusual_resources" and found.persona == "shop"
    assert T0 + timedelta(minutes=59) <= found.start <= T0 + timedelta(minutes=63)
    assert found.size > 3 and found.evidence["unusual_per_step"] > 8


def test_a_steady_rate_of_unusual_sessions_is_not_an_anomaly() -> None:
    minute = timedelta(minutes=1)
    values = np.random.default_rng(2).poisson(4.0, 240).astype(np.float64)
    series = Series("shop", T0, minute, values)
    assert unusual_session_findings(ControllerConfig(), {"shop": series}) == []


def test_a_short_sustained_period_still_needs_two_forecast_steps() -> None:
    settings = AnomaliesConfig(sustained=timedelta(minutes=5))
    assert thresholds_for(settings, STEP).sustained_steps == 2
    assert thresholds_for(settings, timedelta(minutes=1)).sustained_steps == 5
    assert thresholds_for(settings, STEP).smoothing_steps == 1


def test_the_count_floor_and_its_factor_come_from_the_config() -> None:
    settings = AnomaliesConfig(excess_factor=2.0, poisson_sigmas=4.0)
    thresholds = thresholds_for(settings, STEP)
    assert (thresholds.excess_factor, thresholds.poisson_sigmas) == (2.0, 4.0)
    defaults = thresholds_for(ControllerConfig().anomalies, STEP)
    assert (defaults.excess_factor, defaults.poisson_sigmas) == (2.0, 3.0)


def test_a_quiet_personas_noise_over_a_narrow_band_is_not_demand_outside_the_forecast() -> None:
    """13 events per minute: 65 per 5-minute step, Poisson sd 8 (12%). A forecast band only 10%
    above the mean is crossed by noise every few steps; the count floor the cycle passes
    (events/s x 300 s per step) keeps that out, and a 3x burst of 10 minutes still counts."""
    thresholds = thresholds_for(ControllerConfig().anomalies, STEP)
    steps = 24 * 12
    times = [T0 + STEP * i for i in range(steps)]
    rate = 13 / 60  # events/s
    mean = np.full(steps, rate)
    actual = np.random.default_rng(5).poisson(65, steps) / 300.0
    assert _outside("above", times, actual, 0.9 * mean, 1.1 * mean, thresholds, mean) == []
    narrow_only = _outside("above", times, actual, 0.9 * mean, 1.1 * mean, thresholds)
    assert narrow_only  # without the floor
    actual[100:102] *= 3
    (burst,) = _outside("above", times, actual, 0.9 * mean, 1.1 * mean, thresholds, mean)
    # judged on the 2-step window's median (mean): at 2 x expected it passes once both steps are
    # in the burst, so the start is known to within one step
    assert times[100] <= burst.start <= times[101]


def test_by_default_a_busy_personas_excursion_past_the_band_is_not_an_anomaly_but_a_3x_burst_is() -> (
    None
):
    """10 events/s, where count noise is small: demand 30% over the forecast for 20 minutes
    leaves the p95 band but is the kind of excursion bursty traffic makes daily; twice the mean
    (`excess_factor` 2) is the default bar, and a 3x burst of 10 minutes clears it."""
    thresholds = thresholds_for(ControllerConfig().anomalies, STEP)
    steps = 24 * 12
    times = [T0 + STEP * i for i in range(steps)]
    mean = np.full(steps, 10.0)
    actual = mean.copy()
    actual[50:54] *= 1.3
    actual[200:202] *= 3

    (burst,) = _outside("above", times, actual, 0.9 * mean, 1.1 * mean, thresholds, mean)
    assert times[200] <= burst.start <= times[201]
    loose = thresholds_for(AnomaliesConfig(excess_factor=1.0), STEP)
    found = outside_interval(times, actual, 0.9 * mean, 1.1 * mean, "busy", loose, mean, 300.0)
    assert len(found) == 2, "with the band alone, the excursion counts too"


def test_the_default_sustained_period_matches_the_ten_minute_bursts_of_the_goal() -> None:
    settings = ControllerConfig().anomalies
    assert settings.sustained == timedelta(minutes=10)
    assert thresholds_for(settings, timedelta(minutes=1)).sustained_steps == 10
    assert thresholds_for(settings, STEP).sustained_steps == 2


def test_the_committed_state_schema_is_the_documents_schema_with_typed_anomalies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    committed = json.loads((ROOT / "docs" / "state.schema.json").read_text())
    assert committed == FleetStateDocument.model_json_schema(), (
        "docs/state.schema.json is stale: run `fleetctl state --schema > docs/state.schema.json`"
    )
    assert main(["state", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == committed
    assert SCHEMA_VERSION == 3
    items = committed["properties"]["anomalies"]["items"]
    assert items == {"$ref": "#/$defs/AnomalyState"}
    assert set(committed["$defs"]["AnomalyState"]["required"]) >= {
        "kind",
        "persona",
        "start",
        "end",
        "size",
        "evidence",
    }


def test_an_anomaly_without_persona_reads_back_with_its_evidence(database_url: str) -> None:  # noqa: F811
    store = AnomalyStore(connect(database_url))
    spike = replace(
        _anomaly("open"), persona=None, kind="unmatched_spike", id="unmatched_spike:-:1"
    )
    store.save([spike])
    (back,) = store.unresolved()
    assert back.persona is None and back.evidence == spike.evidence


def test_a_scale_out_is_held_its_duration_after_the_anomaly_was_last_seen_even_if_resolved(
    tmp_path: Path,
) -> None:
    store = AnomalyStore(connect(f"sqlite:///{tmp_path / 'fleet.db'}"))
    burst = Anomaly(
        "demand_outside_forecast:shop:1",
        "demand_outside_forecast",
        "shop",
        T0 - timedelta(minutes=20),
        T0,
        3.0,
        {"direction": "above"},
        "resolved",
    )
    store.save([burst])
    policies = policies_from(
        AnomaliesConfig(policies={"demand_outside_forecast": {"actions": ["scale_out"]}})
    )

    def fleets_scaled(at: datetime) -> list[tuple[str, datetime]]:
        held = held_for_scale_out([], store, policies, at)
        overrides = overrides_for(held, policies, {"shop": ["web"]}, ["web"])
        return [(o.fleet, o.expires) for o in overrides if o.expires > at]

    assert fleets_scaled(T0 + timedelta(minutes=20)) == [("web", T0 + timedelta(minutes=30))]
    assert fleets_scaled(T0 + timedelta(minutes=40)) == []


def test_a_quiet_personas_lulls_under_a_narrow_band_are_not_demand_below_the_forecast() -> None:
    """The mirror of the count floor: Poisson lulls under a band only 10% below the mean are
    noise, and a real fall to a quarter of the rate for 10 minutes still counts (the default
    ceiling is half the mean less 3 Poisson sigmas: 20.4 events a step here, against 16)."""
    thresholds = thresholds_for(ControllerConfig().anomalies, STEP)
    steps = 24 * 12
    times = [T0 + STEP * i for i in range(steps)]
    mean = np.full(steps, 13 / 60)
    actual = np.random.default_rng(6).poisson(65, steps) / 300.0

    def below(values: np.ndarray, expected: np.ndarray | None) -> list[Finding]:
        return _outside("below", times, values, 0.9 * mean, 1.1 * mean, thresholds, expected)

    assert below(actual, mean) == []
    assert below(actual, None), "without the count ceiling, noise reads as a fall"
    actual[100:102] /= 4
    (fall,) = below(actual, mean)
    assert fall.start <= times[101] < fall.end


def test_the_seasonal_second_opinion_keeps_a_burst_drops_a_usual_peak_and_keeps_falls() -> None:
    """Eight days of per-minute counts with a daily peak at 14:00 and a 3x burst at 04:00 on
    the last day. Three findings from the forecast band: above at the burst (kept), above at
    the usual peak a forecast underestimated (dropped), below in the evening (not its business)."""
    counts = _daily_counts(8, seed=11)
    day = 7 * 1440
    counts[day + 4 * 60 : day + 4 * 60 + 15] *= 3
    series = Series("shop", T0, timedelta(minutes=1), counts)

    burst, peak, fall = (
        _found(T0 + timedelta(minutes=day + 4 * 60 + 5)),
        _found(T0 + timedelta(minutes=day + 14 * 60)),
        _found(T0 + timedelta(minutes=day + 20 * 60), "below"),
    )
    kept = confirmed_by_season([burst, peak, fall], series, AnomaliesConfig())
    assert kept == [burst, fall]


def test_the_seasonal_second_opinion_has_its_own_excess_factor() -> None:
    """A 1.7x surge at 04:00 on the last of eight days: the second opinion at the default
    (the forecast band's `excess_factor`, 2) holds it back; with `guard_excess_factor` 1.2 it
    is confirmed, whatever the band's own factor."""
    counts = _daily_counts(8, seed=12)
    day = 7 * 1440
    counts[day + 4 * 60 : day + 4 * 60 + 20] *= 1.7
    series = Series("shop", T0, timedelta(minutes=1), counts)
    surge = _found(T0 + timedelta(minutes=day + 4 * 60 + 5))
    assert confirmed_by_season([surge], series, AnomaliesConfig()) == []
    assert confirmed_by_season([surge], series, AnomaliesConfig(excess_factor=1.2)) == [surge]
    looser = AnomaliesConfig(guard_excess_factor=1.2)
    assert confirmed_by_season([surge], series, looser) == [surge]
    assert confirmed_by_season([surge], series, looser.model_copy(update={"excess_factor": 5.0}))


def test_with_day_types_the_second_opinion_confirms_a_weekend_burst_in_local_time() -> None:
    """Traffic whose weekends (in New York) are at 0.3 of its weekdays: a 3x burst on the second
    Saturday stays under the band pooled over the last 7 days (5 of them weekdays), so the
    second opinion drops it; brought to the weekends' volume (`guard_day_types`), it confirms
    it. The stored counts do not begin at a midnight."""
    monday = datetime(2026, 4, 6, 4, tzinfo=UTC)  # 00:00 in New York (EDT)
    counts = _daily_counts(14, seed=13, base=100, weekend_share=0.3)
    burst = 12 * 1440 + 14 * 60  # the second Saturday, 14:00 in New York
    counts[burst : burst + 10] *= 3
    late = 137
    series = Series("shop", monday + timedelta(minutes=late), timedelta(minutes=1), counts[late:])
    finding = _found(monday + timedelta(minutes=burst + 5))
    weekends = AnomaliesConfig(guard_day_types=True, local_timezone="America/New_York")
    assert confirmed_by_season([finding], series, AnomaliesConfig()) == []
    assert confirmed_by_season([finding], series, weekends) == [finding]


def _daily_counts(
    days: int, seed: int, base: float = 40.0, weekend_share: float = 1.0
) -> np.ndarray:
    """Per-minute counts from a midnight: a daily peak at 14:00 of `base` a minute, and days 5
    and 6 of each week (a weekend, for a series starting on a Monday) at `weekend_share`."""
    minutes = np.arange(days * 1440)
    rate = base * (0.4 + 0.6 * np.exp(-(((((minutes % 1440) / 60) - 14) / 4) ** 2)))
    share = np.where((minutes // 1440) % 7 >= 5, weekend_share, 1.0)
    return np.random.default_rng(seed).poisson(rate * share).astype(np.float64)


def _found(start: datetime, direction: str = "above") -> Finding:
    """A finding of the forecast band, two steps long."""
    return Finding(
        "demand_outside_forecast", "shop", start, start + STEP * 2, 1.5, {"direction": direction}
    )
