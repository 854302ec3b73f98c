"""Per-fleet drift policy: `report` holds plans that would revert a manual change until a person
approves; `reconcile` re-plans and applies at once, under the same guardrails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controller.domain.drift import DriftFinding


def fleets_to_reconcile(
    findings: Sequence[DriftFinding], policies: Mapping[str, str]
) -> tuple[str, ...]:
    """Fleets with drift whose policy is reconcile (a finding without fleets concerns all)."""
    found = set()
    for f in findings:
        if not f.is_drift:
            continue
        for fleet in f.fleets or tuple(policies):
            if policies.get(fleet) == "reconcile":
                found.add(fleet)
    return tuple(sorted(found))


def reported_drift(
    findings: Sequence[DriftFinding], policies: Mapping[str, str]
) -> dict[str, list[DriftFinding]]:
    """Per fleet whose policy is report: its open drift (a plan touching it would revert it)."""
    held: dict[str, list[DriftFinding]] = {}
    for f in findings:
        if not f.is_drift:
            continue
        for fleet in f.fleets or tuple(policies):
            if policies.get(fleet, "report") == "report":
                held.setdefault(fleet, []).append(f)
    return held
