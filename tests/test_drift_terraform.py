"""Terraform's drift view and the drift policies, on the local stack with the embedded Terraform.

The local stack's group stand-in (terraform_data) never changes on refresh, so the tests change
what Terraform recorded for it in terraform.tfstate, out of band, as a refresh of a real group
would have: the `fleet_groups` output recomputed from that record no longer matches the recorded
output, and `plan -refresh-only -detailed-exitcode` really exits 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from controller.cli import main
from controller.config import load_config
from controller.domain.alert import Alert, AlertEvent
from controller.domain.clock import FixedClock
from controller.workflow.cycle import run_cycle
from controller.workflow.drift import run_drift_check
from controller.workflow.review_step import approve
from controller.workflow.wiring import Controller, build_controller
from tests.helpers import make_project

pytestmark = pytest.mark.terraform


@dataclass
class RecordingSink:
    delivered: list[tuple[str, AlertEvent]] = field(default_factory=list)

    def deliver(self, alert: Alert, event: AlertEvent) -> None:
        self.delivered.append((alert.message(event), event))


def fleets(web_policy: str) -> list[dict[str, Any]]:
    return [
        {"name": "web", "min_instances": 2, "max_instances": 40, "drift_policy": web_policy},
        {"name": "api", "instance_type": "c6i.large", "min_instances": 1, "max_instances": 10},
    ]


def build(
    tmp_path: Path, events: Path, clock: FixedClock, sink: RecordingSink, **overrides: Any
) -> Controller:
    path = make_project(tmp_path, events=events, **overrides)
    return build_controller(load_config(path), clock=clock, alert_sinks=[sink])


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def reporting(
    tmp_path: Path, two_day_events: Path, clock: FixedClock, sink: RecordingSink
) -> Iterator[Controller]:
    controller = build(tmp_path, two_day_events, clock, sink, fleets=fleets("report"))
    run_cycle(controller)
    yield controller
    controller.close()


def state_file(controller: Controller) -> Path:
    return controller.workspace.stack_dir / "terraform.tfstate"


def recorded_group(controller: Controller, fleet: str) -> dict[str, Any]:
    state = json.loads(state_file(controller).read_text())
    (resource,) = [r for r in state["resources"] if r["name"] == "autoscaling_group"]
    (instance,) = [i for i in resource["instances"] if i["index_key"] == fleet]
    value: dict[str, Any] = instance["attributes"]["output"]["value"]
    return value


def change_group_out_of_band(controller: Controller, fleet: str, **changes: Any) -> None:
    """What a refresh would record if someone changed the group in AWS by hand."""
    path = state_file(controller)
    state = json.loads(path.read_text())
    (resource,) = [r for r in state["resources"] if r["name"] == "autoscaling_group"]
    (instance,) = [i for i in resource["instances"] if i["index_key"] == fleet]
    for side in ("input", "output"):
        instance["attributes"][side]["value"].update(changes)
    state["serial"] += 1
    path.write_text(json.dumps(state, indent=2))


def test_a_stack_just_applied_has_no_terraform_drift(reporting: Controller) -> None:
    report = run_drift_check(reporting, "terraform")

    assert report.check.outcome == "in-sync"
    assert "plan -refresh-only exit 0" in report.check.detail
    assert report.findings == ()


def test_a_group_changed_outside_terraform_makes_the_refresh_only_plan_exit_2(
    reporting: Controller, sink: RecordingSink
) -> None:
    change_group_out_of_band(reporting, "web", max_size=99)

    report = run_drift_check(reporting, "terraform")

    assert report.check.outcome == "drifted"
    assert "plan -refresh-only exit 2" in report.check.detail
    (finding,) = report.check.findings
    assert (finding.resource, finding.attribute, finding.fleets) == (
        "output.fleet_groups",
        "web",
        ("web",),
    )
    assert isinstance(finding.applied, dict) and isinstance(finding.live, dict)
    assert (finding.applied["max_size"], finding.live["max_size"]) == (40, 99)
    assert [event for _, event in sink.delivered] == ["opened"]
    state = reporting.state_store.get()
    assert state is not None and state.drift.status == "drifted"
    assert state.drift.findings[0].since == reporting.clock.now()


def test_report_policy_holds_the_next_plan_that_would_revert_the_drift(
    reporting: Controller,
) -> None:
    change_group_out_of_band(reporting, "web", max_size=99)
    run_drift_check(reporting, "terraform")

    outcome = run_cycle(reporting)

    assert outcome.review is not None and outcome.review.verdict == "held"
    (hold,) = [g for g in outcome.review.guardrails if g.name == "drift_policy_report"]
    assert (
        not hold.ok and "web: the plan would revert drift (output.fleet_groups web)" in hold.message
    )
    assert outcome.plan_status == "waiting-for-review"
    assert recorded_group(reporting, "web")["max_size"] == 99, "nothing was reverted"


def test_reconcile_policy_replans_applies_and_the_drift_resolves(
    tmp_path: Path, two_day_events: Path, clock: FixedClock, sink: RecordingSink
) -> None:
    controller = build(tmp_path, two_day_events, clock, sink, fleets=fleets("reconcile"))
    try:
        run_cycle(controller)
        applied = recorded_group(controller, "web")
        change_group_out_of_band(controller, "web", max_size=99, instance_type="r6i.large")

        report = run_drift_check(controller, "terraform")
        after = run_drift_check(controller, "terraform")
    finally:
        controller.close()

    reconcile = report.reconcile
    assert reconcile is not None and reconcile.fleets == ("web",)
    assert reconcile.status == "applied"
    assert reconcile.review.verdict == "apply" and not reconcile.review.violations
    assert recorded_group(controller, "web") == applied
    stored = controller.plan_store.get(reconcile.plan_id)
    assert stored is not None and stored.status == "applied"
    assert stored.summary["reconcile"]["fleets"] == ["web"]  # type: ignore[index]
    assert after.check.outcome == "in-sync"
    assert [event for _, event in sink.delivered] == ["opened", "resolved"]


def test_reconcile_goes_through_the_gate_in_review_mode_it_waits_for_approval(
    tmp_path: Path, two_day_events: Path, clock: FixedClock, sink: RecordingSink
) -> None:
    controller = build(tmp_path, two_day_events, clock, sink, fleets=fleets("reconcile"))
    try:
        run_cycle(controller)
        controller.config = controller.config.model_copy(update={"apply_mode": "review"})
        change_group_out_of_band(controller, "web", max_size=99)

        report = run_drift_check(controller, "terraform")
        assert report.reconcile is not None
        assert report.reconcile.status == "waiting-for-review"
        assert recorded_group(controller, "web")["max_size"] == 99
        again = run_drift_check(controller, "terraform")
        assert again.reconcile is None
        assert (
            again.reconcile_note
            == f"plan {report.reconcile.plan_id} still waits for `fleetctl approve`"
        )

        approval = approve(controller, report.reconcile.plan_id)
        after = run_drift_check(controller, "terraform")
    finally:
        controller.close()
    assert approval.applied
    assert recorded_group(controller, "web")["max_size"] == 40
    assert after.check.outcome == "in-sync"


def test_a_reconcile_that_would_also_revert_a_report_fleet_is_held(
    tmp_path: Path, two_day_events: Path, clock: FixedClock, sink: RecordingSink
) -> None:
    mixed = fleets("report")
    mixed[1]["drift_policy"] = "reconcile"
    controller = build(tmp_path, two_day_events, clock, sink, fleets=mixed)
    try:
        run_cycle(controller)
        change_group_out_of_band(controller, "web", max_size=99)
        change_group_out_of_band(controller, "api", max_size=77)

        report = run_drift_check(controller, "terraform")
    finally:
        controller.close()

    assert report.reconcile is not None and report.reconcile.fleets == ("api",)
    assert report.reconcile.status == "waiting-for-review"
    assert [g.name for g in report.reconcile.review.violations] == ["drift_policy_report"]
    assert recorded_group(controller, "web")["max_size"] == 99
    assert recorded_group(controller, "api")["max_size"] == 77


def test_fleetctl_drift_prints_findings_and_exits_2_on_drift(
    reporting: Controller, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = reporting.config.data_dir.parent / "controller.yaml"
    args = ["--config", str(config_path), "drift", "--view", "terraform"]

    assert main([*args, "--detailed-exitcode"]) == 0
    assert "drift terraform in-sync" in capsys.readouterr().out

    change_group_out_of_band(reporting, "web", min_size=1)
    code = main([*args, "--json", "--detailed-exitcode"])

    document = json.loads(capsys.readouterr().out)
    assert code == 2
    assert document["status"] == "drifted"
    (finding,) = document["findings"]
    assert finding["resource"] == "output.fleet_groups" and finding["classification"] == "drift"
    assert finding["applied"]["min_size"] == 2 and finding["live"]["min_size"] == 1

    assert main(["--config", str(config_path), "state"]) == 0
    text = capsys.readouterr().out
    assert "drift    drifted" in text and "output.fleet_groups web" in text


def test_a_check_before_anything_was_applied_is_skipped(
    tmp_path: Path, two_day_events: Path, clock: FixedClock, sink: RecordingSink
) -> None:
    controller = build(tmp_path, two_day_events, clock, sink, apply_mode="plan-only")
    try:
        report = run_drift_check(controller, "terraform")
    finally:
        controller.close()
    assert (report.check.outcome, report.check.detail) == ("skipped", "nothing applied yet")


def test_the_api_serves_the_typed_findings_and_prometheus_counts_them(
    reporting: Controller,
) -> None:
    from fastapi.testclient import TestClient

    from controller.api.app import create_app

    change_group_out_of_band(reporting, "web", max_size=99)
    run_drift_check(reporting, "terraform")

    class Status:
        is_leader, cycles, failures = True, 1, 0

    with TestClient(create_app(reporting, Status(), None)) as client:
        drift = client.get("/drift").json()
        metrics = client.get("/metrics").text
    assert drift["status"] == "drifted"
    (finding,) = drift["findings"]
    assert finding["resource"] == "output.fleet_groups" and finding["live"]["max_size"] == 99
    assert [c["view"] for c in drift["checks"]] == ["terraform"]
    assert 'fleet_drift_findings{classification="drift",view="terraform"} 1.0' in metrics


def test_the_daemon_runs_the_drift_check_as_a_job_of_its_own(
    tmp_path: Path, two_day_events: Path, clock: FixedClock, sink: RecordingSink
) -> None:
    import io

    from controller.daemon import Daemon

    controller = build(
        tmp_path,
        two_day_events,
        clock,
        sink,
        drift={"terraform": {"interval": "1s"}},
        ha={"enabled": False},
        api={"enabled": False},
    )
    out = io.StringIO()
    try:
        Daemon(controller, out=out, max_cycles=3).serve(install_signals=False)
    finally:
        controller.close()
    text = out.getvalue()
    assert "Drift checks: terraform every 0:00:01." in text
    assert "drift terraform in-sync: plan -refresh-only exit 0" in text
    checks = controller.drift_store.last_checks()
    assert [(c.view, c.outcome) for c in checks] == [("terraform", "in-sync")]
