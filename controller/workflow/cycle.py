"""One cycle: personas -> events -> monitor -> forecast -> allocation -> variables -> plan ->
review -> gate -> state.

Reads like a script (tofu-controller's reconcile): every step is timed and recorded; the first
failure stops the cycle, is recorded with its message and leaves the stored state untouched.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from controller.adapters.rendering import canonical_json
from controller.anomaly.mitigation import rate_limit_variables
from controller.domain.allocation import FleetAllocation, LoadBalancerAllocation
from controller.domain.clock import ReplayClock
from controller.domain.errors import FleetError
from controller.domain.forecast import Forecast
from controller.domain.monitor import FleetHealth
from controller.domain.plan import PlanSummary
from controller.domain.series import floor_time
from controller.domain.state import FleetStateDocument, PlanStatus
from controller.review.model import PlanReview
from controller.workflow import steps
from controller.workflow.anomaly_step import AnomalyOutcome, detect_and_mitigate, with_overrides
from controller.workflow.drift import review_with_drift_policy
from controller.workflow.feedback_step import score_and_keep
from controller.workflow.learning import forecast_with_feedback
from controller.workflow.monitor import monitor_fleets
from controller.workflow.review_step import gate_and_apply, in_force
from controller.workflow.state_document import build_state_document
from controller.workflow.wiring import REPLAY_POSITION_KEY, Controller, resume_replay_position

T = TypeVar("T")


class CycleFailed(FleetError):
    def __init__(self, cycle_id: int, step: str, cause: BaseException) -> None:
        self.cycle_id, self.step, self.cause = cycle_id, step, cause
        self.retryable = isinstance(cause, FleetError) and cause.retryable
        super().__init__(f"cycle {cycle_id} failed in step '{step}': {cause}")


@dataclass(frozen=True)
class CycleOutcome:
    cycle_id: int
    now: datetime
    duration_s: float
    personas: steps.PersonaSet
    ingest: steps.IngestOutcome
    origin: datetime
    forecasts: dict[str, Forecast]
    allocations: list[FleetAllocation]
    capacity_before: dict[str, int | None]
    plan: PlanSummary
    plan_status: PlanStatus
    state: FleetStateDocument
    interrupted_before: tuple[int, ...] = ()
    review: PlanReview | None = None
    load_balancers: tuple[LoadBalancerAllocation, ...] = ()
    monitor: tuple[FleetHealth, ...] = ()
    """each fleet in the window after the last apply (before this cycle's plan)"""
    anomalies: AnomalyOutcome | None = None


class _Recorder:
    """Runs and records each step; a TemporaryError is retried with exponential backoff."""

    def __init__(self, controller: Controller, cycle_id: int) -> None:
        self.controller, self.cycle_id = controller, cycle_id
        schedule = controller.config.schedule
        self.retries = schedule.step_retries
        self.backoff = schedule.retry_backoff.total_seconds()

    def step(
        self, name: str, action: Callable[[], T], detail: Callable[[T], str] | None = None
    ) -> T:
        attempt = 0
        while True:
            started = time.time()
            clock = time.perf_counter()
            try:
                result = action()
            except BaseException as exc:
                retry = isinstance(exc, FleetError) and exc.retryable and attempt < self.retries
                self.controller.run_store.record_step(
                    self.cycle_id,
                    name,
                    "retrying" if retry else "failed",
                    started,
                    _ms(clock),
                    error=str(exc),
                )
                if not retry:
                    raise CycleFailed(self.cycle_id, name, exc) from exc
                self.controller.sleep(self.backoff * 2**attempt)
                attempt += 1
                continue
            self.controller.run_store.record_step(
                self.cycle_id,
                name,
                "ok",
                started,
                _ms(clock),
                detail=detail(result) if detail else None,
            )
            return result


def run_cycle(controller: Controller) -> CycleOutcome:
    config = controller.config
    resume_replay_position(controller)
    interrupted = tuple(controller.run_store.interrupted())
    if interrupted:
        controller.run_store.mark_interrupted(list(interrupted))
    now = controller.clock.now()
    cycle_id = controller.run_store.start_cycle(now)
    record = _Recorder(controller, cycle_id)
    began = time.perf_counter()
    try:
        personas = record.step(
            "personas",
            lambda: steps.load_personas(config, controller.persona_store),
            lambda p: f"{len(p.files)} personas",
        )
        ingested = record.step(
            "ingest",
            lambda: steps.ingest(config, personas, controller.source, controller.ingest_store, now),
            lambda i: f"{i.events} events, {i.dead_letters} dead letters",
        )
        monitored = record.step(
            "monitor",
            lambda: monitor_fleets(controller, personas, now),
            lambda m: ", ".join(f"{h.fleet} {h.status}" for h in m) or "nothing applied to watch",
        )
        origin = steps.forecast_origin(now, ingested.last_event_at, config)
        learned = record.step(
            "forecast",
            lambda: forecast_with_feedback(
                config,
                personas,
                controller.metric_store,
                controller.forecast_store,
                controller.learning_store,
                origin,
            ),
            lambda f: f"{len(f.forecasts)} series from {origin.isoformat()}; {f.describe()}",
        )
        forecasts = learned.forecasts
        scores = record.step(
            "feedback",
            lambda: score_and_keep(
                config,
                controller.metric_store,
                controller.forecast_store,
                cycle_id,
                forecasts,
                origin,
            ),
            lambda s: (
                ", ".join(f"{k} MASE {v.mase:.2f}" for k, v in s.items() if v.mase is not None)
                or "no realized forecasts yet"
            ),
        )
        anomalies = record.step(
            "anomalies",
            lambda: detect_and_mitigate(controller, personas, origin),
            AnomalyOutcome.describe,
        )
        before = in_force(controller.plan_store.last_applied())
        allocation = record.step(
            "allocate",
            lambda: with_overrides(
                config,
                steps.allocate_fleets(
                    config,
                    personas,
                    forecasts,
                    origin,
                    steps.session_stats(config, personas, controller.metric_store, origin),
                    before.instance_types,
                    before.lb_units,
                    learned.profiles,
                    capacity_in_force=before.capacity_at(origin),
                ),
                anomalies.overrides,
                origin,
            ),
            lambda a: ", ".join(f"{x.fleet}={x.desired_now}" for x in a.fleets),
        )
        allocations = allocation.fleets
        variables = record.step(
            "render",
            lambda: _render(controller, allocation, anomalies),
            lambda v: f"{len(v['fleets'])} fleets",
        )
        plan_id = (
            f"{cycle_id:06d}-{hashlib.sha256(canonical_json(variables).encode()).hexdigest()[:8]}"
        )
        plan = record.step("plan", lambda: _plan(controller, plan_id), lambda p: p.describe())
        review = record.step(
            "review",
            lambda: review_with_drift_policy(controller, plan, allocation, before, now),
            lambda r: r.one_line(),
        )
        capacity_before = _applied_capacity(controller)
        controller.plan_store.add(
            plan_id,
            cycle_id,
            now,
            "planned",
            {"describe": plan.describe(), "review": review.to_dict()},
            variables,
        )
        status = record.step("gate-apply", lambda: gate_and_apply(controller, review), str)
        controller.plan_store.set_status(plan_id, status)
        state = record.step(
            "state",
            lambda: controller.state_store.save(
                build_state_document(
                    controller,
                    cycle_id,
                    now,
                    personas,
                    ingested,
                    forecasts,
                    allocations,
                    capacity_before,
                    plan,
                    status,
                    feedback={
                        k: v for score in scores.values() for k, v in score.as_feedback().items()
                    },
                    learning=learned.learning,
                    anomalies=anomalies,
                )
            ),
            lambda s: f"version {s.version}",
        )
    except CycleFailed as failure:
        controller.run_store.finish_cycle(cycle_id, "failed", None, str(failure))
        raise
    except BaseException as exc:  # KeyboardInterrupt mid-cycle: keep the record honest
        controller.run_store.finish_cycle(cycle_id, "failed", None, f"stopped: {exc!r}")
        raise
    outcome = CycleOutcome(
        cycle_id,
        now,
        time.perf_counter() - began,
        personas,
        ingested,
        origin,
        forecasts,
        allocations,
        capacity_before,
        plan,
        status,
        state,
        interrupted,
        review,
        tuple(allocation.load_balancers),
        monitored,
        anomalies,
    )
    controller.run_store.finish_cycle(cycle_id, "ok", plan.describe(), None)
    _advance_replay_clock(controller, ingested)
    controller.workspace.prune_plans()
    return outcome


def _render(
    controller: Controller, allocation: steps.AllocationSet, anomalies: AnomalyOutcome
) -> dict[str, Any]:
    controller.workspace.prepare()
    fleets, balancers = allocation.fleets, allocation.load_balancers
    extra = rate_limit_variables(anomalies.rate_limits)
    controller.renderer.write(fleets, controller.workspace.stack_dir, balancers, extra)
    return controller.renderer.variables(fleets, balancers, extra)


def _plan(controller: Controller, plan_id: str) -> PlanSummary:
    return controller.workspace.plan(plan_id)


def _applied_capacity(controller: Controller) -> dict[str, int | None]:
    last = controller.plan_store.last_applied()
    fleets = last.variables.get("fleets", {}) if last else {}
    assert isinstance(fleets, dict)
    return {
        fleet.name: int(fleets[fleet.name]["desired_capacity"]) if fleet.name in fleets else None
        for fleet in controller.config.fleets
    }


def _advance_replay_clock(controller: Controller, ingested: steps.IngestOutcome) -> None:
    clock = controller.clock
    if not isinstance(clock, ReplayClock):
        return
    target = None
    upcoming = ingested.next_event_at
    fast_forward = controller.config.clock.fast_forward_gaps
    if fast_forward and upcoming is not None and upcoming > clock.now() + clock.step:
        target = floor_time(upcoming, clock.step) + clock.step
    clock.advance(target)
    controller.meta_store.put(REPLAY_POSITION_KEY, clock.now().isoformat())


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
