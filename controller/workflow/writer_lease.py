"""One writer at a time: `fleetctl cycle`, `plan` and `approve` hold the lease the daemon holds.

Without it a one-shot command ran beside a daemon's cycle: both planned against one Terraform
state, and the daemon's next cycle failed on Terraform's state lock (or applied over what the
command had just approved). With `ha.enabled` a command takes the lease for as long as it runs,
renewing it like the daemon's heartbeat, and is refused, naming the holder, while anyone else
holds it. A daemon that finds the lease held by a command stands by until it is released.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from controller.adapters.storage.lease_store import LeaseHolder, LeaseStore
from controller.config import ControllerConfig
from controller.domain.clock import Clock, SystemClock
from controller.domain.errors import FleetError
from controller.workflow.wiring import Controller


class LeaseHeldElsewhere(FleetError):
    """Another daemon or command holds the controller lease; retry once it is released."""

    retryable = True


def instance_name(config: ControllerConfig) -> str:
    """ha.instance, else this host's name as a slug."""
    if config.ha.instance:
        return config.ha.instance
    cleaned = "".join(c if c.isalnum() else "-" for c in socket.gethostname().lower()).strip("-")
    return cleaned[:40] or "controller"


@contextmanager
def sole_writer(
    controller: Controller, command: str, clock: Clock | None = None
) -> Iterator[str | None]:
    """Hold the controller lease while the body runs; yields the holder name (None without HA).

    Raises LeaseHeldElsewhere, naming the holder, if someone else holds a live lease.
    """
    ha = controller.config.ha
    if not ha.enabled:
        yield None
        return
    clock = clock or SystemClock()  # leases are wall time, even when cycles replay
    store = LeaseStore(controller.engine)
    here = instance_name(controller.config)
    holder = f"fleetctl {command} on {here}:{os.getpid()}"
    now = clock.now()
    blocking = _acquire(store, holder, here, ha.lease_ttl, now)
    if blocking is not None:
        held = blocking.describe(now) if blocking.holder else "just taken by another process"
        raise LeaseHeldElsewhere(
            f"refused: fleetctl {command} needs the controller lease, which is {held}. "
            "A daemon (or another fleetctl command) is working on this configuration; stop it "
            "first, or approve through the daemon's API (POST /plans/PLAN_ID/approve)."
        )
    stop = threading.Event()
    heartbeat = threading.Thread(
        target=_renew, args=(store, holder, controller, clock, stop), daemon=True
    )
    heartbeat.start()
    try:
        yield holder
    finally:
        stop.set()
        heartbeat.join()
        store.release(holder)


def _acquire(
    store: LeaseStore, holder: str, here: str, ttl: timedelta, now: datetime
) -> LeaseHolder | None:
    """Take the lease; None when we hold it, else who does (holder '' if it just moved on)."""
    if store.try_acquire(holder, ttl, now):
        return None
    current = store.current()
    if current is not None and _died_here(current.holder, here):
        # a command or daemon of this host was killed (SIGKILL, a crash): its lease would only
        # block until it expired, and the next cycle's crash recovery is what it waits for
        if store.take_over(current.holder, holder, ttl, now):
            return None
        current = store.current()
    return current or LeaseHolder("", now, now, now)


def _died_here(holder: str, here: str) -> bool:
    """True when `holder` ('alpha:41' or 'fleetctl cycle on alpha:41') is a process of this
    instance that no longer runs."""
    instance, _, pid = holder.rsplit(" on ", 1)[-1].rpartition(":")
    if instance != here or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _renew(
    store: LeaseStore, holder: str, controller: Controller, clock: Clock, stop: threading.Event
) -> None:
    ttl = controller.config.ha.lease_ttl
    while not stop.wait(ttl.total_seconds() / 3):
        if not store.renew(holder, ttl, clock.now()):
            print(
                f"warning: {holder} lost the controller lease (renewal came after it expired)",
                file=sys.stderr,
                flush=True,
            )
            return
