"""fleetctl as a user runs it: real processes, exit codes, messages, state left intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.adapters.storage.db import connect
from controller.adapters.storage.lease_store import LeaseStore
from controller.cli import main
from controller.config import load_config

pytestmark = pytest.mark.terraform


def fleetctl(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cycle_then_state_json_prints_the_fleet_state_document(project: Path) -> None:
    cycle = fleetctl("--config", str(project), "cycle", cwd=project.parent)
    assert cycle.returncode == 0, cycle.stderr
    assert "plan       " in cycle.stdout and "applied" in cycle.stdout
    assert "capacity   web" in cycle.stdout

    state = fleetctl("--config", str(project), "state", "--json", cwd=project.parent)
    assert state.returncode == 0, state.stderr
    document = json.loads(state.stdout)
    assert document["version"] == 1 and document["last_plan"]["status"] == "applied"
    assert {f["name"] for f in document["fleets"]} == {"web", "api"}


def test_the_config_is_found_in_the_working_directory(project: Path) -> None:
    result = fleetctl("personas", "validate", cwd=project.parent)
    assert result.returncode == 0, result.stderr
    assert "3 personas OK" in result.stdout


def test_bad_config_exits_nonzero_naming_the_key_and_keeps_the_previous_state(
    project: Path,
) -> None:
    assert fleetctl("--config", str(project), "cycle", cwd=project.parent).returncode == 0
    state_file = project.parent / "state" / "state.json"
    before = state_file.read_bytes()
    project.write_text(project.read_text() + "surprise_key: 1\n")

    result = fleetctl("--config", str(project), "cycle", cwd=project.parent)

    assert result.returncode == 1
    assert "surprise_key: Extra inputs are not permitted" in result.stderr
    assert "Traceback" not in result.stderr
    assert state_file.read_bytes() == before


def test_a_bad_persona_file_fails_the_cycle_naming_file_line_and_field(project: Path) -> None:
    persona = project.parent / "personas" / "api-consumer.yaml"
    persona.write_text(persona.read_text().replace("cpu_demand: 0.02", "cpu_demand: 7"))
    result = fleetctl("--config", str(project), "cycle", cwd=project.parent)
    assert result.returncode == 1
    assert f"{persona}:" in result.stderr
    assert (
        "resource_profile.cpu_demand: Input should be less than or equal to 1 (got 7)"
        in result.stderr
    )


def test_state_before_any_cycle_says_what_to_do(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(project), "state"]) == 1
    assert "run `fleetctl cycle` first" in capsys.readouterr().err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("cycle", "daemon", "state", "runs", "personas"):
        assert command in out


def test_bad_flag_values_are_rejected_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["runs", "--limit", "zero"])
    assert done.value.code == 2
    assert "not a whole number: 'zero'" in capsys.readouterr().err


def test_personas_validate_also_checks_the_calendar_naming_file_and_line(project: Path) -> None:
    calendar = project.parent / "personas" / "_calendar.yaml"
    calendar.write_text(
        "campaigns:\n  - name: sale\n    persona: nobody\n    start: 2026-11-12T17:00:00Z\n"
        "    end: 2026-11-12T21:00:00Z\n    uplift: 1.5\n"
    )
    result = fleetctl("personas", "validate", cwd=project.parent)
    assert result.returncode == 1
    assert f"{calendar}:3: campaigns.0.persona" in result.stderr and "nobody" in result.stderr


@pytest.mark.parametrize("command", [["cycle"], ["plan"], ["approve", "000001-abcdef12"]])
def test_cycle_plan_and_approve_are_refused_while_a_daemon_holds_the_lease_naming_it(
    project: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(project)
    engine = connect(config.sqlalchemy_url)
    try:
        daemon = LeaseStore(engine)
        assert daemon.try_acquire("alpha:4242", timedelta(seconds=30), datetime.now(UTC))

        assert main(["--config", str(project), *command]) == 1

        err = capsys.readouterr().err
        assert f"refused: fleetctl {command[0]} needs the controller lease" in err
        assert "which is held by alpha:4242 (heartbeat " in err
        assert not (config.data_dir / "state.json").exists()
        current = daemon.current()
        assert current is not None and current.holder == "alpha:4242"  # left to its holder
    finally:
        engine.dispose()
