"""One active controller: the database lease, and a standby daemon taking over from a dead one."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from controller.adapters.storage.db import connect
from controller.adapters.storage.lease_store import LeaseStore
from controller.config import load_config
from controller.daemon import Daemon
from controller.domain.clock import FixedClock
from controller.workflow.wiring import build_controller
from tests.helpers import START, make_project

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)
TTL = timedelta(seconds=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = os.environ.get("FLEET_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("FLEET_TEST_POSTGRES_URL is not set (CI sets it; no PostgreSQL here)")
        built = connect(url)
        with built.begin() as conn:
            conn.exec_driver_sql("DELETE FROM leases")
    else:
        built = connect(f"sqlite:///{tmp_path / 'lease.db'}")
    yield built
    built.dispose()


def test_the_first_daemon_takes_the_lease_and_a_second_is_refused(engine: Engine) -> None:
    store = LeaseStore(engine)
    assert store.try_acquire("a", TTL, T0)
    assert not store.try_acquire("b", TTL, T0 + timedelta(seconds=5))
    current = store.current()
    assert current is not None and current.holder == "a"
    assert (
        current.describe(T0 + timedelta(seconds=5))
        == "held by a (heartbeat 5s ago, expires in 25s)"
    )


def test_the_holder_renews_and_keeps_its_tenure(engine: Engine) -> None:
    store = LeaseStore(engine)
    store.try_acquire("a", TTL, T0)
    assert store.renew("a", TTL, T0 + timedelta(seconds=20))
    assert not store.try_acquire("b", TTL, T0 + timedelta(seconds=40))  # renewed: still live
    assert store.try_acquire("a", TTL, T0 + timedelta(seconds=45))
    current = store.current()
    assert current is not None and current.acquired_at == T0


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew(engine: Engine) -> None:
    store = LeaseStore(engine)
    store.try_acquire("a", TTL, T0)
    later = T0 + TTL + timedelta(seconds=1)
    assert store.try_acquire("b", TTL, later)
    assert not store.renew("a", TTL, later)
    current = store.current()
    assert current is not None and current.holder == "b" and current.acquired_at == later


def test_a_released_lease_is_free_at_once(engine: Engine) -> None:
    store = LeaseStore(engine)
    store.try_acquire("a", TTL, T0)
    store.release("a")
    assert store.try_acquire("b", TTL, T0 + timedelta(seconds=1))


def test_racing_daemons_never_both_win(engine: Engine) -> None:
    store = LeaseStore(engine)
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def contend(name: str) -> None:
        barrier.wait()
        if store.try_acquire(name, TTL, T0):
            winners.append(name)

    threads = [threading.Thread(target=contend, args=(f"d{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1


class DaemonProcess:
    def __init__(self, project: Path, instance: str, **env_extra: str) -> None:
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "FLEET_HA__INSTANCE": instance,
            "FLEET_HA__LEASE_TTL": "4s",
            **env_extra,
        }
        self.process = subprocess.Popen(
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
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(
            f"no line with {text!r} within {timeout}s; saw:\n{''.join(self.seen[-30:])}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@pytest.mark.terraform
def test_a_standby_daemon_takes_over_when_the_leader_is_killed(project: Path) -> None:
    leader = DaemonProcess(project, "alpha")
    standby = None
    try:
        leader.wait_for("leader: alpha")
        leader.wait_for("  plan ")
        standby = DaemonProcess(project, "beta")
        line = standby.wait_for("standby:")
        assert "held by alpha" in line
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=30)
        standby.wait_for("leader: beta")
        standby.wait_for("  plan ")
    finally:
        leader.stop()
        if standby is not None:
            standby.process.send_signal(signal.SIGTERM)
            standby.process.wait(timeout=60)
    assert standby.process.returncode == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _leader_of(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        return bool(json.loads(response.read())["leader"])


@pytest.mark.terraform
def test_a_second_daemon_on_the_same_port_stands_by_and_serves_once_it_leads(
    project: Path,
) -> None:
    port = str(_free_port())
    leader = DaemonProcess(project, "alpha", FLEET_API__PORT=port)
    standby = None
    try:
        leader.wait_for(f"api: serving on http://127.0.0.1:{port}")
        leader.wait_for("  plan ")
        standby = DaemonProcess(project, "beta", FLEET_API__PORT=port)
        line = standby.wait_for(f"127.0.0.1:{port} (port in use")
        assert "this daemon serves the API once it leads" in line
        assert "held by alpha" in standby.wait_for("standby:")
        assert standby.process.poll() is None  # the taken port is not fatal
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=30)
        standby.wait_for("leader: beta")
        standby.wait_for(f"api: serving on http://127.0.0.1:{port}")
        assert _leader_of(int(port))
        standby.wait_for("  plan ")
    finally:
        leader.stop()
        if standby is not None:
            standby.process.send_signal(signal.SIGTERM)
            standby.process.wait(timeout=60)
    assert standby.process.returncode == 0


@pytest.mark.terraform
def test_after_a_takeover_the_replay_clock_continues_from_the_saved_position(
    tmp_path: Path, two_day_events: Path
) -> None:
    start = START + timedelta(days=1)
    project = make_project(
        tmp_path,
        events=two_day_events,
        clock={"mode": "replay", "step": "30m", "start": start.isoformat()},
    )
    config = load_config(project)
    # both daemons start together: each reads the replay position once, when it is built
    standby_controller = build_controller(config)
    leader_controller = build_controller(config)
    lease_clock = FixedClock(T0)
    leader = Daemon(leader_controller, io.StringIO(), lease_clock=lease_clock, holder="alpha:1")
    out = io.StringIO()
    standby = Daemon(standby_controller, out, lease_clock=lease_clock, holder="beta:2")
    try:
        leader.run_one()
        leader.run_one()
        standby.run_one()
        assert not standby.is_leader and "held by alpha:1" in out.getvalue()
        lease_clock.advance(config.ha.lease_ttl + timedelta(seconds=1))  # the leader died

        standby.run_one()

        assert standby.is_leader
        cycles = standby_controller.run_store.recent(3)
    finally:
        leader_controller.close()
        standby_controller.close()
    assert [c.clock_now for c in reversed(cycles)] == [
        start,
        start + timedelta(minutes=30),
        start + timedelta(minutes=60),
    ]
