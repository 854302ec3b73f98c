"""The embedded Terraform against a temporary copy of the local stack: init, plan, show, apply."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.adapters.rendering import VariableRenderer
from controller.adapters.terraform.runner import EmbeddedTerraform
from controller.adapters.terraform.workspace import TerraformWorkspace
from controller.domain.allocation import FleetAllocation, ScheduledAction, WarmPool
from controller.domain.errors import PermanentError, TemporaryError, TerraformError
from tests.helpers import ROOT

pytestmark = pytest.mark.terraform
NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)


def allocation(desired: int = 3, actions: int = 2, name: str = "web") -> FleetAllocation:
    return FleetAllocation(
        fleet=name,
        region="us-east-1",
        instance_type="m6i.large",
        desired_now=desired,
        min_size=1,
        max_size=10,
        desired_per_step=(desired,),
        scheduled_actions=tuple(
            ScheduledAction(f"{name}-{i}", NOON + timedelta(hours=i), desired + i, 1, 10)
            for i in range(actions)
        ),
        lb_capacity_units=2,
    )


@pytest.fixture
def workspace(tmp_path: Path) -> TerraformWorkspace:
    stack = tmp_path / "stack-src"
    shutil.copytree(ROOT / "terraform" / "stacks" / "local", stack)
    ws = TerraformWorkspace(EmbeddedTerraform(), stack, tmp_path / "work")
    ws.prepare()
    return ws


def render(ws: TerraformWorkspace, *allocations: FleetAllocation) -> None:
    VariableRenderer(ROOT / "templates").write(list(allocations), ws.stack_dir)


def test_plan_reads_changes_from_show_json_and_apply_makes_them_real(
    workspace: TerraformWorkspace,
) -> None:
    render(workspace, allocation())
    plan = workspace.plan("p1")
    assert plan.count("create") == 6  # group, desired, target tracking, LB, two schedules
    assert plan.has_changes
    workspace.apply("p1")
    state = json.loads((workspace.stack_dir / "terraform.tfstate").read_text())
    assert state["outputs"]["desired_capacity"]["value"] == {"web": 3}

    again = workspace.plan("p2")
    assert not again.has_changes and again.describe() == "no changes"


def test_a_capacity_change_updates_in_place_and_dropped_actions_are_destroyed(
    workspace: TerraformWorkspace,
) -> None:
    render(workspace, allocation(desired=3, actions=2))
    workspace.plan("p1")
    workspace.apply("p1")
    render(workspace, allocation(desired=5, actions=1))
    plan = workspace.plan("p2")
    actions = {c.address: c.action for c in plan.changes if c.action != "no-op"}
    assert actions == {
        'terraform_data.desired_capacity["web"]': "update",
        'terraform_data.scheduled_action["web/web-0"]': "update",
        'terraform_data.scheduled_action["web/web-1"]': "delete",
    }


def test_invalid_variables_fail_the_plan_with_terraforms_own_diagnostics(
    workspace: TerraformWorkspace,
) -> None:
    (workspace.stack_dir / "fleets.auto.tfvars.json").write_text(
        json.dumps({"fleets": {"web": {"region": "x"}}})
    )
    with pytest.raises(TerraformError) as error:
        workspace.plan("bad")
    assert error.value.command == "plan" and error.value.exit_code == 1
    assert "fleets" in error.value.diagnostics
    assert "Unable to open CLI configuration file" not in error.value.diagnostics


def test_the_stack_validation_rejects_desired_outside_the_bounds(
    workspace: TerraformWorkspace,
) -> None:
    render(workspace, allocation(desired=30))
    with pytest.raises(TerraformError, match="min_size <= desired_capacity <= max_size"):
        workspace.plan("out-of-bounds")


def test_applying_a_plan_that_was_never_saved_is_refused(workspace: TerraformWorkspace) -> None:
    with pytest.raises(PermanentError, match="no saved plan file"):
        workspace.apply("never-planned")


def test_rendering_is_deterministic_and_sorted(tmp_path: Path) -> None:
    renderer = VariableRenderer(ROOT / "templates")
    a = renderer.write([allocation(name="web"), allocation(name="api")], tmp_path / "a")
    b = renderer.write([allocation(name="api"), allocation(name="web")], tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    data = json.loads(a.read_text())
    assert list(data["fleets"]) == ["api", "web"]
    assert data["fleets"]["web"]["scheduled_actions"][1] == {
        "name": "web-1",
        "start_time": "2026-11-02T13:00:00Z",
        "desired_capacity": 4,
        "min_size": 1,
        "max_size": 10,
    }


def test_a_broken_template_is_reported_before_terraform_runs(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "fleets.auto.tfvars.json.j2").write_text('{"fleets": {{ fleets | tojson }},}')
    with pytest.raises(PermanentError, match="rendered invalid JSON at line 1"):
        VariableRenderer(templates).variables([allocation()])
    (templates / "fleets.auto.tfvars.json.j2").write_text('{"x": {{ missing.value }}}')
    with pytest.raises(PermanentError, match="'missing' is undefined"):
        VariableRenderer(templates).variables([allocation()])


def test_a_second_apply_is_refused_while_one_holds_the_lock_naming_holder_and_age(
    workspace: TerraformWorkspace, tmp_path: Path
) -> None:
    render(workspace, allocation())
    workspace.plan("p1")
    other = TerraformWorkspace(EmbeddedTerraform(), workspace.stack, workspace.workdir)
    with workspace.apply_lock("cycle 7 applying p0"), pytest.raises(TemporaryError) as error:
        other.apply("p1")
    message = str(error.value)
    assert "another apply is running" in message
    assert "held by cycle 7 applying p0 (pid" in message and "for 0s" in message
    assert not (workspace.stack_dir / "terraform.tfstate").exists()
    other.apply("p1")  # once released, the same plan applies
    assert (workspace.stack_dir / "terraform.tfstate").exists()


def test_a_plan_fingerprint_is_equal_for_the_same_changes_and_differs_after_apply(
    workspace: TerraformWorkspace,
) -> None:
    render(workspace, allocation())
    first, second = workspace.plan("p1"), workspace.plan("p2")
    assert first.fingerprint == second.fingerprint
    workspace.apply("p1")
    assert workspace.plan("p3").fingerprint != first.fingerprint


def test_a_fleet_with_a_warm_pool_plans_it_and_one_without_renders_none(
    workspace: TerraformWorkspace,
) -> None:
    pooled = replace(allocation(name="web"), warm_pool=WarmPool("Hibernated", 1, 6, False))
    render(workspace, pooled, allocation(name="api"))
    variables = json.loads((workspace.stack_dir / "fleets.auto.tfvars.json").read_text())
    assert variables["fleets"]["api"]["warm_pool"] is None
    assert variables["fleets"]["web"]["warm_pool"] == {
        "pool_state": "Hibernated",
        "min_size": 1,
        "max_group_prepared_capacity": 6,
        "reuse_on_scale_in": False,
    }
    plan = workspace.plan("p1")
    pools = [c.address for c in plan.changes if "warm_pool" in c.address]
    assert pools == ['terraform_data.warm_pool["web"]']


def test_the_stack_validation_rejects_an_unknown_pool_state(
    workspace: TerraformWorkspace,
) -> None:
    render(workspace, replace(allocation(), warm_pool=WarmPool("Running", 0, 4)))
    with pytest.raises(TerraformError, match='pool_state is "Stopped" or "Hibernated"'):
        workspace.plan("bad-pool")
