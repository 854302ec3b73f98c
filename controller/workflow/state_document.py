"""Build the FleetStateDocument from one cycle's results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from controller.domain.allocation import FleetAllocation
from controller.domain.forecast import Forecast
from controller.domain.plan import PlanSummary
from controller.domain.state import (
    FleetState,
    FleetStateDocument,
    ForecastPoint,
    Incident,
    IngestionState,
    PersonaForecast,
    PersonaInForce,
    PlanState,
    PlanStatus,
)
from controller.workflow.steps import IngestOutcome, PersonaSet
from controller.workflow.wiring import Controller

PREVIEW = timedelta(hours=6)


def build_state_document(
    controller: Controller,
    cycle_id: int,
    now: datetime,
    personas: PersonaSet,
    ingested: IngestOutcome,
    forecasts: dict[str, Forecast],
    allocations: list[FleetAllocation],
    capacity_before: dict[str, int | None],
    plan: PlanSummary,
    status: PlanStatus,
    feedback: dict[str, float] | None = None,
) -> FleetStateDocument:
    return FleetStateDocument(
        generated_at=datetime.now(UTC),
        cycle_id=cycle_id,
        clock="replay" if controller.clock_mode == "replay" else "system",
        now=now,
        personas=[
            PersonaInForce(
                key=f.persona.key,
                persona_name=f.persona.persona_name,
                content_hash=f.content_hash,
                source=str(f.path),
                version=personas.versions.get(f.persona.key),
            )
            for f in personas.files
        ],
        fleets=[
            FleetState(
                name=a.fleet,
                region=a.region,
                instance_type=a.instance_type,
                capacity_now=a.desired_now if status == "applied" else capacity_before.get(a.fleet),
                desired=a.desired_now,
                min_size=a.min_size,
                max_size=a.max_size,
                peak_next_horizon=a.peak,
                lb_capacity_units=a.lb_capacity_units,
                scheduled_actions=len(a.scheduled_actions),
                reasons=list(a.reasons),
            )
            for a in allocations
        ],
        forecasts=[_forecast_state(f) for f in forecasts.values()],
        last_plan=PlanState(
            plan_id=plan.plan_id,
            status=status,
            summary=plan.describe(),
            add=plan.count("create"),
            change=plan.count("update"),
            destroy=plan.count("delete"),
            replace=plan.count("replace"),
        ),
        feedback=feedback or {},
        incidents=[
            Incident(
                cycle_id=record.cycle_id, step=step.step, status=step.status, error=step.error or ""
            )
            for record in controller.run_store.recent(10)
            for step in record.steps
            if step.status in ("retrying", "failed")
        ],
        ingestion=IngestionState(
            source=controller.source.url,
            events_total=ingested.events_total,
            events_this_cycle=ingested.events,
            dead_letters_total=controller.ingest_store.dead_letter_count(),
            dead_letters_this_cycle=ingested.dead_letters,
            watermark=ingested.last_event_at,
        ),
    )


def _forecast_state(forecast: Forecast) -> PersonaForecast:
    hourly = max(1, int(timedelta(hours=1) / forecast.step))
    low, high = forecast.level(0.05), forecast.level(0.95)
    points = [
        ForecastPoint(
            time=forecast.time_at(i),
            mean=round(float(forecast.mean[i]), 4),
            p05=round(float(low[i]), 4),
            p95=round(float(high[i]), 4),
        )
        for i in range(0, min(forecast.horizon, int(PREVIEW / forecast.step)), hourly)
    ]
    return PersonaForecast(
        persona=forecast.series_id,
        origin=forecast.origin,
        step_seconds=int(forecast.step.total_seconds()),
        horizon_steps=forecast.horizon,
        model=forecast.model,
        backtest_score=forecast.backtest_score,
        peak_mean=round(float(np.max(forecast.mean)) if forecast.horizon else 0.0, 4),
        next_hours=points,
    )
