"""FleetStateDocument: the one JSON document that says where everything stands.

Versioned: `schema_version` changes only when a field changes meaning or goes away; readers of
version N can read any document with the same schema_version. `fleetctl state --schema` prints it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

SCHEMA_VERSION = 3
"""2: drift.findings became typed records (were strings); drift.checks and monitor added.
3: anomalies became typed records (were strings)"""

PlanStatus = Literal["applied", "no-changes", "waiting-for-review", "plan-only", "failed"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonaInForce(_Doc):
    key: str
    persona_name: str
    content_hash: str = Field(description="sha256 of the canonical JSON of the definition")
    source: str
    version: int | None = Field(
        default=None, description="persona store version in force; null if not synced"
    )


class PersonaSilenceState(_Doc):
    window_start: datetime = Field(description="the last day of stored metrics, not wall time")
    window_end: datetime
    personas: list[str] = Field(
        description="personas in force that matched no session in the window: check their figures"
    )


class FleetState(_Doc):
    name: str
    region: str
    instance_type: str
    capacity_now: int | None = Field(description="desired capacity last applied; null if never")
    desired: int
    min_size: int
    max_size: int
    peak_next_horizon: int
    lb_capacity_units: int
    scheduled_actions: int
    reasons: list[str]


class ForecastPoint(_Doc):
    time: datetime
    mean: float
    p05: float
    p95: float


class PersonaForecast(_Doc):
    persona: str
    origin: datetime
    step_seconds: int
    horizon_steps: int
    model: str
    backtest_score: float | None
    peak_mean: float
    next_hours: list[ForecastPoint] = Field(description="hourly points over the next 6 hours")


class PlanState(_Doc):
    plan_id: str
    status: PlanStatus
    summary: str
    add: int
    change: int
    destroy: int
    replace: int


class IngestionState(_Doc):
    source: str
    events_total: int
    events_this_cycle: int
    dead_letters_total: int
    dead_letters_this_cycle: int
    watermark: datetime | None


class DriftFindingState(_Doc):
    view: Literal["terraform", "aws"]
    resource: str = Field(description="e.g. autoscaling_group/fleet-web or a Terraform address")
    attribute: str
    applied: JsonValue = Field(description="what the controller applied (Terraform's record)")
    live: JsonValue = Field(description="what runs now (null: the object is gone)")
    classification: Literal["drift", "expected", "unknown"] = Field(
        description="drift: changed outside Terraform; expected: the autoscaler or a scheduled "
        "action moved it within the applied bounds; unknown: could not be read"
    )
    reason: str
    fleets: list[str]
    since: datetime = Field(description="first seen; kept across checks while it lasts")
    last_seen: datetime


class DriftCheckState(_Doc):
    view: Literal["terraform", "aws"]
    checked_at: datetime
    outcome: Literal["in-sync", "drifted", "failed", "skipped"]
    detail: str


class DriftState(_Doc):
    status: Literal["not-checked", "in-sync", "drifted"] = Field(
        default="not-checked", description="drifted when any finding is classified drift"
    )
    findings: list[DriftFindingState] = Field(default_factory=list)
    checks: list[DriftCheckState] = Field(
        default_factory=list, description="the latest check of each view"
    )


class UtilizationState(_Doc):
    source: Literal["cloudwatch", "event-stream"]
    mean: float | None = Field(description="fraction of capacity, 0.7 = 70 %")
    peak: float | None
    samples: int
    detail: str


class HealthCheckState(_Doc):
    target: str
    outcome: Literal["ok", "failed", "error"]
    detail: str
    latency_ms: float | None


class FleetMonitorState(_Doc):
    fleet: str
    plan_id: str = Field(description="the apply this window follows")
    applied_at: datetime
    window_start: datetime
    window_end: datetime
    window_complete: bool
    checked_at: datetime
    status: Literal["healthy", "under-provisioned", "over-provisioned", "unhealthy", "no-data"]
    target_utilization: float
    tolerance: float
    reason: str
    utilization: list[UtilizationState]
    requests_per_target_per_s: float | None
    health_check: HealthCheckState | None


class AnomalyState(_Doc):
    id: str = Field(description="kind:persona:start (epoch seconds); stable while it lasts")
    kind: Literal[
        "unmatched_sessions",
        "unusual_resources",
        "demand_outside_forecast",
        "unmatched_spike",
        "traffic_vanished",
    ]
    persona: str | None = Field(description="null: not one persona's (e.g. unmatched sessions)")
    status: Literal["open", "ongoing", "resolved"]
    start: datetime
    end: datetime = Field(description="end of the newest finding; the anomaly's end once resolved")
    size: float = Field(
        description="how far off: ratio to the expected value (>1 above, <1 below) or a count"
    )
    evidence: dict[str, float | str] = Field(description="the numbers the detector saw")
    actions: list[Literal["alert", "scale_out", "throttle"]] = Field(
        description="what the configured policy does about this kind"
    )
    mitigation: list[str] = Field(
        default_factory=list,
        description="what is in force because of it (scale-out overrides, rate limits)",
    )


class Incident(_Doc):
    cycle_id: int
    step: str
    status: Literal["retrying", "failed"]
    error: str


class ResourceProfileState(_Doc):
    cpu: float = Field(description="vCPU per active session")
    memory_mb: float
    network_mbps: float
    iops: float


class ProfileLearningState(_Doc):
    in_use: Literal["learned", "declared"]
    declared: ResourceProfileState
    learned: ResourceProfileState | None = Field(description="null until enough buckets measured")
    learned_at: datetime | None
    buckets: int | None = Field(description="buckets the learned medians were taken over")


class IntervalLearningState(_Doc):
    rule: Literal["replace", "blend", "off"]
    realized_forecasts: int = Field(description="published forecasts whose errors fed the bands")
    recalibrated_steps: int = Field(
        description="lead times with enough realized errors (replace: only those are used)"
    )
    horizon_steps: int
    recent_coverage: float | None = Field(description="p05..p95 coverage of those forecasts")


class BiasLearningState(_Doc):
    factor: float = Field(description="the next forecasts are multiplied by this (1 = none)")
    since: datetime | None = Field(description="when the factor in force was set")
    reason: str = Field(description="why it was set")
    last_test: str = Field(description="this cycle's test of the remaining bias")


class ModelChoiceState(_Doc):
    model: str
    selected_at: datetime | None
    reason: str = Field(description="why (re-)selected: first, scheduled, or MASE growth")
    reselected_this_cycle: bool
    baseline_mase: float | None = Field(description="MASE of its forecasts when first scored")
    rolling_mase: float | None = Field(description="MASE of its forecasts over the window")


class PersonaLearningState(_Doc):
    persona: str
    intervals: IntervalLearningState
    bias: BiasLearningState
    model: ModelChoiceState
    profile: ProfileLearningState


class FleetStateDocument(_Doc):
    schema_version: int = SCHEMA_VERSION
    version: int = Field(0, description="increases by one with every stored document")
    generated_at: datetime
    cycle_id: int
    clock: Literal["system", "replay"]
    now: datetime = Field(description="the controller clock's time when the cycle ran")
    personas: list[PersonaInForce]
    personas_without_sessions: PersonaSilenceState | None = Field(
        default=None, description="null while the store holds less than a day of metrics"
    )
    fleets: list[FleetState]
    forecasts: list[PersonaForecast]
    last_plan: PlanState | None
    ingestion: IngestionState
    drift: DriftState = Field(default_factory=DriftState)
    monitor: list[FleetMonitorState] = Field(
        default_factory=list, description="per fleet: how it did in the window after the last apply"
    )
    anomalies: list[AnomalyState] = Field(
        default_factory=list,
        description="unresolved anomalies and those resolved in the last day, oldest first",
    )
    feedback: dict[str, float] = Field(default_factory=dict)
    learning: list[PersonaLearningState] = Field(
        default_factory=list,
        description="per persona: what the feedback loop changed (bands, bias, model, profile)",
    )
    incidents: list[Incident] = Field(
        default_factory=list, description="steps that retried or failed in the last 10 cycles"
    )
