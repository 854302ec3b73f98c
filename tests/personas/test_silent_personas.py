"""A persona that matched no session over the last day of metrics is reported, not left silent.

The persona here is the API consumer with a memory_demand at the bound (262144 MB): valid, but no
API session (16 MB per event) fits it, so its sessions go unmatched and nothing fails.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from controller.cli import main
from controller.workflow.cycle import run_cycle
from controller.workflow.wiring import Controller
from tests.ingest.conftest import project
from tests.ingest.test_file_ingest import write
from tests.matching.sessions import START, by_time, publisher, session, shopper

API = "api-consumer"
API_USE = (20.0, 16.0, 125.0, 2.0)
"""per event: what its declared profile (0.02 vCPU, 16 MB, 1 Mbps, 2 IOPS) produces"""


def demand_all_the_memory(personas: Path) -> None:
    path = personas / f"{API}.yaml"
    data = yaml.safe_load(path.read_text())
    data["resource_profile"]["memory_demand"] = 262144
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def api_client(user: str, start: timedelta) -> list[bytes]:
    return session(user, ["api_read", "api_write", "api_read"], API_USE, "us-east-1", START + start)


def drift(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    assert main(["--config", str(config), "personas", "drift", *flags]) == 0
    return capsys.readouterr().out


def ingest(config: Path, events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "ingest", "--source", f"file://{events}", "--quiet"]) == 0
    capsys.readouterr()


def test_personas_drift_reports_a_persona_that_matched_no_session_for_a_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    demand_all_the_memory(tmp_path / "personas")
    hours = [timedelta(hours=h) for h in (0, 2, 26)]  # 26 h of data: a whole last day
    events = by_time(
        *(shopper(f"s{i}", START + at) for i, at in enumerate(hours)),
        *(publisher(f"p{i}", START + at) for i, at in enumerate(hours)),
        *(api_client(f"a{i}", at) for i, at in enumerate(hours)),
    )
    ingest(config, write(tmp_path / "events.ndjson", events), capsys)

    found = {d["persona"]: d["last_day"] for d in json.loads(drift(config, capsys, "--json"))}

    window_end = START + timedelta(hours=26, minutes=1)  # the end of the newest 1-minute bucket
    assert found[API] == {
        "start": (window_end - timedelta(days=1)).isoformat(),
        "end": window_end.isoformat(),
        "events": 0,
        "matched_no_session": True,
    }
    for matched in ("peak-hour-shopper", "content-publisher"):
        assert found[matched]["events"] > 0 and found[matched]["matched_no_session"] is False
    warnings = [line for line in drift(config, capsys).splitlines() if "warning" in line]
    assert warnings == [
        f"warning: {API} matched no session in the last day of metrics "
        "(2026-11-02 17:01Z - 2026-11-03 17:01Z); check its resource_profile and traffic_pattern "
        "against the traffic"
    ]


def test_less_than_a_day_of_metrics_passes_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path)
    demand_all_the_memory(tmp_path / "personas")
    events = by_time(shopper("s", START), api_client("a", timedelta(hours=23)))
    ingest(config, write(tmp_path / "events.ndjson", events), capsys)

    found = json.loads(drift(config, capsys, "--json"))

    assert [d["last_day"] for d in found] == [None, None, None]
    assert "less than a day of metrics; not checked" in drift(config, capsys)


@pytest.mark.terraform
def test_the_state_document_lists_a_persona_that_matched_no_session_for_a_day(
    controller: Controller,
) -> None:
    demand_all_the_memory(controller.config.personas_dir)

    state = run_cycle(controller).state

    silent = state.personas_without_sessions
    assert silent is not None and silent.personas == [API]
    assert silent.window_end - silent.window_start == timedelta(days=1)
    stored = json.loads(state.model_dump_json())["personas_without_sessions"]
    assert stored["personas"] == [API]
