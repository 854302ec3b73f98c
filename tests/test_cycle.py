"""The whole cycle, end to end, on a tmp project with the real embedded Terraform and SQLite."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.workflow.cycle import CycleFailed, CycleOutcome, run_cycle
from controller.workflow.wiring import Controller, build_controller

pytestmark = pytest.mark.terraform


def test_a_cycle_ingests_forecasts_allocates_plans_applies_and_records_state(
    controller: Controller,
) -> None:
    outcome = run_cycle(controller)

    assert outcome.ingest.events > 5000
    assert outcome.ingest.dead_letters >= 0
    assert set(outcome.forecasts) == {"api-consumer", "content-publisher", "peak-hour-shopper"}
    assert all(f.horizon == 72 for f in outcome.forecasts.values())  # 6h at 5m
    assert outcome.plan.has_changes and outcome.plan_status == "applied"
    web = next(a for a in outcome.allocations if a.fleet == "web")
    assert 2 <= web.desired_now <= 40
    state = controller.state_store.get()
    assert state is not None and state.version == 1
    assert state.last_plan is not None and state.last_plan.status == "applied"
    assert {f.name: f.capacity_now for f in state.fleets}["web"] == web.desired_now
    tfvars = json.loads((controller.workspace.stack_dir / "fleets.auto.tfvars.json").read_text())
    assert tfvars["fleets"]["web"]["desired_capacity"] == web.desired_now
    mirror = json.loads((controller.config.data_dir / "state.json").read_text())
    assert mirror["version"] == 1
    (record,) = controller.run_store.recent(1)
    assert record.status == "ok"
    assert [s.step for s in record.steps] == [
        "personas",
        "ingest",
        "monitor",
        "forecast",
        "feedback",
        "anomalies",
        "allocate",
        "render",
        "plan",
        "review",
        "gate-apply",
        "state",
    ]


def test_a_second_cycle_without_new_events_plans_no_changes(
    controller: Controller, clock: FixedClock
) -> None:
    first = run_cycle(controller)
    clock.advance(timedelta(minutes=7))  # the wall clock moves on; the data does not
    second = run_cycle(controller)

    assert first.plan.has_changes
    assert second.ingest.events == 0
    assert not second.plan.has_changes
    assert second.plan_status == "no-changes"
    assert second.state.version == 2


def two_cycles_six_hours_apart(
    project: Path, clock: FixedClock
) -> tuple[CycleOutcome, CycleOutcome]:
    """Half a day before the end of the events, then six hours later: new events in between."""
    clock.set(clock.now() - timedelta(hours=12))
    controller = build_controller(load_config(project), clock=clock)
    try:
        first = run_cycle(controller)
        clock.advance(timedelta(hours=6))
        return first, run_cycle(controller)
    finally:
        controller.close()


def test_new_events_move_the_forecast_origin_and_the_plan(
    project: Path, two_day_events: Path, clock: FixedClock
) -> None:
    first, second = two_cycles_six_hours_apart(project, clock)
    assert second.ingest.events > 0
    assert second.origin - first.origin == timedelta(hours=6)


def test_plan_only_mode_plans_but_never_applies(project: Path, clock: FixedClock) -> None:
    config = load_config(project).model_copy(update={"apply_mode": "plan-only"})
    controller = build_controller(config, clock=clock)
    try:
        outcome = run_cycle(controller)
        again = run_cycle(controller)
    finally:
        controller.close()
    assert outcome.plan_status == "plan-only"
    assert again.plan.has_changes, "nothing was applied, so the same changes are still pending"
    assert not (controller.workspace.stack_dir / "terraform.tfstate").exists()


def test_a_missing_persona_directory_fails_the_cycle_and_keeps_the_previous_state(
    controller: Controller, clock: FixedClock
) -> None:
    run_cycle(controller)
    before = controller.state_store.get()
    shutil.rmtree(controller.config.personas_dir)

    with pytest.raises(CycleFailed) as failure:
        run_cycle(controller)

    assert failure.value.step == "personas"
    assert "persona directory does not exist" in str(failure.value)
    assert controller.state_store.get() == before
    record = controller.run_store.recent(1)[0]
    assert record.status == "failed" and "personas" in (record.error or "")


def test_an_unreadable_event_file_fails_ingest_and_the_next_cycle_starts_clean(
    project: Path, two_day_events: Path, clock: FixedClock, tmp_path: Path
) -> None:
    broken = tmp_path / "events-broken.ndjson.gz"
    broken.write_bytes(b"this is not gzip")
    config = load_config(project)
    config = config.model_copy(
        update={"events": config.events.model_copy(update={"source": f"file://{broken}"})}
    )
    controller = build_controller(config, clock=clock)
    try:
        with pytest.raises(CycleFailed) as failure:
            run_cycle(controller)
        assert failure.value.step == "ingest"
        assert str(broken) in str(failure.value)
        assert controller.state_store.get() is None

        shutil.copyfile(two_day_events, broken.with_suffix(""))
        controller.source.path = broken.with_suffix("")
        recovered = run_cycle(controller)
    finally:
        controller.close()
    assert recovered.ingest.events > 0
    assert [r.status for r in controller.run_store.recent(2)] == ["ok", "failed"]


def test_a_cycle_left_running_by_a_crash_is_reported_and_marked_interrupted(
    controller: Controller,
) -> None:
    crashed = controller.run_store.start_cycle(controller.clock.now())

    outcome = run_cycle(controller)

    assert outcome.interrupted_before == (crashed,)
    statuses = {r.cycle_id: r.status for r in controller.run_store.recent(5)}
    assert statuses[crashed] == "interrupted"


def test_forecasts_are_kept_and_scored_against_what_happened_next(
    project: Path, two_day_events: Path, clock: FixedClock
) -> None:
    first, second = two_cycles_six_hours_apart(project, clock)
    assert first.state.feedback == {}  # nothing realized yet
    feedback = second.state.feedback
    assert set(feedback) >= {
        "peak-hour-shopper.mase",
        "peak-hour-shopper.bias",
        "peak-hour-shopper.coverage",
    }
    assert 0.0 <= feedback["peak-hour-shopper.coverage"] <= 1.0
    assert feedback["peak-hour-shopper.mase"] > 0
