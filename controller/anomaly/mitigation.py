"""What to do about an anomaly: policies map its kind to actions (pure; the cycle applies them).

- `alert`: only tell people (every policy alerts; this is the default).
- `scale_out`: an allocation override for each fleet serving the persona: desired capacity times
  `factor` (at least +`min_extra` instances, capped at the fleet's max) for the steps before the
  override expires (`duration` after the anomaly was last seen). The reason string goes into the
  allocation's reasons and so into the plan review.
- `throttle`: a recommended rate limit (requests per 5 minutes per client IP, the unit of an AWS WAF
  rate-based rule) for each fleet serving the persona, rendered as the Terraform variable
  `anomaly_rate_limits` (docs/anomalies.md says how to wire it to a WAF rule).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from controller.anomaly.records import Anomaly, AnomalyKind

Action = Literal["alert", "scale_out", "throttle"]
RATE_LIMIT_VARIABLE = "anomaly_rate_limits"
WAF_MIN_LIMIT = 10
"""AWS WAF's smallest rate-based limit (requests per evaluation window)"""


@dataclass(frozen=True)
class Policy:
    kind: AnomalyKind
    actions: tuple[Action, ...] = ("alert",)
    factor: float = 1.5
    min_extra: int = 1
    duration: timedelta = timedelta(minutes=30)
    throttle_headroom: float = 1.2
    """the recommended limit is this times the persona's expected per-client rate"""


@dataclass(frozen=True)
class AllocationOverride:
    fleet: str
    factor: float
    min_extra: int
    expires: datetime
    anomaly_id: str
    reason: str


def overrides_for(
    anomalies: Sequence[Anomaly],
    policies: Mapping[AnomalyKind, Policy],
    fleets_of: Mapping[str, Sequence[str]],
    all_fleets: Sequence[str],
) -> list[AllocationOverride]:
    """Scale-out overrides of the unresolved anomalies whose policy asks for one.

    An anomaly without a persona (an unmatched spike) scales every fleet: whoever the new traffic
    is, some fleet serves it."""
    out = []
    for anomaly in anomalies:
        policy = policies.get(anomaly.kind)
        if anomaly.status == "resolved" or policy is None or "scale_out" not in policy.actions:
            continue
        if _below_forecast(anomaly):
            continue  # less demand than forecast never needs more capacity
        fleets = fleets_of.get(anomaly.persona, ()) if anomaly.persona else all_fleets
        for fleet in fleets:
            out.append(
                AllocationOverride(
                    fleet,
                    policy.factor,
                    policy.min_extra,
                    anomaly.end + policy.duration,
                    anomaly.id,
                    f"anomaly {anomaly.id}: {anomaly.subject}, size {anomaly.size:.3g}",
                )
            )
    return out


def apply_override(
    fleet: str,
    desired_per_step: Sequence[int],
    step_starts: Sequence[datetime],
    overrides: Sequence[AllocationOverride],
    max_instances: int,
) -> tuple[tuple[int, ...], str]:
    """The fleet's desired instances per step with the unexpired scale-out overrides applied,
    and the reason to show in the plan review ("" when nothing changed)."""
    mine = [o for o in overrides if o.fleet == fleet]
    if not mine:
        return tuple(desired_per_step), ""
    out = list(desired_per_step)
    for i, (desired, start) in enumerate(zip(desired_per_step, step_starts, strict=True)):
        live = [o for o in mine if start < o.expires]
        if live:
            bumped = max(max(math.ceil(desired * o.factor), desired + o.min_extra) for o in live)
            out[i] = max(desired, min(bumped, max_instances))
    if out == list(desired_per_step):
        return tuple(out), ""
    strongest = max(mine, key=lambda o: o.factor)
    until = max(o.expires for o in mine)
    reason = (
        f"temporary scale-out x{strongest.factor:g} (+{strongest.min_extra} at least) until "
        f"{until.isoformat()}: {'; '.join(o.reason for o in mine)}"
    )
    return tuple(out), reason


def throttle_limits(
    anomalies: Sequence[Anomaly],
    policies: Mapping[AnomalyKind, Policy],
    fleets_of: Mapping[str, Sequence[str]],
    expected_per_client_5min: Mapping[str, float],
) -> dict[str, int]:
    """fleet -> recommended requests per 5 minutes per client, for unresolved anomalies whose
    policy asks to throttle. The limit is the persona's expected per-client rate times the
    policy's headroom, so normal clients pass and a burst from a few clients is cut."""
    limits: dict[str, int] = {}
    for anomaly in anomalies:
        policy = policies.get(anomaly.kind)
        if anomaly.status == "resolved" or policy is None or "throttle" not in policy.actions:
            continue
        persona = anomaly.persona
        if persona is None or _below_forecast(anomaly):
            continue  # nobody to throttle, or less traffic than expected
        rate = expected_per_client_5min.get(persona)
        if rate is None:
            continue
        limit = max(WAF_MIN_LIMIT, math.ceil(rate * policy.throttle_headroom))
        for fleet in fleets_of.get(persona, ()):
            limits[fleet] = min(limits.get(fleet, limit), limit)
    return limits


def rate_limit_variables(limits: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """The Terraform variable (tfvars JSON data): empty map = no rule."""
    return {RATE_LIMIT_VARIABLE: dict(sorted(limits.items()))}


def _below_forecast(anomaly: Anomaly) -> bool:
    return (
        anomaly.kind == "demand_outside_forecast" and anomaly.evidence.get("direction") == "below"
    )
