"""Health checks against real local servers: HTTP status, TCP connect, templates from outputs."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from controller.adapters.health_check import probe, render_target


class Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_2xx_is_ok_and_5xx_is_a_failure(http_port: int) -> None:
    ok = probe(f"http://127.0.0.1:{http_port}/healthz", 2)
    bad = probe(f"http://127.0.0.1:{http_port}/broken", 2)
    assert (ok.outcome, ok.detail) == ("ok", "HTTP 200") and ok.latency_ms is not None
    assert (bad.outcome, bad.detail) == ("failed", "HTTP 503")


def test_nobody_listening_is_a_failure_for_http_and_tcp() -> None:
    port = closed_port()
    assert probe(f"http://127.0.0.1:{port}/healthz", 1).outcome == "failed"
    assert probe(f"tcp://127.0.0.1:{port}", 1).outcome == "failed"


def test_tcp_is_ok_when_a_connection_opens(http_port: int) -> None:
    result = probe(f"tcp://127.0.0.1:{http_port}", 2)
    assert (result.outcome, result.detail) == ("ok", "connection opened")
    assert probe("tcp://127.0.0.1", 1).outcome == "error"


def test_the_target_is_rendered_from_terraform_outputs_and_names_what_is_missing() -> None:
    outputs = {"load_balancers": {"edge": "edge-123.elb.amazonaws.com"}}
    target = render_target(
        "http://{{ outputs.load_balancers[load_balancer] }}/healthz?fleet={{ fleet }}",
        outputs,
        "web",
        "edge",
    )
    assert target == "http://edge-123.elb.amazonaws.com/healthz?fleet=web"
    with pytest.raises(ValueError, match="outputs: load_balancers"):
        render_target("tcp://{{ outputs.bastion }}:22", outputs, "web", "edge")
