"""How large a fleet's warm pool is: instances stopped beside the group, ready for a burst.

A warm pool answers the one thing a forecast cannot: demand that jumps inside the warm-up, before
a newly ordered instance could serve. AWS keeps

    warm(t) = max(min_size, max_group_prepared_capacity - desired(t))

instances stopped, and a scale-out takes them first (they serve in about a minute, not a boot).
So the pool is sized by how far the forecast's *upper* quantile (the burst) can rise above the
capacity in service within one warm-up:

    excess          = max(0, max over [0, warmup] of burst_need - desired(0))
    max_prepared    = min(desired(0) + excess, max_size)     (a pool beyond max_size never joins)

re-sized every plan, as desired capacity moves. A configured max_prepared is taken as it is.
See docs/allocation.md#warm-pools.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controller.domain.allocation import WarmPool

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class WarmPoolRule:
    pool_state: str
    min_size: int
    max_prepared: int | None
    """max_group_prepared_capacity as configured; None = sized from the forecast"""
    reuse_on_scale_in: bool = True
    volume_gib: float | None = None
    """root EBS volume of one instance; None = no cost estimate"""
    usd_per_gib_month: float | None = None


@dataclass(frozen=True)
class WarmPoolSizing:
    pool: WarmPool
    reason: str


def burst_quantile(stored: Iterable[float], allocated: float | None) -> float | None:
    """The quantile whose level sizes a warm pool: the forecast's highest stored one (0.975 with
    the daemon's 95 % interval), never below the level the fleet is allocated for (None: mean).
    The daemon and the simulator's predictive-warm both pick it here."""
    upper = max(stored, default=None)
    return upper if upper is not None and (allocated is None or upper > allocated) else allocated


def size_warm_pool(
    rule: WarmPoolRule,
    desired: IntArray,
    burst_need: IntArray,
    lead: int,
    max_size: int,
    burst_label: str,
    memory_mib: int = 0,
) -> WarmPoolSizing:
    """The pool for a group whose desired capacity per step is `desired`; `burst_need` is the
    instances the upper quantile (`burst_label`, e.g. 'p97.5') needs per step, `lead` the
    warm-up in steps, `max_size` the group's max now and `memory_mib` one instance's RAM (a
    hibernated instance keeps it on its root volume)."""
    in_service = int(desired[0]) if desired.size else 0
    if rule.max_prepared is not None:
        pool = _pool(rule, rule.max_prepared, memory_mib)
        return WarmPoolSizing(
            pool,
            f"warm pool {pool.pool_state.lower()}: max_prepared {rule.max_prepared} configured, "
            f"{pool.size_at(in_service)} warm beside {in_service} in service",
        )
    window = burst_need[: lead + 1]
    burst = int(window.max()) if window.size else in_service
    excess = max(0, burst - in_service)
    prepared = min(in_service + excess, max_size)
    pool = _pool(rule, prepared, memory_mib)
    capped = f", capped at max_instances {max_size}" if in_service + excess > max_size else ""
    return WarmPoolSizing(
        pool,
        f"warm pool {pool.pool_state.lower()}: {burst_label} burst inside the warm-up needs "
        f"{burst} against {in_service} in service, so max_prepared = {in_service} + {excess}"
        f"{capped} = {prepared}; {pool.size_at(in_service)} warm now "
        f"(at least min_size {rule.min_size})",
    )


def _pool(rule: WarmPoolRule, prepared: int, memory_mib: int) -> WarmPool:
    billed = rule.volume_gib
    if billed is not None and rule.pool_state == "Hibernated":
        billed += memory_mib / 1024  # the RAM is written to the root volume, which must hold it
    return WarmPool(
        pool_state=rule.pool_state,
        min_size=rule.min_size,
        max_group_prepared_capacity=max(prepared, rule.min_size),
        reuse_on_scale_in=rule.reuse_on_scale_in,
        billed_gib=billed,
        usd_per_gib_month=rule.usd_per_gib_month,
    )
