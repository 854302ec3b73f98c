"""`fleetctl report`: gather what the stores know into one ReportData for the HTML renderer."""

from __future__ import annotations

from datetime import timedelta

from controller.adapters.storage.plan_store import StoredPlan
from controller.domain.errors import InputError
from controller.domain.report import FleetPanel, PersonaPanel, PlanLine, ReportData
from controller.domain.series import Series
from controller.workflow.steps import persona_rate
from controller.workflow.wiring import Controller

WINDOW = timedelta(days=2)


def gather(controller: Controller) -> ReportData:
    state = controller.state_store.get()
    if state is None:
        raise InputError("nothing to report yet: run `fleetctl cycle` (or the daemon) first")
    origin = max((f.origin for f in state.forecasts), default=state.now)
    start = origin - WINDOW
    config = controller.config
    panels = []
    for forecast in state.forecasts:
        key = forecast.persona
        actual = persona_rate(config, controller.metric_store, key, start, origin)
        stored = [s.forecast for s in controller.forecast_store.since(key, start)]
        lead = max(1, int(timedelta(hours=1) / config.forecast.step))
        hour_ahead = [(f.time_at(lead), float(f.mean[lead])) for f in stored if f.horizon > lead]
        panels.append(PersonaPanel(key, actual, stored[-1] if stored else None, hour_ahead))
    plans = controller.plan_store.recent(200)
    cycle_times = {r.cycle_id: r.clock_now for r in controller.run_store.recent(400)}
    fleets = []
    for fleet in state.fleets:
        served = tuple(
            sorted(p.key for p in state.personas if fleet.name in _fleets_of(controller, p.key))
        )
        capacity = [
            (cycle_times[p.cycle_id], desired)
            for p in reversed(plans)
            if p.cycle_id in cycle_times and (desired := _desired(p, fleet.name)) is not None
        ]
        demand = _sum([panel.actual for panel in panels if panel.key in served])
        fleets.append(FleetPanel(fleet.name, served, capacity, demand))
    lines = [
        PlanLine(p.plan_id, p.created_at, p.status, str(p.summary.get("describe", "")))
        for p in plans[:15]
    ]
    return ReportData(state, panels, fleets, lines)


def _fleets_of(controller: Controller, key: str) -> list[str]:
    try:
        return list(controller.persona_store.get_persona(key).persona.fleets)
    except Exception:  # a persona deleted since: it served no fleet we can show
        return []


def _desired(plan: StoredPlan, fleet: str) -> int | None:
    fleets = plan.variables.get("fleets")
    if isinstance(fleets, dict) and isinstance(fleets.get(fleet), dict):
        value = fleets[fleet].get("desired_capacity")
        return int(value) if isinstance(value, int | float) else None
    return None


def _sum(series: list[Series]) -> Series | None:
    if not series:
        return None
    total = series[0].values.copy()
    for other in series[1:]:
        total = total + other.values
    return Series("demand", series[0].start, series[0].step, total)
