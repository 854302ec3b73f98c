"""Reading plans from `terraform show -json` (never from human plan text)."""

from __future__ import annotations

import json
from typing import Any

from controller.domain.errors import TerraformError
from controller.domain.plan import Action, PlanSummary, ResourceChange


def parse_plan(plan_id: str, show_json: str) -> PlanSummary:
    try:
        plan = json.loads(show_json)
    except json.JSONDecodeError as exc:
        raise TerraformError("show -json", 0, f"unreadable plan JSON: {exc}") from exc
    changes = tuple(
        ResourceChange(address=str(rc["address"]), action=_action(rc["change"]["actions"]))
        for rc in plan.get("resource_changes", [])
    )
    return PlanSummary(plan_id=plan_id, changes=changes)


def _action(actions: list[Any]) -> Action:
    kinds = set(actions)
    if kinds == {"create", "delete"}:
        return "replace"
    if len(actions) == 1 and actions[0] in ("create", "update", "delete", "read", "no-op"):
        action: Action = actions[0]
        return action
    raise TerraformError("show -json", 0, f"unknown change actions {actions!r}")
