"""Allocation at scale, and render + plan of 50 fleets next to a bare `terraform plan`.

1. Allocation (pure): 1,000 personas x 50 fleets x 576 steps (48 h at 5 min): demand per fleet
   (sessions x profile, regional split), instance type choice over the catalog's x86 types,
   timing, schedule, LB units. Goal: under 1 s.
2. On a temporary copy of terraform/stacks/local: render the 50 fleets' variables and plan them
   the controller's way (plan -out, show -json, parse) vs a bare `terraform plan` of the same
   stack with the same variables, both with the embedded terraform, in the same run.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.adapters.rendering import VariableRenderer  # noqa: E402
from controller.adapters.terraform.runner import EmbeddedTerraform  # noqa: E402
from controller.adapters.terraform.workspace import COMMON, TerraformWorkspace  # noqa: E402
from controller.allocation.capacity import FleetRule, allocate  # noqa: E402
from controller.allocation.catalog import load_catalog  # noqa: E402
from controller.allocation.demand import (  # noqa: E402
    FleetPlacement,
    PersonaDemand,
    Profile,
    fleet_demands,
)
from controller.allocation.load_balancers import allocate_load_balancers  # noqa: E402

PERSONAS, FLEETS, STEPS = 1000, 50, 576
ORIGIN = datetime(2026, 11, 4, 4, tzinfo=UTC)
STEP = timedelta(minutes=5)
REGIONS = ("us-east-1", "eu-west-1")


def inputs(seed: int = 7) -> tuple[list[PersonaDemand], dict[str, list[str]], list[FleetPlacement]]:
    rng = np.random.default_rng(seed)
    day = np.sin(np.linspace(0, 4 * np.pi, STEPS)) * 0.5 + 1.0
    personas = []
    served: dict[str, list[str]] = {f"fleet-{i:02d}": [] for i in range(FLEETS)}
    for p in range(PERSONAS):
        key = f"persona-{p:04d}"
        sessions = day * rng.uniform(5, 200) * rng.uniform(0.8, 1.2, STEPS)
        us = float(rng.uniform(0.3, 1.0))
        personas.append(
            PersonaDemand(
                key,
                sessions,
                sessions / 60,
                Profile(rng.uniform(0.01, 0.3), rng.uniform(16, 512), rng.uniform(0.1, 4), 5),
                "declared",
                {"us-east-1": us, "eu-west-1": 1 - us},
                observed_sessions=float(sessions[0]),
            )
        )
        for fleet in rng.choice(FLEETS, size=2, replace=False):
            served[f"fleet-{fleet:02d}"].append(key)
    placements = [FleetPlacement(f"fleet-{i:02d}", REGIONS[i % 2]) for i in range(FLEETS)]
    return personas, served, placements


def allocate_all() -> tuple[float, list, list]:  # type: ignore[type-arg]
    personas, served, placements = inputs()
    catalog = load_catalog()
    x86 = catalog.names("x86_64")
    started = time.perf_counter()
    demands = fleet_demands(personas, served, placements)
    allocations = [
        allocate(
            FleetRule(
                name=p.name,
                region=p.region,
                allowed_types=x86,
                instance_type="m6i.large",
                target_utilization=0.7,
                min_size=2,
                max_size=500,
                warmup=timedelta(minutes=5),
                quantile_label="p95",
                schedule_horizon=timedelta(hours=48),
            ),
            demands[p.name],
            ORIGIN,
            STEP,
            catalog,
        )
        for p in placements
    ]
    fleets, balancers = allocate_load_balancers(allocations, demands)
    return time.perf_counter() - started, fleets, balancers


def main() -> int:
    best = min(allocate_all()[0] for _ in range(3))
    _, fleets, balancers = allocate_all()
    actions = sum(len(f.scheduled_actions) for f in fleets)
    print(
        f"allocation  {PERSONAS} personas x {FLEETS} fleets x {STEPS} steps: {best:.3f} s "
        f"(best of 3; goal < 1 s); {actions} scheduled actions, "
        f"{len({f.instance_type for f in fleets})} instance types chosen"
    )

    runner = EmbeddedTerraform()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Path(tmp) / "stack-src"
        shutil.copytree(ROOT / "terraform" / "stacks" / "local", stack)
        workspace = TerraformWorkspace(runner, stack, Path(tmp) / "work")
        workspace.prepare()
        renderer = VariableRenderer(ROOT / "templates")

        started = time.perf_counter()
        renderer.write(fleets, workspace.stack_dir, balancers)
        summary = workspace.plan("bench")
        controller_s = time.perf_counter() - started

        started = time.perf_counter()
        bare = runner.run(workspace.stack_dir, "plan", [*COMMON])
        bare_s = time.perf_counter() - started
        assert bare.exit_code == 0, bare.stderr
    resources = sum(1 for c in summary.changes if c.action == "create")
    print(
        f"render + plan (plan -out, show -json, parse) of {FLEETS} fleets, {resources} resources: "
        f"{controller_s:.2f} s"
    )
    print(f"bare `terraform plan` of the same stack and variables:        {bare_s:.2f} s")
    print(f"ratio controller / bare: {controller_s / bare_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
