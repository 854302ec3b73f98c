"""Anomalies through the whole cycle: injected into the event file, detected against the forecasts
the controller made before, kept across cycles, alerted once (a real HTTP webhook and SNS on
moto's server) and once more when resolved, and mitigated in the allocation, the plan review and
the rendered variables. Real embedded Terraform and SQLite; only the clock is fixed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from controller.adapters.demo_events import TraceMinute, generate_events
from controller.adapters.persona_files import load_persona_directory
from controller.api.app import create_app
from controller.cli import main
from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.review.markdown import render_markdown
from controller.workflow.cycle import CycleOutcome, run_cycle
from controller.workflow.summary import format_outcome
from controller.workflow.wiring import build_controller
from tests.helpers import ROOT, START, daily_trace, make_project

pytestmark = pytest.mark.terraform

D = START + timedelta(days=3, hours=12)  # the first cycle: three and a half days of history
BURST = (D + timedelta(hours=1), D + timedelta(hours=2))  # api-consumer +30 events/min
SCRAPE = (D + timedelta(minutes=75), D + timedelta(minutes=110))  # 20 unmatched sessions/min
SILENCE = (D + timedelta(minutes=30), D + timedelta(hours=2))  # content-publisher stops
HEAVY_CPU = (D + timedelta(minutes=70), D + timedelta(minutes=110))  # shoppers' CPU x 10
PUBLISHER_TYPES = {"upload", "edit", "preview", "publish"}  # no other persona declares these


def _when(line: str) -> datetime | None:
    try:
        return datetime.fromisoformat(json.loads(line)["timestamp"])
    except (ValueError, KeyError, TypeError):
        return None  # the generator's deliberate malformed lines: not needed here


def _minutes(span: tuple[datetime, datetime], per_minute: int) -> list[TraceMinute]:
    count = int((span[1] - span[0]) / timedelta(minutes=1))
    return [TraceMinute(span[0] + timedelta(minutes=i), per_minute) for i in range(count)]


def _scrapers(span: tuple[datetime, datetime], per_minute: int) -> list[str]:
    """Sessions of one event each, of a type no persona declares: unmatched."""
    lines = []
    for m in _minutes(span, per_minute):
        for k in range(per_minute):
            when = m.start + timedelta(seconds=k * 60 / per_minute)
            lines.append(
                json.dumps(
                    {
                        "user_id": f"bot{k}",
                        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                        "event_type": "scrape",
                        "resource_consumption": {
                            "cpu_ms": 5,
                            "memory_mb": 64,
                            "network_kb": 900,
                            "io_ops": 1,
                        },
                        "region": "us-east-1",
                        "session_id": f"scrape-{when:%H%M%S%f}-{k}",
                    }
                )
            )
    return lines


def _heavy_cpu(line: str) -> str:
    """A shopper's event with 10x the CPU (no persona uses that much): the session still shops
    (matched), oddly (unusual)."""
    event = json.loads(line)
    if not str(event.get("session_id", "")).startswith("pea-"):
        return line
    event["resource_consumption"]["cpu_ms"] *= 10
    return json.dumps(event)


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    personas = {p.persona.key: p.persona for p in load_persona_directory(ROOT / "personas")}
    base = generate_events(daily_trace(days=4, mean_per_minute=6), list(personas.values()), 1.0)
    kept = []
    for line in base:
        when = _when(line)
        publisher = json.loads(line).get("event_type") in PUBLISHER_TYPES if when else False
        if when is None or (publisher and SILENCE[0] <= when < SILENCE[1]):
            continue
        if HEAVY_CPU[0] <= when < HEAVY_CPU[1]:
            line = _heavy_cpu(line)
        kept.append((when, line))
    burst = generate_events(_minutes(BURST, 30), [personas["api-consumer"]], 1.0, seed=9)
    for line in burst:
        when = _when(line)
        if when is not None:
            kept.append((when, line.replace('"session_id":"api-', '"session_id":"burst-api-')))
    kept += [(w, line) for line in _scrapers(SCRAPE, 20) if (w := _when(line)) is not None]
    path = tmp_path_factory.mktemp("anomaly-events") / "events.ndjson"
    path.write_text("".join(line + "\n" for _, line in sorted(kept, key=lambda x: x[0])))
    return path


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Hook.received
    server.shutdown()
    server.server_close()


@dataclass(frozen=True)
class SnsInbox:
    endpoint: str
    topic: str
    sqs: Any
    queue: str

    def drain(self) -> list[dict[str, Any]]:
        """The anomaly payloads published to the topic (via the subscribed queue)."""
        out = []
        while batch := self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                out.append(json.loads(json.loads(message["Body"])["Message"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return out


@pytest.fixture(scope="module")
def sns() -> Iterator[SnsInbox]:
    """A topic on moto's server with an SQS queue subscribed, fake credentials in the env."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        client = boto3.client("sns", endpoint_url=url, region_name="us-east-1")
        sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1")
        topic = client.create_topic(Name="fleet-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        client.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        try:
            yield SnsInbox(url, topic, sqs, queue)
        finally:
            server.stop()


@dataclass(frozen=True)
class Scenario:
    project: Path
    first: CycleOutcome
    during: CycleOutcome
    after: CycleOutcome
    tfvars: tuple[dict[str, Any], ...]
    """fleets.auto.tfvars.json as each cycle wrote it"""
    webhook: list[dict[str, Any]]
    sns: list[dict[str, Any]]


INJECTED = {
    ("demand_outside_forecast", "api-consumer"),
    ("unmatched_spike", None),
    ("traffic_vanished", "content-publisher"),
    ("unusual_resources", "peak-hour-shopper"),
}


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory,
    events: Path,
    webhook: tuple[str, list[dict[str, Any]]],
    sns: SnsInbox,
) -> Scenario:
    """Cycles at D (forecasts made), D+2h (anomalies under way), D+5h (all over)."""
    project = make_project(
        tmp_path_factory.mktemp("anomaly-project"),
        events=events,
        anomalies={
            "vanished_min_rate": 0.2,
            "unmatched_min_rate": 1.0,  # about 3 odd shoppers a minute
            "webhook_url": webhook[0],
            "sns_topic_arn": sns.topic,
            "policies": {
                "demand_outside_forecast": {
                    "actions": ["alert", "scale_out", "throttle"],
                    "factor": 2.0,
                    "duration": "30m",
                },
            },
        },
        aws={"endpoint_url": sns.endpoint},
    )
    clock = FixedClock(D)
    controller = build_controller(load_config(project), clock=clock)
    outcomes, written = [], []
    try:
        for at in (D, D + timedelta(hours=2), D + timedelta(hours=5)):
            clock.set(at)
            outcomes.append(run_cycle(controller))
            tfvars = controller.workspace.stack_dir / "fleets.auto.tfvars.json"
            written.append(json.loads(tfvars.read_text()))
    finally:
        controller.close()
    first, during, after = outcomes
    return Scenario(project, first, during, after, tuple(written), list(webhook[1]), sns.drain())


