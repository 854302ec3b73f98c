"""Allocations -> Terraform variables, through the Jinja2 templates in `templates/`.

The template's output is parsed back as JSON and written canonically (sorted keys), so the same
allocation always gives the same bytes and a template mistake fails here, not in Terraform.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from controller.adapters.files import write_atomically
from controller.domain.allocation import FleetAllocation, LoadBalancerAllocation, WarmPool
from controller.domain.errors import PermanentError

TFVARS_TEMPLATE = "fleets.auto.tfvars.json.j2"
TFVARS_FILE = "fleets.auto.tfvars.json"


class VariableRenderer:
    def __init__(self, template_dir: Path) -> None:
        if not (template_dir / TFVARS_TEMPLATE).is_file():
            raise PermanentError(f"{template_dir / TFVARS_TEMPLATE}: template not found")
        self._env = Environment(
            loader=FileSystemLoader(template_dir),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )

    def variables(
        self,
        allocations: Sequence[FleetAllocation],
        load_balancers: Sequence[LoadBalancerAllocation] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`load_balancers` None: one per fleet, named after it, with that fleet's LCU.
        `extra`: more variables written as they are (data, e.g. `anomaly_rate_limits`)."""
        fleets = [_as_template_input(a) for a in sorted(allocations, key=lambda a: a.fleet)]
        if load_balancers is None:
            load_balancers = [
                LoadBalancerAllocation(a.lb_name, a.region, a.lb_capacity_units, {a.fleet: 100})
                for a in allocations
            ]
        balancers = [
            {
                "name": lb.name,
                "region": lb.region,
                "capacity_units": lb.capacity_units,
                "weights": dict(sorted(lb.weights.items())),
            }
            for lb in sorted(load_balancers, key=lambda lb: lb.name)
        ]
        try:
            text = self._env.get_template(TFVARS_TEMPLATE).render(
                fleets=fleets, load_balancers=balancers
            )
        except TemplateError as exc:
            raise PermanentError(f"{TFVARS_TEMPLATE}: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PermanentError(
                f"{TFVARS_TEMPLATE} rendered invalid JSON at line {exc.lineno}: {exc.msg}"
            ) from exc
        if not isinstance(data, dict):
            raise PermanentError(f"{TFVARS_TEMPLATE} must render a JSON object")
        clash = sorted(set(data) & set(extra or {}))
        if clash:
            raise PermanentError(f"{TFVARS_TEMPLATE} already renders {', '.join(clash)}")
        return {**data, **(extra or {})}

    def write(
        self,
        allocations: Sequence[FleetAllocation],
        directory: Path,
        load_balancers: Sequence[LoadBalancerAllocation] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        path = directory / TFVARS_FILE
        write_atomically(path, canonical_json(self.variables(allocations, load_balancers, extra)))
        return path

    @staticmethod
    def write_variables(variables: dict[str, Any], directory: Path) -> Path:
        """Write already-rendered variables again (re-planning an approved plan)."""
        path = directory / TFVARS_FILE
        write_atomically(path, canonical_json(variables))
        return path


def canonical_json(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _as_template_input(allocation: FleetAllocation) -> dict[str, Any]:
    return {
        "fleet": allocation.fleet,
        "region": allocation.region,
        "instance_type": allocation.instance_type,
        "min_size": allocation.min_size,
        "max_size": allocation.max_size,
        "desired_now": allocation.desired_now,
        "load_balancer": allocation.lb_name,
        "target_cpu_utilization": allocation.target_tracking.target_value,
        "instance_warmup": allocation.target_tracking.warmup_seconds,
        "warm_pool": _warm_pool(allocation.warm_pool),
        "scheduled_actions": [
            {
                "name": action.name,
                "start_time": action.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "desired": action.desired,
                "min_size": action.min_size,
                "max_size": action.max_size,
            }
            for action in allocation.scheduled_actions
        ],
    }


def _warm_pool(pool: WarmPool | None) -> dict[str, Any] | None:
    if pool is None:
        return None
    return {
        "pool_state": pool.pool_state,
        "min_size": pool.min_size,
        "max_group_prepared_capacity": pool.max_group_prepared_capacity,
        "reuse_on_scale_in": pool.reuse_on_scale_in,
    }
