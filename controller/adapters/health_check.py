"""Health checks templated from Terraform outputs: HTTP(S) or TCP, with a time-out.

The target is a Jinja2 template (StrictUndefined) rendered with the stack's outputs, the fleet's
name and its load balancer's name, e.g.
    http://{{ outputs.load_balancers[load_balancer] }}/healthz
    tcp://{{ outputs.bastion_ip }}:22
An HTTP check passes on a 2xx or 3xx answer; a TCP check passes when a connection opens.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, StrictUndefined, TemplateError

from controller.domain.monitor import HealthCheckResult

SCHEMES = ("http://", "https://", "tcp://")
_ENV = Environment(undefined=StrictUndefined, autoescape=False)


def check_template(text: str) -> None:
    """ValueError if `text` is not a usable target template (for config validation)."""
    if not text.strip().startswith(SCHEMES):
        raise ValueError(
            f"health check target must start with http://, https:// or tcp://, got {text!r}"
        )
    try:
        _ENV.parse(text)
    except TemplateError as exc:
        raise ValueError(f"health check target is not a valid template ({exc}): {text!r}") from None


def render_target(text: str, outputs: Mapping[str, Any], fleet: str, load_balancer: str) -> str:
    """The concrete target; ValueError naming what the template needs and outputs lack."""
    try:
        return (
            _ENV.from_string(text)
            .render(outputs=outputs, fleet=fleet, load_balancer=load_balancer)
            .strip()
        )
    except TemplateError as exc:
        raise ValueError(
            f"cannot render {text!r} from the Terraform outputs ({exc}; outputs: "
            f"{', '.join(sorted(outputs)) or 'none'})"
        ) from None


def probe(target: str, timeout_s: float) -> HealthCheckResult:
    """One check of `target` (http(s)://... or tcp://host:port); never raises."""
    started = time.perf_counter()
    if target.startswith("tcp://"):
        return _tcp(target, timeout_s, started)
    if target.startswith(("http://", "https://")):
        return _http(target, timeout_s, started)
    return HealthCheckResult(target, "error", "unsupported scheme (use http, https or tcp)")


def _http(target: str, timeout_s: float, started: float) -> HealthCheckResult:
    # No proxies from the environment: a health check asks the fleet, not a corporate proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(target, method="GET", headers={"User-Agent": "fleetctl"})
    try:
        with opener.open(request, timeout=timeout_s) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return HealthCheckResult(target, "failed", f"no answer: {reason}", _ms(started))
    ok = 200 <= status < 400
    return HealthCheckResult(target, "ok" if ok else "failed", f"HTTP {status}", _ms(started))


def _tcp(target: str, timeout_s: float, started: float) -> HealthCheckResult:
    parts = urlsplit(target)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        return HealthCheckResult(target, "error", "tcp target needs host:port")
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        return HealthCheckResult(target, "failed", f"connection failed: {exc}", _ms(started))
    return HealthCheckResult(target, "ok", "connection opened", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
