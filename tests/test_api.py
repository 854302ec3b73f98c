"""The daemon's HTTP API: reads, token-guarded writes, Prometheus metrics, the OpenAPI contract."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from controller.api.app import create_app
from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.workflow.cycle import run_cycle
from controller.workflow.wiring import Controller, build_controller
from tests.helpers import START, make_project

pytestmark = pytest.mark.terraform
TOKEN = "s3cret-token-value"


@dataclass
class Status:
    is_leader: bool = True
    cycles: int = 1
    failures: int = 0


@pytest.fixture(scope="module")
def cycled(tmp_path_factory: pytest.TempPathFactory, two_day_events: Path) -> Iterator[Controller]:
    """One controller after one real cycle, shared by the read-only tests of this module."""
    project = make_project(tmp_path_factory.mktemp("api"), events=two_day_events)
    controller = build_controller(
        load_config(project), clock=FixedClock(START + timedelta(days=2, hours=1))
    )
    run_cycle(controller)
    yield controller
    controller.close()


@pytest.fixture(scope="module")
def client(cycled: Controller) -> Iterator[TestClient]:
    with TestClient(create_app(cycled, Status(), TOKEN)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def api_schema(client: TestClient) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", client.app)


def test_health_reports_leadership_and_the_last_cycle(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["leader"] is True
    assert body["last_cycle_status"] == "ok"


def test_state_and_its_parts_are_readable(client: TestClient) -> None:
    state = client.get("/state").json()
    assert state["version"] == 1 and {f["name"] for f in state["fleets"]} == {"web", "api"}
    assert client.get("/state/1").json() == state
    assert client.get("/state/99").status_code == 404
    forecasts = client.get("/forecasts").json()
    assert {f["persona"] for f in forecasts} == {
        "api-consumer",
        "content-publisher",
        "peak-hour-shopper",
    }
    assert client.get("/drift").json()["status"] == "not-checked"
    assert client.get("/anomalies").json() == []


def test_personas_are_listed_and_shown_with_their_version(client: TestClient) -> None:
    listed = client.get("/personas").json()
    assert {p["key"] for p in listed} == {"api-consumer", "content-publisher", "peak-hour-shopper"}
    shown = client.get("/personas/peak-hour-shopper").json()
    assert shown["version"] == 1
    assert shown["definition"]["resource_profile"]["cpu_demand"] == 0.05
    assert client.get("/personas/nobody").status_code == 404


def test_plans_are_listed_and_fetched(client: TestClient) -> None:
    (plan,) = client.get("/plans").json()
    assert plan["status"] == "applied"
    assert client.get(f"/plans/{plan['plan_id']}").json()["plan_id"] == plan["plan_id"]
    assert client.get("/plans/nope").status_code == 404


def test_mutating_endpoints_need_the_token_and_never_echo_it(client: TestClient) -> None:
    (plan,) = client.get("/plans").json()
    url = f"/plans/{plan['plan_id']}/approve"
    missing = client.post(url)
    wrong = client.post(url, headers={"Authorization": "Bearer guess"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer <token>" in missing.json()["detail"]
    assert "FLEET_API__TOKEN" in wrong.json()["detail"]
    assert TOKEN not in missing.text + wrong.text


def test_the_token_is_accepted_only_in_an_authorization_bearer_header(client: TestClient) -> None:
    url = "/plans/no-such-plan/approve"  # past the guard, a missing plan answers 404
    assert client.post(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    elsewhere = [
        client.post(url, headers={"Authorization": TOKEN}),
        client.post(url, headers={"Authorization": f"Token {TOKEN}"}),
        client.post(url, headers={"X-API-Token": TOKEN}),
        client.post(url, headers={"X-Auth-Token": TOKEN}),
        client.post(url, params={"token": TOKEN}),
        client.post(url, params={"access_token": TOKEN}),
    ]
    assert [r.status_code for r in elsewhere] == [401] * len(elsewhere)
    assert all(r.headers["WWW-Authenticate"] == "Bearer" for r in elsewhere)


def test_without_a_configured_token_writes_are_refused_naming_the_variable_that_enables_them(
    cycled: Controller, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(cycled, Status(), None)) as anonymous:
        response = anonymous.post("/plans/x/approve", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 403
    (variable,) = re.findall(r"\bFLEET_\w+", response.json()["detail"])
    monkeypatch.setenv(variable, "from-the-environment")
    token = load_config(project).api.token
    assert token is not None and token.get_secret_value() == "from-the-environment"


def test_docs_render_from_assets_the_api_serves_itself(client: TestClient) -> None:
    """/docs and /redoc must work on a host with no route to a CDN: nothing from another host."""
    for page_url in ("/docs", "/redoc"):
        page = client.get(page_url)
        assert page.status_code == 200
        assert re.findall(r"(?:https?:)?//[\w.-]+", page.text) == [], page_url
        referenced = re.findall(r"(?:src|href|spec-url)=\"([^\"]+)\"|url: '([^']+)'", page.text)
        assets = {a or b for a, b in referenced}
        assert any(a.endswith(".js") for a in assets) and "/openapi.json" in assets
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200 and served.content, asset
    # the docs page's Authorize button sends the token the way the API takes it
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]
    assert [(s["type"], s["scheme"]) for s in schemes.values()] == [("http", "bearer")]


def test_prometheus_metrics_expose_capacity_cycles_and_dead_letters(client: TestClient) -> None:
    text = client.get("/metrics").text
    assert 'fleet_cycles_recent{status="ok"} 1.0' in text
    assert 'fleet_capacity_desired{fleet="web"}' in text
    assert "fleet_dead_letters_total" in text
    assert 'fleet_cycle_step_duration_seconds{step="plan"}' in text
    assert 'fleet_forecast_bias_correction{persona="peak-hour-shopper"} 1.0' in text
    assert 'fleet_persona_profile_learned{persona="peak-hour-shopper"} 0.0' in text


def test_every_endpoint_honours_the_openapi_contract(api_schema: schemathesis.BaseSchema) -> None:
    """Generated requests to every operation; responses must match the published OpenAPI schema."""
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(
            max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate()

        conforms()
        checked.append(operation.label)
    assert "POST /plans/{plan_id}/approve" in checked and len(checked) >= 12


def test_a_held_plan_is_approved_over_http_with_the_token(project: Path, clock: FixedClock) -> None:
    config = load_config(project).model_copy(update={"apply_mode": "review"})
    controller = build_controller(config, clock=clock)
    try:
        held = run_cycle(controller)
        assert held.plan_status == "waiting-for-review"
        with TestClient(create_app(controller, Status(), TOKEN)) as api:
            url = f"/plans/{held.plan.plan_id}/approve"
            approved = api.post(url, headers={"Authorization": f"Bearer {TOKEN}"})
            again = api.post(url, headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        controller.close()
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "applied" and "applied" in approved.json()["message"]
    assert again.status_code == 409 and "only a plan waiting for review" in again.json()["detail"]


def test_a_standing_by_daemon_refuses_approve_and_applies_nothing(
    project: Path, clock: FixedClock
) -> None:
    config = load_config(project).model_copy(update={"apply_mode": "review"})
    controller = build_controller(config, clock=clock)
    try:
        held = run_cycle(controller)
        with TestClient(create_app(controller, Status(is_leader=False), TOKEN)) as api:
            refused = api.post(
                f"/plans/{held.plan.plan_id}/approve",
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        stored = controller.plan_store.get(held.plan.plan_id)
    finally:
        controller.close()
    assert refused.status_code == 503, refused.text
    assert "standing by" in refused.json()["detail"]
    assert stored is not None and stored.status == "waiting-for-review"
