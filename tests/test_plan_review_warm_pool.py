"""The plan review's warm-pool lines: instances kept stopped and what their volumes cost."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.allocation.catalog import load_catalog
from controller.config import load_config
from controller.domain.allocation import FleetAllocation, WarmPool
from controller.domain.clock import FixedClock
from controller.domain.plan import PlanSummary, ResourceChange
from controller.review.guardrails import Guardrails
from controller.review.markdown import render_markdown
from controller.review.model import PlanReview, WarmPoolReview, build_review
from controller.workflow.cycle import run_cycle
from controller.workflow.wiring import build_controller
from tests.helpers import make_project

NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)
FLEET = FleetAllocation(
    "web", "us-east-1", "c6i.large", 4, 1, 20, (4,), (), 2, price_per_hour=0.085
)
PLAN = PlanSummary("p1", (ResourceChange('terraform_data.warm_pool["web"]', "create"),))


def review_of(fleet: FleetAllocation) -> PlanReview:
    return build_review(PLAN, [fleet], [], {}, {}, Guardrails(), "auto", NOON)


def test_a_stopped_pool_costs_its_volumes_not_the_instances() -> None:
    # 7 prepared - 4 in service = 3 stopped; 3 x 8 GiB x $0.08 / 730 h = $0.00263/h
    pool = WarmPool("Stopped", 0, 7, True, billed_gib=8.0, usd_per_gib_month=0.08)
    review = review_of(replace(FLEET, warm_pool=pool))
    (fleet,) = review.fleets
    assert fleet.warm_pool == WarmPoolReview(
        "Stopped", 3, 0, 7, 8.0, 0.08, pytest.approx(3 * 8 * 0.08 / 730)
    )
    assert fleet.cost_per_hour_planned == pytest.approx(4 * 0.085)  # the pool is not in it
    assert fleet.changes == PLAN.changes
    assert (
        "- warm pool: 3 stopped at the planned capacity now (min 0, max prepared 7), "
        "$0.0026/h ($1.92/month): their EBS volumes only, 8 GiB each at $0.08/GiB-month, "
        "not in the totals"
    ) in render_markdown(review)


def test_a_fleet_without_a_pool_or_a_price_says_so_and_reads_back() -> None:
    assert review_of(FLEET).fleets[0].warm_pool is None
    assert "warm pool" not in render_markdown(review_of(FLEET))
    unpriced = review_of(replace(FLEET, warm_pool=WarmPool("Hibernated", 2, 3)))
    assert "- warm pool: 2 hibernated at the planned capacity now (min 2, max prepared 3), " in (
        render_markdown(unpriced)
    )
    assert "cost n/a (no volume size or price)" in render_markdown(unpriced)
    assert PlanReview.from_dict(json.loads(json.dumps(unpriced.to_dict()))) == unpriced


@pytest.mark.terraform
def test_a_cycle_with_a_warm_pool_plans_it_and_the_review_shows_it(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    fleets = [
        {
            "name": "web",
            "min_instances": 2,
            "max_instances": 40,
            "warm_pool": {"enabled": True, "pool_state": "Hibernated", "min_size": 1},
        },
        {"name": "api", "instance_type": "c6i.large", "min_instances": 1, "max_instances": 10},
    ]
    project = make_project(tmp_path, events=two_day_events, fleets=fleets)
    controller = build_controller(load_config(project), clock=clock)
    try:
        review = run_cycle(controller).review
    finally:
        controller.close()
    assert review is not None
    web = next(f for f in review.fleets if f.name == "web")
    api = next(f for f in review.fleets if f.name == "api")
    assert api.warm_pool is None and web.warm_pool is not None
    assert web.warm_pool.state == "Hibernated" and web.warm_pool.instances >= 1
    # a hibernated instance pays for its root volume and its RAM (catalog memory) on it
    kind = load_catalog().get(web.instance_type_planned)
    assert kind is not None and web.warm_pool.billed_gib == 8 + kind.memory_mib / 1024
    assert any(c.address == 'terraform_data.warm_pool["web"]' for c in web.changes)
    assert "- warm pool: " in render_markdown(review)
    assert any(r.startswith("warm pool hibernated: ") for r in web.reasons)