def _kinds(outcome: CycleOutcome) -> dict[tuple[str, str | None], str]:
    assert outcome.anomalies is not None
    return {(a.kind, a.persona): a.status for a in outcome.anomalies.anomalies}


def _injected_ids(scenario: Scenario) -> set[str]:
    assert scenario.during.anomalies is not None
    return {a.id for a in scenario.during.anomalies.anomalies if (a.kind, a.persona) in INJECTED}


def test_each_injected_kind_is_detected_while_it_lasts_and_resolved_after(
    scenario: Scenario,
) -> None:
    assert not INJECTED & set(_kinds(scenario.first)), "nothing injected before the first cycle"
    during = _kinds(scenario.during)
    assert set(during) >= INJECTED
    assert all(during[k] != "resolved" for k in INJECTED)
    after = _kinds(scenario.after)
    assert all(after[k] == "resolved" for k in INJECTED)


def test_a_scale_out_policy_raises_the_fleet_in_the_allocation_review_and_variables(
    scenario: Scenario,
) -> None:
    during = scenario.during
    api = next(a for a in during.allocations if a.fleet == "api")  # serves api-consumer
    assert any("temporary scale-out x2" in r for r in api.reasons)
    assert during.review is not None
    review_api = next(f for f in during.review.fleets if f.name == "api")
    assert any("anomaly demand_outside_forecast:api-consumer" in r for r in review_api.reasons)
    assert "temporary scale-out x2" in render_markdown(during.review)
    assert scenario.tfvars[1]["fleets"]["api"]["desired_capacity"] == api.desired_now
    api_after = next(a for a in scenario.after.allocations if a.fleet == "api")
    assert not any("temporary scale-out" in r for r in api_after.reasons), "expired"


def test_a_throttle_policy_renders_a_rate_limit_until_the_anomaly_resolves(
    scenario: Scenario,
) -> None:
    before, during, after = (v["anomaly_rate_limits"] for v in scenario.tfvars)
    assert before == {}
    assert set(during) == {"api"} and during["api"] >= 10  # WAF's minimum
    assert after == {}, "resolved: the next apply removes the rule"


def test_each_anomaly_alerts_once_by_webhook_and_sns_and_once_more_when_resolved(
    scenario: Scenario,
) -> None:
    ids = _injected_ids(scenario)
    expected = sorted([(i, "open") for i in ids] + [(i, "resolved") for i in ids])
    hooks = [m["anomaly"] for m in scenario.webhook if m["anomaly"]["id"] in ids]
    assert sorted((m["id"], m["status"]) for m in hooks) == expected
    assert sorted((m["id"], m["status"]) for m in scenario.sns if m["id"] in ids) == expected


def test_the_state_document_api_and_report_show_the_anomalies_typed(
    scenario: Scenario, tmp_path: Path
) -> None:
    by_key = {(a.kind, a.persona): a for a in scenario.during.state.anomalies}
    burst = by_key[("demand_outside_forecast", "api-consumer")]
    assert burst.evidence["direction"] == "above" and burst.size > 1
    assert burst.actions == ["alert", "scale_out", "throttle"]
    assert any(m.startswith("scale-out api x2") for m in burst.mitigation)
    assert any(m.startswith("rate limit api:") for m in burst.mitigation)
    assert by_key[("traffic_vanished", "content-publisher")].size < 0.2
    printed = format_outcome(scenario.during, "system")  # what `make run` prints for the cycle
    assert "demand outside forecast (api-consumer)" in printed and "scale-out api" in printed

    controller = build_controller(load_config(scenario.project), clock=FixedClock(D))
    try:
        with TestClient(create_app(controller, _Leader(), "token")) as client:
            served = client.get("/anomalies").json()
    finally:
        controller.close()
    assert {(a["kind"], a["persona"], a["status"]) for a in served} >= {
        (kind, persona, "resolved") for kind, persona in INJECTED
    }
    out = tmp_path / "report"
    assert main(["--config", str(scenario.project), "report", "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert "<td>unmatched spike</td>" in page and "<td>content-publisher</td>" in page


@dataclass
class _Leader:
    is_leader: bool = True
    cycles: int = 3
    failures: int = 0
