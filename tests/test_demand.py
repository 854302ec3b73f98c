"""Fleet demand from persona sessions x profiles, regional split, LB capacity and weights."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from controller.adapters.storage.plan_store import StoredPlan
from controller.allocation.demand import (
    FleetPlacement,
    PersonaDemand,
    Profile,
    fleet_demands,
    split_shares,
)
from controller.allocation.load_balancers import allocate_load_balancers, lcu_per_step
from controller.config import load_config
from controller.domain.allocation import FleetAllocation
from controller.domain.forecast import Forecast
from controller.domain.persona import ResourceProfile
from controller.workflow import steps
from controller.workflow.review_step import in_force
from tests.helpers import ROOT

US, EU = FleetPlacement("web-us", "us-east-1"), FleetPlacement("web-eu", "eu-west-1")


def persona(
    key: str, sessions: float, regions: dict[str, float], **profile: float
) -> PersonaDemand:
    values = {"cpu": 0.1, "memory": 50.0, "network": 1.0, "iops": 2.0, **profile}
    return PersonaDemand(
        key, np.full(4, sessions), np.full(4, sessions / 10), Profile(**values), "declared", regions
    )


def test_demand_is_sessions_times_profile_summed_over_personas() -> None:
    a = persona("a", 100, {"us-east-1": 1.0}, cpu=0.1, memory=50)
    b = persona("b", 20, {"us-east-1": 1.0}, cpu=0.5, memory=10)
    demand = fleet_demands([a, b], {"web-us": ["a", "b"]}, [US])["web-us"]
    assert demand.resources[:, 0].tolist() == pytest.approx([20.0, 5200.0, 120.0, 240.0])
    assert demand.sessions[0] == pytest.approx(120)


def test_a_persona_is_split_across_regional_fleets_by_its_geographic_distribution() -> None:
    shopper = persona("s", 100, {"us-east-1": 0.7, "eu-west-1": 0.3})
    demands = fleet_demands([shopper], {"web-us": ["s"], "web-eu": ["s"]}, [US, EU])
    assert demands["web-us"].sessions[0] == pytest.approx(70)
    assert demands["web-eu"].sessions[0] == pytest.approx(30)


def test_a_region_without_a_serving_fleet_is_spread_over_the_served_regions_and_said() -> None:
    shares = split_shares({"us-east-1": 0.6, "eu-west-1": 0.3, "ap-south-1": 0.1}, [US, EU])
    assert shares["web-us"][0] == pytest.approx(0.6 / 0.9)
    assert shares["web-eu"][0] == pytest.approx(0.3 / 0.9)
    assert "ap-south-1 0.10 has no serving fleet" in shares["web-us"][1]


def test_alb_capacity_units_follow_the_documented_formula() -> None:
    demand = fleet_demands(
        [persona("s", 6000, {"us-east-1": 1.0}, network=0.01)], {"web-us": ["s"]}, [US]
    )["web-us"]
    # 600 requests/s / 25 = 24; 6000 sessions / 3000 = 2; 60 Mbps x 0.45 GB/h = 27 -> 27
    assert lcu_per_step(demand)[0] == pytest.approx(27.0)


def _fleet(name: str, lb: str) -> FleetAllocation:
    return FleetAllocation(name, "us-east-1", "c6i.large", 2, 1, 10, (2,), (), 0, load_balancer=lb)


def test_fleets_sharing_a_load_balancer_get_weights_by_their_share_of_requests() -> None:
    demands = fleet_demands(
        [persona("a", 300, {"us-east-1": 1.0}), persona("b", 100, {"us-east-1": 1.0})],
        {"web": ["a"], "shop": ["b"]},
        [FleetPlacement("web", "us-east-1"), FleetPlacement("shop", "us-east-1")],
    )
    fleets, (edge,) = allocate_load_balancers(
        [_fleet("web", "edge"), _fleet("shop", "edge")], demands
    )
    assert edge.name == "edge" and edge.weights == {"web": 75, "shop": 25}
    assert edge.capacity_units >= max(f.lb_capacity_units for f in fleets)


def test_a_small_lcu_decrease_keeps_the_reservation_for_aws_two_decreases_a_day() -> None:
    demands = fleet_demands(
        [persona("a", 6000, {"us-east-1": 1.0}, network=0.01)],
        {"web": ["a"]},
        [FleetPlacement("web", "us-east-1")],
    )
    _, (kept,) = allocate_load_balancers([_fleet("web", "")], demands, {"web": 30})
    _, (lowered,) = allocate_load_balancers([_fleet("web", "")], demands, {"web": 60})
    assert kept.capacity_units == 30
    assert lowered.capacity_units == 27


def test_a_learned_profile_replaces_the_declared_one_and_the_reason_says_so() -> None:
    config = load_config(ROOT / "controller.yaml")
    personas = steps.load_personas(config)
    origin = datetime(2026, 11, 4, 12, tzinfo=UTC)
    step = config.forecast.step
    forecasts = {
        key: Forecast(
            key, origin, step, np.full(24, 20.0), {0.95: np.full(24, 20.0), 0.5: np.full(24, 20.0)}
        )
        for key in personas.keys
    }
    declared = steps.allocate_fleets(config, personas, forecasts, origin)
    heavy = ResourceProfile(cpu_demand=1.0, memory_demand=64, network_bandwidth=2, io_operations=5)
    learned = steps.allocate_fleets(
        config, personas, forecasts, origin, learned_profiles={"peak-hour-shopper": heavy}
    )
    web_declared = next(a for a in declared.fleets if a.fleet == "web")
    web_learned = next(a for a in learned.fleets if a.fleet == "web")
    assert web_learned.desired_now > web_declared.desired_now
    assert any("peak-hour-shopper x 1.00 (learned profile" in r for r in web_learned.reasons)


def test_scale_in_steps_down_from_the_capacity_the_applied_schedule_holds_now() -> None:
    """Re-planning every cycle must not skip the bounded scale-in: a fleet at 20 with no
    demand left goes to 18 (10% a step), not straight to its minimum."""
    config = load_config(ROOT / "controller.yaml")
    personas = steps.load_personas(config)
    origin = datetime(2026, 11, 4, 12, tzinfo=UTC)
    step = config.forecast.step
    quiet = {
        key: Forecast(key, origin, step, np.zeros(24), {0.95: np.zeros(24), 0.5: np.zeros(24)})
        for key in personas.keys
    }
    fresh = steps.allocate_fleets(config, personas, quiet, origin)
    carried = steps.allocate_fleets(config, personas, quiet, origin, capacity_in_force={"web": 20})
    web_fresh = next(a for a in fresh.fleets if a.fleet == "web")
    web_carried = next(a for a in carried.fleets if a.fleet == "web")
    assert web_fresh.desired_now == web_fresh.min_size
    assert web_carried.desired_now == 18


def test_the_capacity_in_force_follows_the_applied_schedule() -> None:
    applied = datetime(2026, 11, 4, 9, tzinfo=UTC)
    fleet = {
        "region": "us-east-1",
        "instance_type": "c6i.large",
        "min_size": 2,
        "max_size": 30,
        "desired_capacity": 4,
        "target_cpu_utilization": 70.0,
        "instance_warmup": 300,
        "scheduled_actions": [
            {
                "name": "web-20261104T1100Z",
                "start_time": "2026-11-04T11:00:00Z",
                "desired_capacity": 12,
                "min_size": 2,
                "max_size": 30,
            }
        ],
    }
    plan = StoredPlan("000001-abc", 1, applied, "applied", {}, {"fleets": {"web": fleet}})
    before = in_force(plan)
    assert before.capacity_at(applied) == {"web": 4}
    assert before.capacity_at(datetime(2026, 11, 4, 12, tzinfo=UTC)) == {"web": 12}
    assert in_force(None).capacity_at(applied) == {}
