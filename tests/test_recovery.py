"""Typed errors and crashes: temporary failures retry with backoff, permanent ones stop the step,
and a controller killed mid-apply recovers on the next start without corrupt state."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from controller.adapters.storage.db import connect, cycle_steps
from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.workflow.cycle import CycleFailed, run_cycle
from controller.workflow.wiring import build_controller

pytestmark = pytest.mark.terraform


def test_a_temporary_error_is_retried_with_backoff_and_shows_in_the_state(
    project: Path, clock: FixedClock
) -> None:
    controller = build_controller(load_config(project), clock=clock)
    lock_path = controller.workspace.workdir / "apply.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    holder = lock_path.open("a+")
    fcntl.flock(holder, fcntl.LOCK_EX)  # another apply is running
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 2:
            fcntl.flock(holder, fcntl.LOCK_UN)  # ...and finishes during the second backoff

    controller.sleep = sleep
    try:
        outcome = run_cycle(controller)
    finally:
        holder.close()
        controller.close()
    assert outcome.plan_status == "applied"
    assert delays == [2.0, 4.0]
    incidents = [(i.step, i.status) for i in outcome.state.incidents]
    assert incidents == [("gate-apply", "retrying"), ("gate-apply", "retrying")]
    assert "another apply is running" in outcome.state.incidents[0].error


def test_retries_are_bounded_then_the_cycle_fails_with_the_cause(
    project: Path, clock: FixedClock
) -> None:
    controller = build_controller(load_config(project), clock=clock)
    lock_path = controller.workspace.workdir / "apply.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    delays: list[float] = []
    controller.sleep = delays.append
    with lock_path.open("a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(CycleFailed) as failure:
            run_cycle(controller)
    controller.close()
    assert failure.value.retryable and failure.value.step == "gate-apply"
    assert delays == [2.0, 4.0]


def test_a_terraform_state_lock_held_elsewhere_is_temporary_and_retried(
    project: Path, clock: FixedClock
) -> None:
    controller = build_controller(load_config(project), clock=clock)
    delays: list[float] = []
    try:
        run_cycle(controller)  # applies, so the state file exists
        state_file = controller.workspace.stack_dir / "terraform.tfstate"
        with state_file.open("r+") as holder:
            # the lock Terraform's local backend takes (fcntl F_SETLK), as another plan would
            fcntl.lockf(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)

            def sleep(seconds: float) -> None:
                delays.append(seconds)
                fcntl.lockf(holder, fcntl.LOCK_UN)  # ...which finishes during the backoff

            controller.sleep = sleep
            clock.advance(timedelta(minutes=30))
            outcome = run_cycle(controller)
    finally:
        controller.close()
    assert delays == [2.0]
    incident = outcome.state.incidents[0]
    assert (incident.step, incident.status) == ("plan", "retrying")
    assert "Error acquiring the state lock" in incident.error


def test_a_permanent_error_is_not_retried(project: Path, clock: FixedClock) -> None:
    controller = build_controller(load_config(project), clock=clock)
    delays: list[float] = []
    controller.sleep = delays.append
    shutil.rmtree(controller.config.terraform.stack)
    with pytest.raises(CycleFailed) as failure:
        run_cycle(controller)
    controller.close()
    assert not failure.value.retryable and delays == []
    assert "no *.tf files" in str(failure.value)


def slow_apply_stack(project: Path) -> None:
    """The project's stack plus one resource whose creation takes a while, to be killed during."""
    (project.parent / "stack" / "slow.tf").write_text(
        'resource "terraform_data" "slow" {\n'
        "  input = var.fleets\n"
        '  provisioner "local-exec" {\n    command = "sleep 6"\n  }\n}\n'
    )


def test_a_controller_killed_mid_apply_recovers_on_the_next_start(project: Path) -> None:
    slow_apply_stack(project)
    config = load_config(project)
    command = [sys.executable, "-m", "controller.cli", "--config", str(project), "cycle"]
    first = subprocess.Popen(
        command,
        cwd=project.parent,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = connect(config.sqlalchemy_url)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # wait until the plan step is recorded: apply is next
            with engine.connect() as conn:
                steps = [r.step for r in conn.execute(select(cycle_steps.c.step))]
            if "plan" in steps:
                break
            time.sleep(0.2)
        time.sleep(2)  # inside the slow apply
        os.killpg(first.pid, signal.SIGKILL)  # the whole process group, as a machine crash would
        first.wait(timeout=30)
    finally:
        engine.dispose()
    assert "gate-apply" not in steps

    second = subprocess.run(
        command, cwd=project.parent, capture_output=True, text=True, timeout=300, check=False
    )
    assert second.returncode == 0, second.stderr
    assert "recovered  cycle(s) 1 had been interrupted" in second.stdout
    state = json.loads((config.data_dir / "state.json").read_text())
    assert state["cycle_id"] == 2 and state["last_plan"]["status"] in ("applied", "no-changes")

    third = subprocess.run(
        command, cwd=project.parent, capture_output=True, text=True, timeout=300, check=False
    )
    assert third.returncode == 0, third.stderr
    assert "no changes" in third.stdout  # Terraform state is whole: nothing half-applied remains
