"""The scheduled daemon: cycles on an interval, one at a time, clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from controller.adapters.storage.db import cycle_runs, drift_checks, from_epoch
from controller.config import load_config
from controller.daemon import Daemon
from controller.domain.clock import FixedClock
from controller.workflow.wiring import build_controller
from tests.helpers import START, make_project

pytestmark = pytest.mark.terraform


def test_the_daemon_runs_cycles_and_prints_each_summary(project: Path, clock: FixedClock) -> None:
    controller = build_controller(load_config(project), clock=clock)
    out = io.StringIO()
    try:
        code = Daemon(controller, out=out, max_cycles=2).serve(install_signals=False)
    finally:
        controller.close()
    text = out.getvalue()
    assert code == 0
    assert text.count("\ncycle ") + text.startswith("cycle ") >= 2 or text.count("cycle ") >= 2
    assert "plan       " in text and "stopped after 2 cycle(s), 0 failed" in text
    with controller.engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(cycle_runs.c.status))]
    assert statuses == ["ok", "ok"]


def test_a_failing_cycle_is_reported_and_the_next_one_still_runs(
    project: Path, clock: FixedClock
) -> None:
    config = load_config(project)
    controller = build_controller(config, clock=clock)
    (config.personas_dir / "api-consumer.yaml").write_text("persona_name: [unclosed\n")
    out = io.StringIO()
    try:
        Daemon(controller, out=out, max_cycles=2).serve(install_signals=False)
    finally:
        controller.close()
    assert out.getvalue().count("FAILED in personas") == 2
    assert "stopped after 2 cycle(s), 2 failed" in out.getvalue()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_daemon_cleanly_after_the_running_cycle(
    project: Path, signum: int
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller.cli",
            "--config",
            str(project),
            "daemon",
            "--interval",
            "1s",
        ],
        cwd=project.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if line.startswith("  plan "):
            break
    (api_line,) = [line for line in lines if line.startswith("api: serving on ")]
    url = api_line.split()[3]
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["leader"] is True
    process.send_signal(signum)
    rest, err = process.communicate(timeout=120)
    output = "".join(lines) + rest
    assert process.returncode == 0, err
    assert "stopping: waiting for the running cycle to finish" in output
    assert "stopped after" in output and ", 0 failed" in output


def _terraform_children(pid: int) -> list[int]:
    """Child processes of `pid` (started from any of its threads) that run the embedded
    Terraform worker."""
    children: list[str] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children += (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    found = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"embedded_worker" in cmdline:
            found.append(int(child))
    return found


def test_ctrl_c_to_the_process_group_mid_terraform_lets_the_cycle_finish(project: Path) -> None:
    """A terminal's Ctrl-C reaches every process of the foreground group, Terraform's too."""
    process = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "--config", str(project), "daemon"],
        cwd=project.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _terraform_children(process.pid):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGINT)
        output, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err
    assert "stopping: waiting for the running cycle to finish" in output
    assert "FAILED" not in output and "stopped after 1 cycle(s), 0 failed" in output


class WriteRecorder(io.StringIO):
    """An output that remembers each write, to see whether a line was written whole."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_every_daemon_line_is_written_whole_and_the_banner_comes_first(
    project: Path, clock: FixedClock
) -> None:
    controller = build_controller(load_config(project), clock=clock)
    out = WriteRecorder()
    try:
        Daemon(controller, out=out, max_cycles=1).serve(install_signals=False)
    finally:
        controller.close()
    assert all(w.endswith("\n") for w in out.writes)  # never a line, then its end apart
    assert out.writes[0].startswith("fleetctl daemon: a cycle every ")
    assert any(w.startswith("leader: ") for w in out.writes)


@pytest.mark.parametrize(
    ("token", "access"),
    [
        (None, "(read-only: set api.token to approve)"),
        ("s3cret", "(approve needs the bearer token)"),
    ],
)
def test_the_banner_says_read_only_only_when_no_api_token_is_set(
    project: Path, clock: FixedClock, token: str | None, access: str
) -> None:
    config = load_config(project)
    config = config.model_copy(
        update={"api": config.api.model_copy(update={"token": SecretStr(token) if token else None})}
    )
    controller = build_controller(config, clock=clock)
    out = io.StringIO()
    daemon = Daemon(controller, out=out)
    daemon.stopping.set()  # the banner and the API line only, no cycle
    try:
        daemon.serve(install_signals=False)
    finally:
        controller.close()
    (api_line,) = [line for line in out.getvalue().splitlines() if line.startswith("api: ")]
    assert api_line.endswith(access)
    assert ("read-only" in api_line) == (token is None)
    assert "s3cret" not in out.getvalue()


def test_in_replay_drift_checks_run_on_the_replay_clock(
    tmp_path: Path, two_day_events: Path
) -> None:
    start = START + timedelta(days=1)
    project = make_project(
        tmp_path,
        events=two_day_events,
        clock={"mode": "replay", "step": "30m", "start": start.isoformat()},
        drift={"terraform": {"enabled": True, "interval": "45m"}},
    )
    controller = build_controller(load_config(project))
    out = io.StringIO()
    try:
        Daemon(controller, out=out, max_cycles=4).serve(install_signals=False)
        with controller.engine.connect() as conn:
            checked = [
                from_epoch(r.checked_at)
                for r in conn.execute(select(drift_checks.c.checked_at).order_by(drift_checks.c.id))
            ]
    finally:
        controller.close()
    # after each cycle the replay clock is 30 min on; a check is due 45 replay minutes after the last
    assert checked == [start + timedelta(minutes=30), start + timedelta(minutes=90)]
    assert "Drift checks: terraform every 0:45:00 of replay time." in out.getvalue()
