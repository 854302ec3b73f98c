"""Prometheus metrics, read from the stores at scrape time (no counters to keep in sync)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.domain.state import FleetStateDocument
from controller.workflow.wiring import Controller


class ControllerCollector(Collector):
    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def collect(self) -> Iterable[Metric]:
        runs = self.controller.run_store.recent(50)
        durations = GaugeMetricFamily(
            "fleet_cycle_step_duration_seconds",
            "Duration of each step of the last cycle",
            labels=["step"],
        )
        cycles = GaugeMetricFamily(
            "fleet_cycles_recent", "Recent cycles by status (last 50)", labels=["status"]
        )
        by_status: dict[str, int] = {}
        for record in runs:
            by_status[record.status] = by_status.get(record.status, 0) + 1
        for status, count in sorted(by_status.items()):
            cycles.add_metric([status], count)
        if runs:
            for step in runs[0].steps:
                durations.add_metric([step.step], step.duration_ms / 1000)
        yield cycles
        yield durations
        state = self.controller.state_store.get()
        dead = GaugeMetricFamily("fleet_dead_letters_total", "Events set aside as dead letters")
        dead.add_metric([], self.controller.ingest_store.dead_letter_count())
        yield dead
        if state is None:
            return
        desired = GaugeMetricFamily(
            "fleet_capacity_desired", "Desired instances per fleet", labels=["fleet"]
        )
        applied = GaugeMetricFamily(
            "fleet_capacity_applied", "Applied instances per fleet", labels=["fleet"]
        )
        for fleet in state.fleets:
            desired.add_metric([fleet.name], fleet.desired)
            if fleet.capacity_now is not None:
                applied.add_metric([fleet.name], fleet.capacity_now)
        yield desired
        yield applied
        drift = GaugeMetricFamily(
            "fleet_drift_findings",
            "Open drift findings (classification drift = changed outside Terraform)",
            labels=["view", "classification"],
        )
        counts: dict[tuple[str, str], int] = {}
        for finding in state.drift.findings:
            key = (finding.view, finding.classification)
            counts[key] = counts.get(key, 0) + 1
        for (view, classification), count in sorted(counts.items()):
            drift.add_metric([view, classification], count)
        yield drift
        utilization = GaugeMetricFamily(
            "fleet_utilization_realized",
            "Realized utilization (fraction) in the window after the last apply",
            labels=["fleet", "source"],
        )
        for monitored in state.monitor:
            for reading in monitored.utilization:
                if reading.mean is not None:
                    utilization.add_metric([monitored.fleet, reading.source], reading.mean)
        yield utilization
        error = GaugeMetricFamily(
            "fleet_forecast_error", "Feedback scores per persona and kind", labels=["name"]
        )
        for name, value in sorted(state.feedback.items()):
            error.add_metric([name], value)
        yield error
        yield from _learning(state)


def _learning(state: FleetStateDocument) -> Iterable[Metric]:
    """What the feedback loop changed, per persona (docs/feedback.md)."""
    bias = GaugeMetricFamily(
        "fleet_forecast_bias_correction",
        "Factor the next forecasts are multiplied by (1 = no correction)",
        labels=["persona"],
    )
    steps = GaugeMetricFamily(
        "fleet_forecast_recalibrated_steps",
        "Lead times whose bands come from realized errors",
        labels=["persona"],
    )
    learned = GaugeMetricFamily(
        "fleet_persona_profile_learned",
        "1 when the learned resource profile is in use",
        labels=["persona"],
    )
    for persona in state.learning:
        bias.add_metric([persona.persona], persona.bias.factor)
        steps.add_metric([persona.persona], persona.intervals.recalibrated_steps)
        learned.add_metric([persona.persona], float(persona.profile.in_use == "learned"))
    yield from (bias, steps, learned)


def render_metrics(controller: Controller) -> bytes:
    registry = CollectorRegistry()
    registry.register(ControllerCollector(controller))
    return bytes(generate_latest(registry))
