"""`fleetctl daemon`: the cycle on a schedule (APScheduler, SQLAlchemy job store on the same DB).

Drift checks run as jobs of their own, one per enabled view, each on its own interval
(drift.terraform.interval, drift.aws.interval). They share the scheduler's single worker with the
cycle, so a refresh-only plan never runs while the cycle plans or applies; a check that waited
behind a long cycle still runs (no misfire grace), then keeps its interval.

One cycle at a time (max_instances=1), missed runs coalesced into one, a failed cycle reported
and the next one started clean. SIGINT/SIGTERM: finish the running cycle, then exit 0; a second
signal exits at once.

High availability: with `ha.enabled`, only the holder of the database lease runs cycles. A
heartbeat thread renews it every third of its TTL; another daemon on the same database stands
by, and takes over once the lease has expired (the holder died) or was released (clean stop).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TextIO

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from controller.adapters.storage.lease_store import LeaseStore
from controller.api.server import ApiServer
from controller.domain.clock import Clock, SystemClock
from controller.domain.drift import DriftView
from controller.domain.errors import FleetError, PermanentError
from controller.workflow.cycle import CycleFailed, run_cycle
from controller.workflow.drift import enabled_views, run_drift_check
from controller.workflow.summary import format_outcome
from controller.workflow.wiring import Controller
from controller.workflow.writer_lease import instance_name

JOB_ID = "fleet-cycle"
DRIFT_JOB_ID = "fleet-drift-{view}"
log = logging.getLogger(__name__)
# A cycle longer than the interval makes APScheduler warn on every skipped tick; that is the
# intended one-at-a-time behaviour, not news for the operator.
logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
logging.getLogger("apscheduler.executors").setLevel(logging.ERROR)

# APScheduler stores jobs by reference; the job finds its live daemon here by id.
_DAEMONS: dict[str, Daemon] = {}


def _scheduled_cycle(daemon_id: str) -> None:
    daemon = _DAEMONS.get(daemon_id)
    if daemon is not None:
        daemon.run_one()


def _scheduled_drift(daemon_id: str, view: DriftView) -> None:
    daemon = _DAEMONS.get(daemon_id)
    if daemon is not None:
        daemon.run_drift(view)


class Daemon:
    def __init__(
        self,
        controller: Controller,
        out: TextIO = sys.stdout,
        max_cycles: int | None = None,
        lease_clock: Clock | None = None,
        holder: str | None = None,
    ) -> None:
        self.controller = controller
        self.out = out
        self.max_cycles = max_cycles
        self.cycles = 0
        self.failures = 0
        self.stopping = threading.Event()
        self._id = uuid.uuid4().hex
        ha = controller.config.ha
        self.lease = LeaseStore(controller.engine) if ha.enabled else None
        self.lease_ttl = ha.lease_ttl
        self.lease_clock = lease_clock or SystemClock()  # leases need wall time, even in replay
        self.instance = instance_name(controller.config)
        self.holder = holder or f"{self.instance}:{os.getpid()}"
        self.leading = threading.Event()
        self._standby_reported = False
        self._output = threading.Lock()  # lines come from the scheduler, heartbeat and main threads
        self._api: ApiServer | None = None
        self._api_deferred = False  # the port was taken (by the leader): serve once we lead

    @property
    def is_leader(self) -> bool:
        return self.lease is None or self.leading.is_set()

    def run_one(self) -> None:
        if self.stopping.is_set() or not self._lead():
            return
        try:
            outcome = run_cycle(self.controller)
            self._print(format_outcome(outcome, self.controller.clock_mode))
        except CycleFailed as failure:
            self.failures += 1
            retry = (
                "will retry next cycle" if failure.retryable else "fix and it recovers next cycle"
            )
            self._print(
                f"cycle {failure.cycle_id} FAILED in {failure.step}: {failure.cause} ({retry})"
            )
        except FleetError as exc:
            self.failures += 1
            self._print(f"cycle FAILED: {exc}")
        self.cycles += 1
        if self.controller.clock_mode == "replay":
            self._drift_on_replay_clock()
        if self.max_cycles is not None and self.cycles >= self.max_cycles:
            self.stopping.set()

    def run_drift(self, view: DriftView) -> None:
        """One drift check of `view` (leader only); prints what it found and did."""
        if self.stopping.is_set() or not self._lead():
            return
        try:
            report = run_drift_check(self.controller, view)
        except FleetError as exc:
            self._print(f"drift {view} FAILED: {exc} (next check at its interval)")
            return
        self._print("\n".join(report.lines()))

    def _drift_on_replay_clock(self) -> None:
        """In replay, each view's interval is simulated time: a check is due once the replay
        clock moved that far past the view's last check. (Wall-clock jobs would check once in
        many simulated days: a cycle moves the replay clock by clock.step every few seconds.)"""
        now = self.controller.clock.now()
        last = {c.view: c.checked_at for c in self.controller.drift_store.last_checks()}
        for view in enabled_views(self.controller.config):
            checked = last.get(view)
            if checked is None or now - checked >= _drift_interval(self.controller, view):
                self.run_drift(view)

    def _lead(self) -> bool:
        """True when this daemon may run a cycle now (it holds, or just took, the lease)."""
        if self.lease is None:
            return True
        now = self.lease_clock.now()
        if self.lease.try_acquire(self.holder, self.lease_ttl, now):
            if not self.leading.is_set():
                self._print(
                    f"leader: {self.holder} holds the controller lease (ttl {self.lease_ttl})"
                )
                self.leading.set()
                self._standby_reported = False
                if self._api_deferred:
                    self._start_api()
            return True
        self.leading.clear()
        if not self._standby_reported:
            current = self.lease.current()
            detail = current.describe(now) if current else "just taken by another daemon"
            self._print(f"standby: the controller lease is {detail}; waiting to take over")
            self._standby_reported = True
        return False

    def _heartbeat(self) -> None:
        assert self.lease is not None
        period = self.lease_ttl.total_seconds() / 3
        while not self.stopping.wait(period):
            if self.leading.is_set() and not self.lease.renew(
                self.holder, self.lease_ttl, self.lease_clock.now()
            ):
                self.leading.clear()
                self._print("lost the controller lease (another daemon took over); standing by")

    def serve(self, install_signals: bool = True) -> int:
        config = self.controller.config
        scheduler = BackgroundScheduler(
            # One job table per daemon instance: APScheduler does not support schedulers sharing
            # a job store, and with HA two daemons share the database.
            jobstores={
                "default": SQLAlchemyJobStore(
                    engine=self.controller.engine,
                    tablename=f"scheduler_jobs_{self.instance.replace('-', '_')}",
                )
            },
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(config.schedule.misfire_grace.total_seconds()),
            },
            timezone=UTC,
        )
        _DAEMONS[self._id] = self
        restore = self._install_signals() if install_signals else (lambda: None)
        heartbeat = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        replay = self.controller.clock_mode == "replay"
        views = enabled_views(config)
        drift = ", ".join(
            f"{v} every {_drift_interval(self.controller, v)}"
            + (" of replay time" if replay else "")
            for v in views
        )
        try:
            # the banner first, whole, before any thread can print (it once split a `leader:` line)
            self._print(
                f"fleetctl daemon: a cycle every {config.schedule.interval}, apply_mode "
                f"{config.apply_mode}, {self.controller.clock_mode} clock, store {_safe_url(config.sqlalchemy_url)}. "
                "Ctrl-C stops after the running cycle."
                + (f" Drift checks: {drift}." if drift else " Drift checks: off.")
            )
            if config.api.enabled:
                self._start_api()
            if self.lease is not None:
                heartbeat.start()
            scheduler.start()
            scheduler.add_job(
                _scheduled_cycle,
                "interval",
                args=[self._id],
                id=JOB_ID,
                replace_existing=True,
                seconds=config.schedule.interval.total_seconds(),
                next_run_time=datetime.now(UTC),
            )
            scheduled = () if replay else views  # in replay, run_one checks on the replay clock
            for job in scheduler.get_jobs():  # left in the job table by an earlier run
                if job.id.startswith(DRIFT_JOB_ID.format(view="")) and job.args[1] not in scheduled:
                    job.remove()
            for view in scheduled:
                every = _drift_interval(self.controller, view).total_seconds()
                scheduler.add_job(
                    _scheduled_drift,
                    "interval",
                    args=[self._id, view],
                    id=DRIFT_JOB_ID.format(view=view),
                    replace_existing=True,
                    seconds=every,
                    misfire_grace_time=None,
                    next_run_time=datetime.now(UTC) + timedelta(seconds=min(every, 5.0)),
                )
            while not self.stopping.wait(0.2):
                pass
            self._print("stopping: waiting for the running cycle to finish...")
            scheduler.shutdown(wait=True)
        finally:
            if self._api is not None:
                self._api.stop()
            _DAEMONS.pop(self._id, None)
            restore()
            if self.lease is not None:
                self.lease.release(self.holder)  # a standby takes over at once, not after the TTL
        self._print(f"stopped after {self.cycles} cycle(s), {self.failures} failed")
        return 0

    def _start_api(self) -> None:
        """Serve the API; with HA, a port in use (the leader's, on this host) waits until we lead."""
        config = self.controller.config
        api = ApiServer(self.controller, self)
        try:
            url = api.start()
        except PermanentError as exc:
            if self.lease is None or self.is_leader:
                raise
            self._api_deferred = True
            self._print(f"{exc}; standing by: this daemon serves the API once it leads")
            return
        self._api, self._api_deferred = api, False
        access = (
            "approve needs the bearer token"
            if config.api.token
            else "read-only: set api.token to approve"
        )
        self._print(f"api: serving on {url} ({access})")

    def _install_signals(self) -> Callable[[], None]:
        def handle(signum: int, _frame: FrameType | None) -> None:
            if self.stopping.is_set():
                self._print("second signal: exiting now")
                raise SystemExit(130)
            self.stopping.set()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def _print(self, text: str) -> None:
        """One whole line per message, even with several threads printing."""
        with self._output:
            self.out.write(text + "\n")
            self.out.flush()


def _drift_interval(controller: Controller, view: DriftView) -> timedelta:
    drift = controller.config.drift
    return drift.terraform.interval if view == "terraform" else drift.aws.interval


def _safe_url(url: str) -> str:
    """Never print a password that is part of a database URL."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
