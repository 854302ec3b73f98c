"""Monitoring after scaling: after an apply, the next cycles read realized utilization from the
event stream (measured cpu_ms in the metric store) and CloudWatch (moto, datapoints put the way
an agent would), run the health check templated from Terraform outputs against a local server,
and classify each fleet against its target."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from controller.allocation.catalog import load_catalog
from controller.config import load_config
from controller.domain.applied import applied_stack
from controller.domain.clock import FixedClock
from controller.workflow.cycle import CycleOutcome, run_cycle
from controller.workflow.monitor import monitor_fleets
from controller.workflow.steps import ingest as ingest_step
from controller.workflow.steps import load_personas
from controller.workflow.summary import format_outcome
from controller.workflow.wiring import Controller, build_controller
from tests.aws.fleet_factory import AwsAccount
from tests.helpers import START, make_project

pytestmark = pytest.mark.terraform

T0 = START + timedelta(days=2, hours=1)  # the clock fixture's time: the first cycle applies here
WINDOW = timedelta(minutes=15)
TARGET = 0.6


def event(when: datetime, cpu_ms: float) -> str:
    return json.dumps(
        {
            "user_id": "partner-7",
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            "event_type": "api_read",
            "session_id": f"s-{int(when.timestamp()) // 600}",
            "resource_consumption": {
                "cpu_ms": cpu_ms,
                "memory_mb": 1,
                "network_kb": 1,
                "io_ops": 1,
            },
        }
    )


class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), type("H", (Health,), {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def project(tmp_path: Path, health_port: int | None = None, **overrides: Any) -> Path:
    """Events of one API partner whose CPU per event sets the fleet's utilization: thousands
    of times the persona's declared use, so the matcher's outlier test is switched off (these
    tests are about monitoring, and its event types say who it is)."""
    overrides.setdefault("anomalies", {"max_outlier_z": 1e6})
    events = tmp_path / "events.ndjson"
    history = [T0 - timedelta(hours=3) + timedelta(minutes=i) for i in range(180)]
    events.write_text("".join(event(t, 30_000.0) + "\n" for t in history))
    path = make_project(
        tmp_path,
        events=events,
        fleets=[
            {"name": "web", "min_instances": 2, "max_instances": 20},
            {
                "name": "api",
                "instance_type": "c6i.large",
                "min_instances": 1,
                "max_instances": 10,
                "target_utilization": TARGET,
            },
        ],
        **overrides,
    )
    if health_port is not None:
        (tmp_path / "stack" / "health.tf").write_text(
            f'output "health_endpoint" {{\n  value = "127.0.0.1:{health_port}"\n}}\n'
        )
    return path


def utilization_window(controller: Controller, events: Path, utilization: float) -> float:
    """Append one event a minute for the window after the last apply, each using exactly
    `utilization` of the api fleet's scheduled vCPUs; returns that vCPU count at T0."""
    last = controller.plan_store.last_applied()
    assert last is not None
    api = applied_stack(last.plan_id, last.created_at, last.variables).fleets["api"]
    kind = load_catalog().get(api.instance_type)
    assert kind is not None
    lines = []
    for minute in range(int(WINDOW / timedelta(minutes=1))):
        when = T0 + timedelta(minutes=minute, seconds=30)
        vcpus = api.capacity_at(T0 + timedelta(minutes=minute)) * kind.vcpu
        lines.append(event(when, utilization * vcpus * 60_000) + "\n")
    with events.open("a") as handle:
        handle.writelines(lines)
    return float(api.capacity_at(T0) * kind.vcpu)


def ingest(controller: Controller) -> None:
    config = controller.config
    ingest_step(
        config,
        load_personas(config),
        controller.source,
        controller.ingest_store,
        controller.clock.now(),
    )


def cycle_after(controller: Controller, clock: FixedClock, delta: timedelta) -> CycleOutcome:
    clock.set(T0 + delta)
    return run_cycle(controller)


def test_event_stream_utilization_in_the_window_after_an_apply_is_classified_and_shown(
    tmp_path: Path, clock: FixedClock
) -> None:
    path = project(tmp_path, monitor={"window": "15m", "tolerance": 0.1})
    controller = build_controller(load_config(path), clock=clock)
    try:
        first = run_cycle(controller)
        assert first.plan_status == "applied" and first.monitor == ()
        utilization_window(controller, tmp_path / "events.ndjson", TARGET)
        clock.set(T0 + timedelta(minutes=6))
        ingest(controller)
        watching = monitor_fleets(controller, load_personas(controller.config), clock.now())
        done = cycle_after(controller, clock, WINDOW)
    finally:
        controller.close()

    early = {h.fleet: h for h in watching}["api"]
    assert not early.window_complete and early.plan_id == first.plan.plan_id
    assert early.window_end == T0 + timedelta(minutes=6) and early.readings[0].samples == 6
    api = {h.fleet: h for h in done.monitor}["api"]
    web = {h.fleet: h for h in done.monitor}["web"]
    assert api.window_complete and (api.window_start, api.window_end) == (T0, T0 + WINDOW)
    (reading,) = api.readings
    assert reading.source == "event-stream"
    assert reading.mean == pytest.approx(TARGET, abs=0.01) and reading.samples == 15
    assert api.status == "healthy"
    # the stream was live and none of web's personas came: a real zero, not a gap
    assert web.status == "over-provisioned" and web.readings[0].mean == 0.0
    state = done.state.monitor
    assert {m.fleet: m.status for m in state} == {"web": "over-provisioned", "api": "healthy"}
    summary = format_outcome(done, "system")
    assert "  monitor    api    healthy: event-stream utilization 60%" in summary
    assert "(after plan " + first.plan.plan_id + ", window complete)" in summary


