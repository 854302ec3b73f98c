"""FleetStateDocument: the one JSON document that says where everything stands.

Versioned: `schema_version` changes only when a field changes meaning or goes away; readers of
version N can read any document with the same schema_version. `fleetctl state --schema` prints it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

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


class DriftState(_Doc):
    status: Literal["not-checked", "in-sync", "drifted"] = "not-checked"
    findings: list[str] = Field(default_factory=list)


class Incident(_Doc):
    cycle_id: int
    step: str
    status: Literal["retrying", "failed"]
    error: str


class FleetStateDocument(_Doc):
    schema_version: int = SCHEMA_VERSION
    version: int = Field(0, description="increases by one with every stored document")
    generated_at: datetime
    cycle_id: int
    clock: Literal["system", "replay"]
    now: datetime = Field(description="the controller clock's time when the cycle ran")
    personas: list[PersonaInForce]
    fleets: list[FleetState]
    forecasts: list[PersonaForecast]
    last_plan: PlanState | None
    ingestion: IngestionState
    drift: DriftState = Field(default_factory=DriftState)
    anomalies: list[str] = Field(default_factory=list)
    feedback: dict[str, float] = Field(default_factory=dict)
    incidents: list[Incident] = Field(
        default_factory=list, description="steps that retried or failed in the last 10 cycles"
    )
