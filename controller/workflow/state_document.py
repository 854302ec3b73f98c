"""Build the FleetStateDocument from one cycle's results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from controller.adapters.storage.plan_store import StoredPlan
from controller.domain.allocation import FleetAllocation
from controller.domain.forecast import Forecast
from controller.domain.monitor import FleetHealth
from controller.domain.plan import PlanSummary
from controller.domain.state import (
    AnomalyState,
    DriftCheckState,
    DriftFindingState,
    DriftState,
    FleetMonitorState,
    FleetState,
    FleetStateDocument,
    ForecastPoint,
    HealthCheckState,
    Incident,
    IngestionState,
    PersonaForecast,
    PersonaInForce,
    PersonaLearningState,
    PersonaSilenceState,
    PlanState,
    PlanStatus,
    UtilizationState,
)
from controller.workflow.anomaly_step import RESOLVED_SHOWN, AnomalyOutcome, policies_from
from controller.workflow.persona_matching import last_day_activity
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
    learning: list[PersonaLearningState] | None = None,
    anomalies: AnomalyOutcome | None = None,
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
        personas_without_sessions=silence_state(controller, personas),
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
        learning=learning or [],
        incidents=[
            Incident(
                cycle_id=record.cycle_id, step=step.step, status=step.status, error=step.error or ""
            )
            for record in controller.run_store.recent(10)
            for step in record.steps
            if step.status in ("retrying", "failed")
        ],
        drift=drift_state(controller),
        monitor=monitor_state(controller),
        anomalies=anomaly_states(controller, anomalies),
        ingestion=IngestionState(
            source=controller.source.url,
            events_total=ingested.events_total,
            events_this_cycle=ingested.events,
            dead_letters_total=controller.ingest_store.dead_letter_count(),
            dead_letters_this_cycle=ingested.dead_letters,
            watermark=ingested.last_event_at,
        ),
    )


def with_plan_applied(document: FleetStateDocument, plan: StoredPlan) -> FleetStateDocument:
    """The document once an approved plan was applied: its plan applied, its capacities in force.

    Written by `fleetctl approve` at once, so the state says applied now, not after the next cycle.
    """
    applied = plan.variables.get("fleets", {})
    review = plan.summary.get("review", {})
    assert isinstance(applied, dict) and isinstance(review, dict)
    counts = review.get("counts", {})
    fleets = [
        f.model_copy(update={"capacity_now": int(applied[f.name]["desired_capacity"])})
        if f.name in applied
        else f
        for f in document.fleets
    ]
    last_plan = PlanState(
        plan_id=plan.plan_id,
        status="applied",
        summary=str(plan.summary.get("describe", "")),
        add=int(counts.get("add", 0)),
        change=int(counts.get("change", 0)),
        destroy=int(counts.get("destroy", 0)),
        replace=int(counts.get("replace", 0)),
    )
    return document.model_copy(
        update={"fleets": fleets, "last_plan": last_plan, "generated_at": datetime.now(UTC)}
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


def silence_state(controller: Controller, personas: PersonaSet) -> PersonaSilenceState | None:
    """Personas in force that matched no session over the last day of stored metrics."""
    day = last_day_activity(controller.metric_store, personas.keys, controller.config.events.bucket)
    if day is None:
        return None
    return PersonaSilenceState(window_start=day.start, window_end=day.end, personas=day.silent)


def drift_state(controller: Controller) -> DriftState:
    """The drift section: every open finding of both views and each view's latest check."""
    checks = controller.drift_store.last_checks()
    findings = controller.drift_store.findings()
    drifted = any(t.finding.is_drift for t in findings)
    completed = any(c.outcome in ("in-sync", "drifted") for c in checks)
    return DriftState(
        status="drifted" if drifted else "in-sync" if completed else "not-checked",
        findings=[
            DriftFindingState(
                view=t.finding.view,
                resource=t.finding.resource,
                attribute=t.finding.attribute,
                applied=t.finding.applied,
                live=t.finding.live,
                classification=t.finding.classification,
                reason=t.finding.reason,
                fleets=list(t.finding.fleets),
                since=t.since,
                last_seen=t.last_seen,
            )
            for t in findings
        ],
        checks=[
            DriftCheckState(
                view=c.view, checked_at=c.checked_at, outcome=c.outcome, detail=c.detail
            )
            for c in checks
        ],
    )


def monitor_state(controller: Controller) -> list[FleetMonitorState]:
    """The monitor section: each configured fleet's latest record after an apply."""
    latest = controller.health_store.latest()
    return [
        fleet_monitor_state(latest[fleet.name])
        for fleet in controller.config.fleets
        if fleet.name in latest
    ]


def fleet_monitor_state(h: FleetHealth) -> FleetMonitorState:
    check = h.health_check
    return FleetMonitorState(
        fleet=h.fleet,
        plan_id=h.plan_id,
        applied_at=h.applied_at,
        window_start=h.window_start,
        window_end=h.window_end,
        window_complete=h.window_complete,
        checked_at=h.checked_at,
        status=h.status,
        target_utilization=h.target_utilization,
        tolerance=h.tolerance,
        reason=h.reason,
        utilization=[
            UtilizationState(
                source=r.source, mean=r.mean, peak=r.peak, samples=r.samples, detail=r.detail
            )
            for r in h.readings
        ],
        requests_per_target_per_s=h.requests_per_target_per_s,
        health_check=HealthCheckState(
            target=check.target,
            outcome=check.outcome,
            detail=check.detail,
            latency_ms=check.latency_ms,
        )
        if check
        else None,
    )


def anomaly_states(
    controller: Controller, outcome: AnomalyOutcome | None = None
) -> list[AnomalyState]:
    """Unresolved anomalies and those that ended within RESOLVED_SHOWN, with their policy's
    actions and what this cycle put in force because of them."""
    since = controller.clock.now() - RESOLVED_SHOWN
    known = {a.id: a for a in controller.anomaly_store.current(since)}
    if outcome is not None:
        known.update({a.id: a for a in outcome.anomalies})
    policies = policies_from(controller.config.anomalies)
    notes = outcome.notes if outcome is not None else {}
    return [
        AnomalyState(
            id=a.id,
            kind=a.kind,
            persona=a.persona,
            status=a.status,
            start=a.start,
            end=a.end,
            size=round(a.size, 4),
            evidence=dict(a.evidence),
            actions=list(policies[a.kind].actions),
            mitigation=list(notes.get(a.id, ())),
        )
        for a in sorted(known.values(), key=lambda a: (a.start, a.id))
    ]
