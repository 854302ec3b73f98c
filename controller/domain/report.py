"""What `fleetctl report` shows, gathered by the workflow and rendered by an adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controller.domain.forecast import Forecast
from controller.domain.series import Series
from controller.domain.state import FleetStateDocument


@dataclass(frozen=True)
class PlanLine:
    plan_id: str
    created_at: datetime
    status: str
    describe: str


@dataclass(frozen=True)
class PersonaPanel:
    key: str
    actual: Series
    latest: Forecast | None
    hour_ahead: list[tuple[datetime, float]]
    """each stored forecast's value one hour after its origin: what was expected an hour early"""


@dataclass(frozen=True)
class FleetPanel:
    name: str
    personas: tuple[str, ...]
    capacity: list[tuple[datetime, int]]
    """desired capacity of each plan, at the controller time of its cycle"""
    demand: Series | None
    """events/s of the personas the fleet serves"""


@dataclass(frozen=True)
class ReportData:
    state: FleetStateDocument
    personas: list[PersonaPanel]
    fleets: list[FleetPanel]
    plans: list[PlanLine] = field(default_factory=list)
