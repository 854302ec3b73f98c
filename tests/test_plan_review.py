"""Plan, review, gate and approve on the real embedded Terraform and SQLite (local stack)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from controller.cli import main
from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.domain.errors import PermanentError
from controller.review.markdown import render_markdown
from controller.review.model import PlanReview
from controller.workflow.cycle import CycleFailed, run_cycle
from controller.workflow.review_step import approve, reviews_dir
from controller.workflow.wiring import build_controller
from tests.helpers import make_project

pytestmark = pytest.mark.terraform


def _project(tmp_path: Path, events: Path, **overrides: object) -> Path:
    return make_project(tmp_path, events=events, **overrides)


def test_a_review_has_a_header_a_section_per_fleet_folded_detail_and_a_footer(
    project: Path, clock: FixedClock
) -> None:
    controller = build_controller(load_config(project), clock=clock)
    try:
        outcome = run_cycle(controller)
    finally:
        controller.close()
    review = outcome.review
    assert review is not None and review.verdict == "apply"
    markdown = render_markdown(review)
    assert markdown.startswith(f"### Plan `{review.plan_id}`: ")
    assert "#### Fleet `web` (us-east-1)" in markdown and "#### Fleet `api` (us-east-1)" in markdown
    assert (
        "<details><summary>Schedule:" in markdown
        and "<details><summary>Why these numbers" in markdown
    )
    assert "\n---\n2 fleets, 2 with changes, 0 with no changes · " in markdown
    assert "$" in review.cost_line() and "/month" in review.cost_line()
    saved = reviews_dir(controller.config)
    assert (saved / f"{review.plan_id}.md").read_text() == markdown
    data = json.loads((saved / f"{review.plan_id}.json").read_text())
    assert data["plan_id"] == review.plan_id and data["fingerprint"] == review.fingerprint
    assert data["fleets"][0]["reasons"]


def test_a_violated_guardrail_holds_the_plan_with_the_reason_in_words(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    project = _project(tmp_path, two_day_events, guardrails={"max_instances": 1})
    controller = build_controller(load_config(project), clock=clock)
    try:
        outcome = run_cycle(controller)
    finally:
        controller.close()
    assert outcome.plan_status == "waiting-for-review"
    assert outcome.review is not None and outcome.review.verdict == "held"
    (violation,) = outcome.review.violations
    assert violation.name == "max_instances"
    assert (
        "web is planned to reach" in violation.message
        and "above max_instances 1" in violation.message
    )
    assert not (controller.workspace.stack_dir / "terraform.tfstate").exists()


def test_destroying_a_fleet_is_held_unless_destroy_is_allowed(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    project = _project(tmp_path, two_day_events)
    config = load_config(project)
    controller = build_controller(config, clock=clock)
    try:
        run_cycle(controller)
        (tmp_path / "personas" / "api-consumer.yaml").unlink()
        only_web = config.model_copy(update={"fleets": [config.fleets[0]]})
        controller.config = only_web
        outcome = run_cycle(controller)
    finally:
        controller.close()
    assert outcome.plan_status == "waiting-for-review"
    assert outcome.review is not None
    message = next(v.message for v in outcome.review.violations if v.name == "no_destroy")
    assert 'terraform_data.autoscaling_group["api"] would be destroyed' in message


def test_review_mode_waits_and_approve_replans_unchanged_then_applies_the_saved_plan(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    project = _project(tmp_path, two_day_events, apply_mode="review")
    controller = build_controller(load_config(project), clock=clock)
    try:
        outcome = run_cycle(controller)
        assert outcome.plan_status == "waiting-for-review"
        assert not (controller.workspace.stack_dir / "terraform.tfstate").exists()

        approval = approve(controller, outcome.plan.plan_id)

        assert approval.applied
        state = json.loads((controller.workspace.stack_dir / "terraform.tfstate").read_text())
        web = next(a for a in outcome.allocations if a.fleet == "web")
        assert state["outputs"]["desired_capacity"]["value"]["web"] == web.desired_now
        stored = controller.plan_store.get(outcome.plan.plan_id)
        assert stored is not None and stored.status == "applied"
        with pytest.raises(Exception, match="is applied; only a plan waiting for review"):
            approve(controller, outcome.plan.plan_id)
    finally:
        controller.close()


def test_approve_refuses_a_plan_that_changed_since_it_was_reviewed(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    project = _project(tmp_path, two_day_events, apply_mode="review")
    config = load_config(project)
    controller = build_controller(config, clock=clock)
    try:
        held = run_cycle(controller)
        # Meanwhile the stack gained a resource: the held plan is no longer what would apply.
        (tmp_path / "stack" / "extra.tf").write_text('resource "terraform_data" "extra" {}\n')

        with pytest.raises(PermanentError, match="changed since it was reviewed"):
            approve(controller, held.plan.plan_id)
        stored = controller.plan_store.get(held.plan.plan_id)
        assert stored is not None and stored.status == "stale"
    finally:
        controller.close()


def test_a_superseded_plan_is_refused_naming_the_newer_one(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    project = _project(tmp_path, two_day_events, apply_mode="review")
    controller = build_controller(load_config(project), clock=clock)
    try:
        older = run_cycle(controller)
        clock.advance(timedelta(minutes=30))
        newer = run_cycle(controller)
        assert newer.plan_status == "waiting-for-review"

        with pytest.raises(PermanentError) as refused:
            approve(controller, older.plan.plan_id)

        assert (
            f"refused: plan {older.plan.plan_id} was superseded by plan {newer.plan.plan_id}"
            in str(refused.value)
        )
        assert f"`fleetctl approve {newer.plan.plan_id}`" in str(refused.value)
        assert not (controller.workspace.stack_dir / "terraform.tfstate").exists()
        stored = controller.plan_store.get(older.plan.plan_id)
        assert stored is not None and stored.status == "waiting-for-review"
    finally:
        controller.close()


def test_after_approve_the_state_and_the_review_files_say_applied_at_once(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    project = _project(tmp_path, two_day_events, apply_mode="review")
    config = load_config(project)
    controller = build_controller(config, clock=clock)
    try:
        held = run_cycle(controller)
        plan_id = held.plan.plan_id
        clock.advance(timedelta(minutes=7))

        approve(controller, plan_id)

        document = json.loads((config.data_dir / "state.json").read_text())
        assert document["version"] == 2
        assert document["last_plan"]["plan_id"] == plan_id
        assert document["last_plan"]["status"] == "applied"
        assert {f["name"]: f["capacity_now"] for f in document["fleets"]} == {
            a.fleet: a.desired_now for a in held.allocations
        }
        stored_state = controller.state_store.get()
        assert stored_state is not None and stored_state.last_plan is not None
        assert stored_state.last_plan.status == "applied"
        review = json.loads((reviews_dir(config) / f"{plan_id}.json").read_text())
        assert review["applied_at"] == clock.now().isoformat()
        assert review["one_line"].endswith("; applied")
        markdown = (reviews_dir(config) / f"{plan_id}.md").read_text()
        assert f"**approved and applied {clock.now():%Y-%m-%d %H:%MZ}**" in markdown
        assert "waiting for approval" not in markdown
    finally:
        controller.close()


def test_a_stored_review_reads_back_as_the_same_review(project: Path, clock: FixedClock) -> None:
    controller = build_controller(load_config(project), clock=clock)
    try:
        review = run_cycle(controller).review
    finally:
        controller.close()
    assert review is not None
    assert PlanReview.from_dict(json.loads(json.dumps(review.to_dict()))) == review


def test_a_failed_apply_reports_terraforms_diagnostics_and_keeps_the_previous_state_document(
    tmp_path: Path, two_day_events: Path, clock: FixedClock
) -> None:
    project = _project(tmp_path, two_day_events)
    controller = build_controller(load_config(project), clock=clock)
    try:
        run_cycle(controller)
        before = controller.state_store.get()
        (tmp_path / "stack" / "breaks_on_apply.tf").write_text(
            'resource "terraform_data" "breaks_on_apply" {\n'
            '  provisioner "local-exec" {\n    command = "echo refusing >&2; exit 3"\n  }\n}\n'
        )
        with pytest.raises(CycleFailed) as failure:
            run_cycle(controller)
        assert failure.value.step == "gate-apply"
        assert "terraform apply failed" in str(failure.value)
        assert "local-exec provisioner error" in str(failure.value)
        assert controller.state_store.get() == before
        failed_id = controller.run_store.recent(1)[0].cycle_id
        statuses = [p for p in (reviews_dir(controller.config)).glob(f"{failed_id:06d}-*.json")]
        plan_id = statuses[0].stem
        stored = controller.plan_store.get(plan_id)
        assert stored is not None and stored.status == "failed"
    finally:
        controller.close()


def test_fleetctl_plan_prints_the_review_and_fleetctl_approve_applies_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(project), "plan"]) == 0
    printed = capsys.readouterr().out
    assert (
        printed.startswith("### Plan `") and "waiting for approval: `fleetctl approve " in printed
    )
    plan_id = printed.split("`")[1]

    assert main(["--config", str(project), "approve", plan_id]) == 0
    assert f"plan {plan_id} re-planned unchanged and applied" in capsys.readouterr().out
    assert main(["--config", str(project), "approve", "no-such-plan"]) == 1
    assert "no plan 'no-such-plan'" in capsys.readouterr().err
