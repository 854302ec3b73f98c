"""Reading plans from `terraform show -json` (never from human plan text)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controller.domain.errors import TerraformError
from controller.domain.plan import Action, PlanSummary, ResourceChange


def parse_plan(plan_id: str, show_json: str) -> PlanSummary:
    try:
        plan = json.loads(show_json)
    except json.JSONDecodeError as exc:
        raise TerraformError("show -json", 0, f"unreadable plan JSON: {exc}") from exc
    raw = plan.get("resource_changes", [])
    changes = tuple(
        ResourceChange(
            address=str(rc["address"]),
            action=_action(rc["change"]["actions"]),
            type=str(rc.get("type", "")),
            name=str(rc.get("name", "")),
        )
        for rc in raw
    )
    return PlanSummary(plan_id=plan_id, changes=changes, fingerprint=fingerprint(raw))


def fingerprint(resource_changes: list[Any]) -> str:
    """What the plan would do, without its id or timestamps: the basis of 'plan unchanged'."""
    essence = sorted(
        (
            {
                "address": rc["address"],
                "actions": rc["change"]["actions"],
                "before": rc["change"].get("before"),
                "after": rc["change"].get("after"),
            }
            for rc in resource_changes
            if rc["change"]["actions"] != ["no-op"]
        ),
        key=lambda c: str(c["address"]),
    )
    return hashlib.sha256(json.dumps(essence, sort_keys=True).encode()).hexdigest()


def _action(actions: list[Any]) -> Action:
    kinds = set(actions)
    if kinds == {"create", "delete"}:
        return "replace"
    if len(actions) == 1 and actions[0] in ("create", "update", "delete", "read", "no-op"):
        action: Action = actions[0]
        return action
    raise TerraformError("show -json", 0, f"unknown change actions {actions!r}")
