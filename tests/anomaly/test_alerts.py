"""Alerts go out once per anomaly and once more when it resolves: webhook (a local HTTP server)
and SNS (moto's server over HTTP with a real boto3 client), sent-state in SQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
from moto.server import ThreadedMotoServer

from controller.adapters.alert_channels import AlertDispatcher, LogAlerts, WebhookAlerts
from controller.adapters.aws.sns_alerts import SnsAlerts
from controller.adapters.storage.anomaly_alert_store import AnomalyAlertStore
from controller.adapters.storage.db import connect
from controller.anomaly.records import Anomaly

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
SPIKE = Anomaly(
    "unmatched_spike:-:1772452800",
    "unmatched_spike",
    None,
    NOW,
    NOW,
    4.2,
    {"unmatched_per_step": 12.0},
    "open",
)


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Recorder.received = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Recorder.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> AnomalyAlertStore:
    return AnomalyAlertStore(connect(f"sqlite:///{tmp_path / 'fleet.db'}"))


def test_webhook_gets_one_alert_while_open_and_one_when_resolved(
    webhook: tuple[str, list[dict[str, Any]]], store: AnomalyAlertStore
) -> None:
    url, received = webhook
    dispatcher = AlertDispatcher(store, [LogAlerts(), WebhookAlerts(url)])
    assert dispatcher.dispatch([SPIKE], NOW) == []
    assert dispatcher.dispatch([replace(SPIKE, status="ongoing")], NOW) == []
    assert [m["anomaly"]["status"] for m in received] == ["open"]
    assert dispatcher.dispatch([replace(SPIKE, status="resolved")], NOW) == []
    assert dispatcher.dispatch([replace(SPIKE, status="resolved")], NOW) == []
    assert [m["anomaly"]["status"] for m in received] == ["open", "resolved"]
    assert received[1]["subject"].startswith("[fleet] resolved: unmatched spike")


def test_a_webhook_that_is_down_is_reported_and_retried_next_time(
    webhook: tuple[str, list[dict[str, Any]]], store: AnomalyAlertStore
) -> None:
    url, received = webhook
    down = AlertDispatcher(store, [WebhookAlerts("http://127.0.0.1:9/nothing", timeout_s=2)])
    (problem,) = down.dispatch([SPIKE], NOW)
    assert problem.startswith("webhook:")
    up = AlertDispatcher(store, [WebhookAlerts(url)])
    assert up.dispatch([SPIKE], NOW) == []
    assert len(received) == 1


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_sns_gets_one_alert_and_one_resolution(moto_url: str, store: AnomalyAlertStore) -> None:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="fleet-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    dispatcher = AlertDispatcher(store, [SnsAlerts(topic, client=sns)])
    for status in ("open", "ongoing", "resolved", "resolved"):
        assert dispatcher.dispatch([replace(SPIKE, status=status)], NOW) == []  # type: ignore[arg-type]

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert [json.loads(b["Message"])["status"] for b in bodies] == ["open", "resolved"]
    assert bodies[0]["Subject"] == "[fleet] anomaly: unmatched spike"
