"""Policies turn anomalies into an allocation override (with expiry and reason) and a rate limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hcl2

from controller.anomaly.mitigation import (
    RATE_LIMIT_VARIABLE,
    Policy,
    apply_override,
    overrides_for,
    rate_limit_variables,
    throttle_limits,
)
from controller.anomaly.records import Anomaly

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
STEPS = [T0 + timedelta(minutes=5 * i) for i in range(12)]
FLEETS = {"peak-hour-shopper": ["web"], "api-consumer": ["api"]}
TERRAFORM = Path(__file__).resolve().parents[2] / "terraform" / "stacks"


def _burst(status: str = "ongoing", direction: str = "above") -> Anomaly:
    return Anomaly(
        "demand_outside_forecast:peak-hour-shopper:1",
        "demand_outside_forecast",
        "peak-hour-shopper",
        T0 - timedelta(minutes=15),
        T0,
        3.1,
        {"direction": direction},
        status,  # type: ignore[arg-type]
    )


SCALE = {"demand_outside_forecast": Policy("demand_outside_forecast", ("alert", "scale_out"))}


def test_scale_out_raises_the_affected_fleet_until_the_override_expires() -> None:
    overrides = overrides_for([_burst()], SCALE, FLEETS, ["web", "api"])
    assert [o.fleet for o in overrides] == ["web"]
    desired, reason = apply_override("web", [4] * 12, STEPS, overrides, max_instances=30)
    # 30 min after the anomaly was last seen (T0): steps starting before 12:30 are raised
    assert desired == (6,) * 6 + (4,) * 6
    assert "temporary scale-out x1.5" in reason and "peak-hour-shopper" in reason
    assert "2026-03-02T12:30:00+00:00" in reason


def test_scale_out_never_exceeds_the_fleet_maximum_and_leaves_other_fleets_alone() -> None:
    overrides = overrides_for([_burst()], SCALE, FLEETS, ["web", "api"])
    desired, _ = apply_override("web", [20] * 12, STEPS, overrides, max_instances=25)
    assert max(desired) == 25
    assert apply_override("api", [3] * 12, STEPS, overrides, 20) == ((3,) * 12, "")


def test_no_override_for_resolved_anomalies_alert_only_policies_or_demand_below_forecast() -> None:
    alert_only = {"demand_outside_forecast": Policy("demand_outside_forecast")}
    assert overrides_for([_burst()], alert_only, FLEETS, ["web"]) == []
    assert overrides_for([_burst("resolved")], SCALE, FLEETS, ["web"]) == []
    assert overrides_for([_burst(direction="below")], SCALE, FLEETS, ["web"]) == []


def test_throttle_recommends_a_waf_rate_limit_rendered_as_the_terraform_variable() -> None:
    policies = {
        "demand_outside_forecast": Policy(
            "demand_outside_forecast", ("throttle",), throttle_headroom=1.5
        )
    }
    limits = throttle_limits([_burst()], policies, FLEETS, {"peak-hour-shopper": 300.0})
    assert limits == {"web": 450}
    rendered = rate_limit_variables(limits)
    assert json.loads(json.dumps(rendered)) == {RATE_LIMIT_VARIABLE: {"web": 450}}
    tiny = throttle_limits([_burst()], policies, FLEETS, {"peak-hour-shopper": 1.0})
    assert tiny == {"web": 10}  # WAF's minimum


def test_both_stacks_declare_the_rate_limit_variable_identically() -> None:
    declared = []
    for stack in ("local", "aws"):
        with (TERRAFORM / stack / "variables.tf").open() as handle:
            variables = {
                k.strip('"'): v for block in hcl2.load(handle)["variable"] for k, v in block.items()
            }
        declared.append(variables[RATE_LIMIT_VARIABLE])
    assert declared[0] == declared[1]
    assert declared[0]["default"] == {}
