"""Warm-pool sizing: how many stopped instances a burst inside the warm-up needs, by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from controller.allocation.capacity import allocate
from controller.allocation.warm_pool import WarmPoolRule, size_warm_pool
from controller.config import WarmPoolConfig, load_config
from controller.domain.allocation import WarmPool
from controller.domain.errors import ConfigError
from controller.domain.forecast import Forecast
from controller.workflow import steps
from tests.helpers import ROOT
from tests.test_allocation import CATALOG, ORIGIN, STEP, cpu_demand, rule

STOPPED = WarmPoolRule("Stopped", min_size=0, max_prepared=None)


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_the_pool_holds_what_the_burst_inside_one_warmup_needs_beyond_those_in_service() -> None:
    # in service 4; the burst needs 5, 7, 6 over the warm-up (lead 2 steps) and 12 later
    sizing = size_warm_pool(STOPPED, ints(4, 4, 5, 5), ints(5, 7, 6, 12), 2, 50, "p97.5")
    assert sizing.pool == WarmPool("Stopped", 0, 7, True)
    assert sizing.pool.size_at(4) == 3
    assert "p97.5 burst inside the warm-up needs 7 against 4 in service" in sizing.reason
    assert "max_prepared = 4 + 3 = 7; 3 warm now" in sizing.reason


def test_no_burst_above_the_capacity_in_service_leaves_only_min_size_warm() -> None:
    sizing = size_warm_pool(replace(STOPPED, min_size=2), ints(6, 6), ints(5, 6), 1, 50, "p95")
    assert sizing.pool.max_group_prepared_capacity == 6
    assert sizing.pool.size_at(6) == 2


def test_a_pool_beyond_the_groups_max_size_is_capped_because_it_could_never_join() -> None:
    sizing = size_warm_pool(STOPPED, ints(8), ints(15), 0, 10, "p97.5")
    assert sizing.pool.max_group_prepared_capacity == 10
    assert "capped at max_instances 10" in sizing.reason


def test_a_configured_max_prepared_is_taken_as_it_is() -> None:
    rule_ = WarmPoolRule("Hibernated", min_size=1, max_prepared=9, reuse_on_scale_in=False)
    sizing = size_warm_pool(rule_, ints(4), ints(40), 0, 50, "p97.5")
    assert sizing.pool == WarmPool("Hibernated", 1, 9, False)
    assert "max_prepared 9 configured, 5 warm beside 4 in service" in sizing.reason


def test_the_allocator_sizes_the_pool_from_the_burst_demand_and_gives_the_reason() -> None:
    # 10 vCPU x 0.5 = 5 vCPU per instance: planned 20 vCPU -> 4; the burst reaches 34 -> 7
    planned = cpu_demand(np.full(6, 20.0))
    burst = cpu_demand(np.array([20.0, 34.0, 25.0, 20.0, 20.0, 20.0]))
    pooled = rule(warm_pool=STOPPED, min_size=1)
    allocation = allocate(pooled, planned, ORIGIN, STEP, CATALOG, burst=("p97.5", burst))
    assert allocation.desired_now == 4
    assert allocation.warm_pool == WarmPool("Stopped", 0, 7, True)
    assert any(r.startswith("warm pool stopped: p97.5 burst") for r in allocation.reasons)
    assert allocate(rule(), planned, ORIGIN, STEP, CATALOG).warm_pool is None


def test_the_daemon_sizes_warm_pools_from_the_forecasts_highest_quantile() -> None:
    config = load_config(ROOT / "controller.yaml")
    fleets = [
        fleet.model_copy(update={"warm_pool": WarmPoolConfig(enabled=True)})
        if index == 0
        else fleet
        for index, fleet in enumerate(config.fleets)
    ]
    config = config.model_copy(update={"fleets": fleets})
    personas = steps.load_personas(config)
    origin = datetime(2026, 11, 4, 12, tzinfo=UTC)
    quantiles = {0.5: np.full(24, 20.0), 0.95: np.full(24, 20.0), 0.975: np.full(24, 400.0)}
    forecasts = {
        key: Forecast(key, origin, config.forecast.step, np.full(24, 20.0), dict(quantiles))
        for key in personas.keys
    }
    result = steps.allocate_fleets(config, personas, forecasts, origin)
    pooled = next(a for a in result.fleets if a.fleet == fleets[0].name)
    assert pooled.warm_pool is not None
    assert pooled.warm_pool.max_group_prepared_capacity > pooled.desired_now
    assert any("p97.5 burst inside the warm-up" in r for r in pooled.reasons)
    assert all(a.warm_pool is None for a in result.fleets if a.fleet != fleets[0].name)


def test_a_max_prepared_below_min_size_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"max_prepared \(1\) is below warm_pool.min_size \(2\)"):
        WarmPoolConfig(enabled=True, min_size=2, max_prepared=1)


def test_a_bad_pool_state_in_controller_yaml_names_the_file_line_field_and_value(
    tmp_path: Path,
) -> None:
    path = tmp_path / "controller.yaml"
    path.write_text(
        "fleets:\n  - name: web\n    warm_pool:\n      enabled: true\n      pool_state: Running\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert (
        f"{path}:5: fleets.0.warm_pool.pool_state: Input should be 'Stopped' or 'Hibernated' "
        "(got 'Running')"
    ) in str(error.value)


def test_warm_pools_are_off_unless_a_fleet_turns_one_on() -> None:
    config = load_config(ROOT / "controller.yaml")
    assert all(not fleet.warm_pool.enabled for fleet in config.fleets)
    assert all(steps.fleet_rule(fleet).warm_pool is None for fleet in config.fleets)
