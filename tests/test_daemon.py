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
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.adapters.storage.db import cycle_runs
from controller.config import load_config
from controller.daemon import Daemon
from controller.domain.clock import FixedClock
from controller.workflow.wiring import build_controller

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
