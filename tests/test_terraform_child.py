"""Terraform children: in a session of their own, and never outliving the controller."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path


def test_the_launcher_becomes_the_program_with_its_arguments() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "controller.adapters.terraform.child", "/bin/echo", "a", "b c"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == "a b c\n"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_child_dies_when_the_controller_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed controller leaves no Terraform behind to hold the state lock."""
    pid_file = tmp_path / "child.pid"
    controller = textwrap.dedent(
        f"""
        import subprocess, sys
        child = subprocess.Popen(
            [sys.executable, "-m", "controller.adapters.terraform.child", "/bin/sleep", "60"],
            start_new_session=True,
        )
        open({str(pid_file)!r}, "w").write(str(child.pid))
        child.wait()
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", controller])
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    while Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0] != b"/bin/sleep":
        assert time.monotonic() < deadline  # not yet exec'd: the signal is armed before exec
        time.sleep(0.05)
    assert os.getsid(child) == child  # a session of its own: a terminal's Ctrl-C misses it
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    while _alive(child):
        assert time.monotonic() < deadline, "the child outlived its controller"
        time.sleep(0.05)
