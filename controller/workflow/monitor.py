"""Monitoring after scaling, wired: the cycle's `monitor` step.

After each apply the fleet is watched for `monitor.window`: every cycle inside the window reads
the realized utilization since the apply, from the event stream's measured CPU (always) and from
CloudWatch (with `monitor.cloudwatch`), optionally runs the health check templated from
Terraform's outputs, and classifies the fleet against its target. Once a window has been judged
complete its record is reused, so a quiet controller does not query CloudWatch every cycle.

It runs as a cycle step rather than a job of its own because it needs the cycle's clock (the
replay clock only moves with cycles) and the ingested events up to now; and a CloudWatch or
health-check failure becomes part of the record, never a failed cycle.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from controller.adapters.health_check import probe, render_target
from controller.allocation.catalog import load_catalog
from controller.allocation.demand import FleetPlacement, split_shares
from controller.config import FleetConfig
from controller.domain.applied import AppliedFleet, Naming, applied_stack
from controller.domain.cloud import GroupView, NotFound
from controller.domain.errors import FleetError
from controller.domain.monitor import FleetHealth, HealthCheckResult, UtilizationReading
from controller.domain.series import floor_time
from controller.monitoring.classify import Window, classify, utilization_from_use, watch_window
from controller.workflow.steps import PersonaSet
from controller.workflow.wiring import Controller


def monitor_fleets(
    controller: Controller, personas: PersonaSet, now: datetime
) -> tuple[FleetHealth, ...]:
    """One record per fleet for the window after the last apply (empty when nothing to watch)."""
    config = controller.config
    if not config.monitor.enabled:
        return ()
    last = controller.plan_store.last_applied()
    if last is None:
        return ()
    window = watch_window(last.created_at, now, config.monitor.window)
    if window is None:
        return ()
    stack = applied_stack(last.plan_id, last.created_at, last.variables)
    outputs: dict[str, Any] | FleetError | None = None
    results = []
    for fleet in config.fleets:
        applied = stack.fleets.get(fleet.name)
        if applied is None:
            continue
        done = controller.health_store.completed(fleet.name, last.plan_id)
        if done is not None:
            results.append(done)
            continue
        readings = [event_stream_reading(controller, personas, fleet, applied, window)]
        requests = None
        if config.monitor.cloudwatch:
            reading, requests = cloudwatch_reading(controller, applied, window)
            readings.insert(0, reading)
        check = None
        if config.monitor.health_check is not None:
            if outputs is None:
                outputs = _outputs(controller)
            check = health_check(controller, fleet, applied, outputs)
        status, reason = classify(
            readings, fleet.target_utilization, config.monitor.tolerance, check
        )
        record = FleetHealth(
            fleet=fleet.name,
            plan_id=last.plan_id,
            applied_at=last.created_at,
            window_start=window.start,
            window_end=window.end,
            window_complete=window.complete,
            checked_at=now,
            status=status,
            target_utilization=fleet.target_utilization,
            tolerance=config.monitor.tolerance,
            readings=tuple(readings),
            reason=reason,
            requests_per_target_per_s=requests,
            health_check=check,
        )
        controller.health_store.save(record)
        results.append(record)
    return tuple(results)


def event_stream_reading(
    controller: Controller,
    personas: PersonaSet,
    fleet: FleetConfig,
    applied: AppliedFleet,
    window: Window,
) -> UtilizationReading:
    """Measured CPU of the personas the fleet serves (its share of each) over its vCPUs.

    A persona served by several fleets is split like the allocator splits its demand
    (controller.allocation.demand.split_shares), so the reading compares with the plan.
    """
    bucket = controller.config.events.bucket
    start = floor_time(window.start, bucket)
    end = floor_time(window.end, bucket)
    if end <= start:
        return UtilizationReading(
            "event-stream", None, None, 0, f"window shorter than one bucket ({bucket})"
        )
    kind = load_catalog().get(applied.instance_type)
    if kind is None:
        return UtilizationReading(
            "event-stream", None, None, 0, f"{applied.instance_type} is not in the catalog"
        )
    count = int((end - start) / bucket)
    used = np.full(count, np.nan)
    placements = {f.name: FleetPlacement(f.name, f.region) for f in controller.config.fleets}
    by_key = {f.persona.key: f.persona for f in personas.files}
    served = personas.served_by.get(fleet.name, ())
    for key in served:
        persona = by_key.get(key)
        if persona is None:
            continue
        serving = [placements[name] for name, keys in personas.served_by.items() if key in keys]
        share = split_shares(persona.traffic_pattern.geographic_distribution, serving)
        fraction = share.get(fleet.name, (0.0, ""))[0]
        cpu = controller.metric_store.cpu_seconds_per_bucket(key, start, end, bucket).values
        busy = cpu * fraction / bucket.total_seconds()
        used = np.where(np.isnan(used), busy, np.where(np.isnan(busy), used, used + busy))
    capacity = np.array(
        [applied.capacity_at(start + i * bucket) * kind.vcpu for i in range(count)], dtype=float
    )
    detail = (
        f"cpu_ms of {len(served)} persona(s) over {applied.instance_type} x scheduled capacity "
        f"({kind.vcpu} vCPU each), {bucket} buckets"
    )
    return utilization_from_use(used, capacity, detail)


def cloudwatch_reading(
    controller: Controller, applied: AppliedFleet, window: Window
) -> tuple[UtilizationReading, float | None]:
    """CPUUtilization (Average) of the group and RequestCountPerTarget of its target group."""
    config = controller.config
    naming = Naming(config.aws.name_prefix)
    period = config.monitor.period
    group = naming.group(applied.name)
    try:
        cloud = controller.cloud(applied.region)
        live = cloud.describe_group(group)
        if isinstance(live, NotFound):
            return UtilizationReading("cloudwatch", None, None, 0, live.describe()), None
        assert isinstance(live, GroupView)
        metrics = cloud.fleet_metrics(
            group, live.target_group_arns, window.start, _at_least(window, period), period
        )
    except FleetError as exc:
        return UtilizationReading("cloudwatch", None, None, 0, f"unavailable: {exc}"), None
    cpu = metrics.cpu_utilization
    reading = UtilizationReading(
        "cloudwatch",
        None if cpu.mean is None else round(cpu.mean / 100, 4),
        None if cpu.peak is None else round(cpu.peak / 100, 4),
        len(cpu.points),
        f"AWS/EC2 CPUUtilization Average of {group}, {period} periods"
        if cpu.points
        else f"no CPUUtilization datapoints for {group} in the window",
    )
    rpt = metrics.request_count_per_target
    requests = (
        round(rpt.mean / period.total_seconds(), 3)
        if rpt is not None and rpt.mean is not None
        else None
    )
    return reading, requests


def health_check(
    controller: Controller,
    fleet: FleetConfig,
    applied: AppliedFleet,
    outputs: dict[str, Any] | FleetError,
) -> HealthCheckResult:
    settings = controller.config.monitor.health_check
    assert settings is not None
    if isinstance(outputs, FleetError):
        return HealthCheckResult(settings.target, "error", f"no Terraform outputs: {outputs}")
    try:
        target = render_target(settings.target, outputs, fleet.name, applied.load_balancer)
    except ValueError as exc:
        return HealthCheckResult(settings.target, "error", str(exc))
    return probe(target, settings.timeout.total_seconds())


def _outputs(controller: Controller) -> dict[str, Any] | FleetError:
    try:
        return controller.workspace.outputs()
    except FleetError as exc:
        return exc


def _at_least(window: Window, period: timedelta) -> datetime:
    """CloudWatch needs at least one period; a window shorter than that asks for one."""
    return max(window.end, window.start + period)
