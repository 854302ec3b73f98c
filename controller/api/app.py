"""The HTTP API. Binds to loopback by default; mutating endpoints need the configured token.

`/docs` (Swagger UI) and `/redoc` load their scripts and styles from this app (fastapi-offline
ships them), so they render on a host with no route to a CDN.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from controller import __version__
from controller.api.auth import TokenGuard
from controller.api.metrics import render_metrics
from controller.domain.errors import FleetError, TemporaryError
from controller.domain.state import (
    AnomalyState,
    DriftState,
    FleetStateDocument,
    PersonaForecast,
)
from controller.workflow.review_step import approve as approve_plan
from controller.workflow.wiring import Controller

MAX_INT = 2**31 - 1  # versions are SQL integers


class DaemonStatus(Protocol):
    @property
    def is_leader(self) -> bool: ...

    @property
    def cycles(self) -> int: ...

    @property
    def failures(self) -> int: ...


class Health(BaseModel):
    status: str
    leader: bool
    cycles_run: int
    cycles_failed: int
    last_cycle_status: str | None
    last_cycle_clock: datetime | None


class PersonaSummary(BaseModel):
    key: str
    persona_name: str
    version: int
    content_hash: str
    source: str


class PersonaDetail(PersonaSummary):
    definition: dict[str, Any]


class PlanRecord(BaseModel):
    plan_id: str
    cycle_id: int
    created_at: datetime
    status: str
    summary: dict[str, Any]


class ErrorBody(BaseModel):
    detail: str


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "not found"}}
GUARDED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong bearer token"},
    403: {"model": ErrorBody, "description": "writes disabled: no FLEET_API__TOKEN configured"},
    409: {"model": ErrorBody, "description": "not approvable now, or refused: the plan changed"},
    503: {"model": ErrorBody, "description": "another apply is running; retry later"},
    **NOT_FOUND,
}


class ApprovalResult(BaseModel):
    plan_id: str
    status: str
    message: str


def create_app(controller: Controller, status: DaemonStatus, token: str | None) -> FastAPI:
    app = FastAPIOffline(
        title="Fleet Persona Controller",
        version=__version__,
        # Swagger UI would otherwise load a validity badge from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    require_token = TokenGuard(token)

    def latest_state() -> FleetStateDocument:
        document = controller.state_store.get()
        if document is None:
            raise HTTPException(404, "no state yet: no cycle has completed")
        return document

    @app.get("/healthz", response_model=Health)
    def healthz() -> Health:
        runs = controller.run_store.recent(1)
        last = runs[0] if runs else None
        return Health(
            status="ok",
            leader=status.is_leader,
            cycles_run=status.cycles,
            cycles_failed=status.failures,
            last_cycle_status=last.status if last else None,
            last_cycle_clock=last.clock_now if last else None,
        )

    @app.get("/metrics", response_class=Response)
    def metrics() -> Response:
        return Response(render_metrics(controller), media_type="text/plain; version=0.0.4")

    @app.get("/state", response_model=FleetStateDocument, responses=NOT_FOUND)
    def state() -> FleetStateDocument:
        return latest_state()

    @app.get("/state/{version}", response_model=FleetStateDocument, responses=NOT_FOUND)
    def state_version(version: Annotated[int, Path(ge=1, le=MAX_INT)]) -> FleetStateDocument:
        document = controller.state_store.get(version)
        if document is None:
            raise HTTPException(404, f"no state document version {version}")
        return document

    @app.get("/forecasts", response_model=list[PersonaForecast], responses=NOT_FOUND)
    def forecasts() -> list[PersonaForecast]:
        return latest_state().forecasts

    @app.get("/anomalies", response_model=list[AnomalyState], responses=NOT_FOUND)
    def anomalies() -> list[AnomalyState]:
        return latest_state().anomalies

    @app.get("/drift", response_model=DriftState, responses=NOT_FOUND)
    def drift() -> DriftState:
        return latest_state().drift

    @app.get("/personas", response_model=list[PersonaSummary])
    def personas() -> list[PersonaSummary]:
        return [
            PersonaSummary(
                key=p.key,
                persona_name=p.persona_name,
                version=p.version,
                content_hash=p.content_hash,
                source=p.source.describe(),
            )
            for p in controller.persona_store.list_personas()
        ]

    @app.get("/personas/{name}", response_model=PersonaDetail, responses=NOT_FOUND)
    def persona(
        name: str, version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None
    ) -> PersonaDetail:
        try:
            stored = controller.persona_store.get_persona(name, version)
        except FleetError as exc:
            raise HTTPException(404, str(exc)) from None
        return PersonaDetail(
            key=stored.key,
            persona_name=stored.persona_name,
            version=stored.version,
            content_hash=stored.content_hash,
            source=stored.source.describe(),
            definition=stored.persona.model_dump(mode="json"),
        )

    @app.get("/plans", response_model=list[PlanRecord])
    def plans(limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[PlanRecord]:
        return [
            PlanRecord(
                plan_id=p.plan_id,
                cycle_id=p.cycle_id,
                created_at=p.created_at,
                status=p.status,
                summary=p.summary,
            )
            for p in controller.plan_store.recent(limit)
        ]

    @app.get("/plans/{plan_id}", response_model=PlanRecord, responses=NOT_FOUND)
    def plan(plan_id: str) -> PlanRecord:
        stored = controller.plan_store.get(plan_id)
        if stored is None:
            raise HTTPException(404, f"no plan {plan_id}")
        return PlanRecord(
            plan_id=stored.plan_id,
            cycle_id=stored.cycle_id,
            created_at=stored.created_at,
            status=stored.status,
            summary=stored.summary,
        )

    @app.post(
        "/plans/{plan_id}/approve",
        response_model=ApprovalResult,
        dependencies=[Depends(require_token)],
        responses=GUARDED,
    )
    def approve(plan_id: str) -> ApprovalResult:
        """Re-plan the approved variables and apply the saved plan only if nothing changed."""
        if controller.plan_store.get(plan_id) is None:
            raise HTTPException(404, f"no plan {plan_id}")
        if not status.is_leader:  # one writer at a time: the leader applies, as fleetctl approve
            raise HTTPException(
                503,
                "this daemon is standing by and does not hold the controller lease: approve "
                "through the leading daemon's API (GET /healthz says leader: true) or fleetctl approve",
                headers={"Retry-After": "30"},
            )
        try:
            approval = approve_plan(controller, plan_id)
        except TemporaryError as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": "30"}) from None
        except FleetError as exc:
            raise HTTPException(409, str(exc)) from None
        stored = controller.plan_store.get(plan_id)
        return ApprovalResult(
            plan_id=plan_id, status=stored.status if stored else "unknown", message=approval.message
        )

    return app
