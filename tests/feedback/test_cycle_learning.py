"""The loop inside the real cycle (embedded Terraform, SQLite): learned profiles reach the
allocator and the state document; every model choice is recorded with why and when."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.workflow.cycle import run_cycle
from controller.workflow.wiring import build_controller
from tests.helpers import make_project

pytestmark = pytest.mark.terraform

# the shared test events are ~3 per minute for all personas: a bucket rarely has 5 sessions
FEEDBACK = {"profiles": {"min_sessions": 1, "min_buckets": 60}}


def test_cycles_learn_profiles_use_them_and_show_declared_and_learned(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    project = make_project(tmp_path, events=two_day_events, feedback=FEEDBACK)
    clock.set(clock.now() - timedelta(hours=12))
    controller = build_controller(load_config(project), clock=clock)
    try:
        first = run_cycle(controller)
        clock.advance(timedelta(hours=6))
        second = run_cycle(controller)
    finally:
        controller.close()

    learning = {s.persona: s for s in second.state.learning}
    assert set(learning) == {"api-consumer", "content-publisher", "peak-hour-shopper"}
    shopper = learning["peak-hour-shopper"]
    assert shopper.profile.in_use == "learned" and shopper.profile.learned is not None
    assert shopper.profile.declared.network_mbps == 2.0
    # one event is one second of a session's use, and a session sends a few events a minute
    assert 0 < shopper.profile.learned.network_mbps < shopper.profile.declared.network_mbps / 5
    assert shopper.profile.buckets is not None and shopper.profile.buckets >= 60
    web = next(a for a in second.allocations if a.fleet == "web")
    assert any("learned profile" in reason for reason in web.reasons)
    assert not any("declared profile" in reason for reason in web.reasons)
    # the second cycle scored the first one's forecasts and tested their bias
    assert shopper.intervals.realized_forecasts == 1
    assert shopper.bias.last_test == "72 realized points, 144 needed"  # 6 h of 5-minute steps
    assert first.state.learning[0].bias.last_test == "no realized forecasts yet"


def test_without_enough_measurements_the_declared_profile_is_used_and_shown(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    strict = {"profiles": {"min_sessions": 50}}
    project = make_project(tmp_path, events=two_day_events, feedback=strict)
    controller = build_controller(load_config(project), clock=clock)
    try:
        outcome = run_cycle(controller)
    finally:
        controller.close()
    for learned in outcome.state.learning:
        assert learned.profile.in_use == "declared" and learned.profile.learned is None
    web = next(a for a in outcome.allocations if a.fleet == "web")
    assert any("declared profile" in reason for reason in web.reasons)
