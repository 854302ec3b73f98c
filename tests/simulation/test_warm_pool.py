"""The warm pool in simulated time, on cases computed by hand (controller.simulation.fleet)."""

from __future__ import annotations

import numpy as np
import pytest

from controller.simulation.fleet import FleetMinute, SimulatedFleet, WarmPool
from controller.simulation.metrics import elasticity


def states(fleet: SimulatedFleet, plan: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Step the fleet through (desired, prepared) per minute; (serving, booting, warm) each."""
    out = []
    for minute, (desired, prepared) in enumerate(plan):
        state: FleetMinute = fleet.step(minute, desired, prepared)
        out.append((state.serving, state.booting, state.warm))
    return out


def test_an_instance_called_from_the_pool_serves_after_warm_start_and_a_new_one_after_warmup() -> (
    None
):
    fleet = SimulatedFleet(5, initial=2, pool=WarmPool(warm_start_minutes=1))
    fleet.fill_pool(prepared=6)  # max 6, desired 2: four stopped
    # t=1: 3 more wanted, all from the pool (serve at 2). t=3: 3 more, the pool's last one
    # (serves at 4) and two launched new (serve at 3 + 5 = 8).
    got = states(fleet, [(2, 6), (5, 6), (5, 6), (8, 6), (8, 6), (8, 6), (8, 6), (8, 6), (8, 6)])
    assert got == [
        (2, 0, 4),
        (2, 3, 1),
        (5, 0, 1),
        (5, 3, 0),
        (6, 2, 0),
        (6, 2, 0),
        (6, 2, 0),
        (6, 2, 0),
        (8, 0, 0),
    ]


def test_a_refill_launches_new_instances_that_can_be_called_only_after_the_whole_warmup() -> None:
    fleet = SimulatedFleet(
        3, initial=2, pool=WarmPool(warm_start_minutes=1, reuse_on_scale_in=False)
    )
    fleet.fill_pool(prepared=4)
    # t=0 calls both stopped ones; t=2 scales in by 2: terminated (no reuse), so the pool is
    # refilled with 2 launched at 2, running (booting) until they stop at 2 + 3 = 5.
    # t=4 wants 3: the pool is still preparing, so one is launched new (serves at 7) and the
    # pool sheds one being prepared. t=5: the other stops. t=6 wants 4: called, serves at 7.
    got = states(fleet, [(4, 4), (4, 4), (2, 4), (2, 4), (3, 4), (3, 4), (4, 4), (4, 4)])
    assert got == [
        (2, 2, 0),
        (4, 0, 0),
        (2, 2, 0),
        (2, 2, 0),
        (2, 2, 0),
        (2, 1, 1),
        (2, 2, 0),
        (4, 0, 0),
    ]


def test_scaled_in_instances_return_to_the_pool_stopped_when_reuse_is_on() -> None:
    fleet = SimulatedFleet(5, initial=6, pool=WarmPool(warm_start_minutes=2))
    fleet.fill_pool(prepared=8)
    # t=1: 4 scaled in, back to the pool at once (no launch); t=2: 4 called, serve at 4
    got = states(fleet, [(6, 8), (2, 8), (6, 8), (6, 8), (6, 8)])
    assert got == [(6, 0, 2), (2, 0, 6), (2, 4, 2), (2, 4, 2), (6, 0, 2)]


def test_the_pool_keeps_its_min_size_above_max_minus_desired() -> None:
    fleet = SimulatedFleet(0, initial=3, pool=WarmPool(min_size=2))
    fleet.fill_pool(prepared=3)
    assert (fleet.warm, fleet.step(0, 3, 3).warm) == (2, 2)


def test_without_a_pool_nothing_is_stopped_and_scale_in_terminates() -> None:
    fleet = SimulatedFleet(2, initial=3)
    fleet.fill_pool(prepared=10)
    assert states(fleet, [(3, 10), (1, 10), (3, 10), (3, 10), (3, 10)]) == [
        (3, 0, 0),
        (1, 0, 0),
        (1, 2, 0),
        (1, 2, 0),
        (3, 0, 0),
    ]


def test_stopped_minutes_cost_the_warm_cost_and_running_ones_are_paid_in_full() -> None:
    # C = 10; serving 2, 2; booting 0, 2 (paid in full); stopped 3, 1 at 0.05 each
    m = elasticity(
        np.array([10.0, 20.0]),
        np.array([2, 2]),
        np.array([2, 4]),
        10.0,
        warm=np.array([3, 1]),
        warm_cost=0.05,
    )
    assert m.instance_minutes == pytest.approx(6 + 0.05 * 4)
    assert m.warm_instance_minutes == 4


@pytest.mark.parametrize(
    ("field", "value"), [("warm_start_minutes", -1), ("warm_cost", 1.5), ("min_size", -2)]
)
def test_an_impossible_warm_pool_is_refused_naming_the_value(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=str(value)):
        WarmPool(**{field: value})  # type: ignore[arg-type]