@pytest.mark.parametrize(
    ("utilization", "status"), [(0.95, "under-provisioned"), (0.2, "over-provisioned")]
)
def test_a_fleet_running_hotter_or_colder_than_its_target_is_under_or_over_provisioned(
    tmp_path: Path, clock: FixedClock, utilization: float, status: str
) -> None:
    controller = build_controller(load_config(project(tmp_path)), clock=clock)
    try:
        run_cycle(controller)
        utilization_window(controller, tmp_path / "events.ndjson", utilization)
        done = cycle_after(controller, clock, WINDOW)
    finally:
        controller.close()
    api = {h.fleet: h for h in done.monitor}["api"]
    assert api.status == status
    assert api.readings[0].mean == pytest.approx(utilization, abs=0.01)


def test_cloudwatch_decides_when_it_has_datapoints_and_the_health_check_uses_terraform_outputs(
    tmp_path: Path, clock: FixedClock, aws: AwsAccount, health_server: HTTPServer
) -> None:
    path = project(
        tmp_path,
        health_port=health_server.server_address[1],
        aws={"endpoint_url": aws.endpoint, "max_attempts": 1},
        monitor={
            "cloudwatch": True,
            "health_check": {"target": "http://{{ outputs.health_endpoint }}/healthz"},
        },
    )
    controller = build_controller(load_config(path), clock=clock)
    try:
        run_cycle(controller)
        utilization_window(controller, tmp_path / "events.ndjson", TARGET)
        last = controller.plan_store.last_applied()
        assert last is not None
        variables = json.loads(json.dumps(last.variables))
        for lb in variables["load_balancers"].values():
            lb["capacity_units"] = 0  # moto cannot create an LCU reservation
        aws.create_stack(variables, T0)
        agent_datapoints(aws, target_group=aws.fleets["api"].target_group_arn)
        done = cycle_after(controller, clock, WINDOW)
    finally:
        controller.close()

    api = {h.fleet: h for h in done.monitor}["api"]
    cloudwatch, stream = api.readings
    assert (cloudwatch.source, cloudwatch.mean, cloudwatch.peak) == ("cloudwatch", 0.9, 0.95)
    assert cloudwatch.samples == 15
    assert stream.mean == pytest.approx(TARGET, abs=0.01)
    assert api.status == "under-provisioned"  # the instances' own CPU decides
    assert api.requests_per_target_per_s == pytest.approx(20.0)
    assert api.health_check is not None
    assert api.health_check.outcome == "ok" and api.health_check.detail == "HTTP 200"
    assert api.health_check.target == f"http://127.0.0.1:{health_server.server_address[1]}/healthz"
    web = {h.fleet: h for h in done.monitor}["web"]
    assert web.readings[0].detail == "no CPUUtilization datapoints for fleet-web in the window"


def agent_datapoints(aws: AwsAccount, target_group: str) -> None:
    """What the CloudWatch agent and the ALB publish for the api fleet in the window."""
    minutes = [T0 + timedelta(minutes=i) for i in range(15)]
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "fleet-api"}],
                "Timestamp": when,
                "Value": 95.0 if i == 7 else 89.642857142857,
                "Unit": "Percent",
            }
            for i, when in enumerate(minutes)
        ],
    )
    aws.cloudwatch.put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {
                "MetricName": "RequestCountPerTarget",
                "Dimensions": [{"Name": "TargetGroup", "Value": target_group.split(":")[-1]}],
                "Timestamp": when,
                "Value": 1200.0,
                "Unit": "Count",
            }
            for when in minutes
        ],
    )


def test_a_failing_health_check_makes_the_fleet_unhealthy_a_broken_template_does_not(
    tmp_path: Path, clock: FixedClock, health_server: HTTPServer
) -> None:
    health_server.RequestHandlerClass.status = 503  # type: ignore[attr-defined]
    port = health_server.server_address[1]
    path = project(
        tmp_path,
        health_port=port,
        monitor={"health_check": {"target": "http://{{ outputs.health_endpoint }}/healthz"}},
    )
    controller = build_controller(load_config(path), clock=clock)
    try:
        run_cycle(controller)
        utilization_window(controller, tmp_path / "events.ndjson", TARGET)
        failing = cycle_after(controller, clock, timedelta(minutes=5))
        broken = controller.config.monitor.model_copy(
            update={
                "health_check": controller.config.monitor.health_check.model_copy(  # type: ignore[union-attr]
                    update={"target": "tcp://{{ outputs.no_such_output }}:80"}
                )
            }
        )
        controller.config = controller.config.model_copy(update={"monitor": broken})
        after = cycle_after(controller, clock, timedelta(minutes=10))
    finally:
        controller.close()

    api = {h.fleet: h for h in failing.monitor}["api"]
    assert api.status == "unhealthy" and "HTTP 503" in api.reason
    api_after = {h.fleet: h for h in after.monitor}["api"]
    assert api_after.health_check is not None and api_after.health_check.outcome == "error"
    assert "no_such_output" in api_after.health_check.detail
    assert api_after.status != "unhealthy"  # a check that could not be made is not a failure
