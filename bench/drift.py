"""Drift checks: what one check of each view costs.

1. Terraform view on a temporary copy of terraform/stacks/local with 20 fleets applied: the
   controller's check (plan -refresh-only -detailed-exitcode -out, show -json, parse, classify)
   next to a bare `terraform plan -refresh-only` of the same stack, same run, embedded terraform.
2. AWS view against moto's server over HTTP: 20 fleets behind 4 load balancers, created as the
   modules shape them; one check's wall time and the AWS API calls it makes (counted with
   botocore's before-call event). moto answers from memory, so the time is the controller's and
   boto3's share, not AWS's latency.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.adapters.aws import AwsFleet, AwsSettings  # noqa: E402
from controller.adapters.terraform.runner import EmbeddedTerraform  # noqa: E402
from controller.adapters.terraform.workspace import COMMON, TerraformWorkspace  # noqa: E402
from controller.domain.applied import Naming, applied_stack  # noqa: E402
from controller.domain.cloud import GroupView  # noqa: E402
from controller.drift.aws_view import compare_group, compare_load_balancer  # noqa: E402
from controller.drift.terraform_view import classify_refresh  # noqa: E402

FLEETS, BALANCERS = 20, 4
NOW = datetime(2026, 11, 4, 1, 30, tzinfo=UTC)


def variables() -> dict[str, Any]:
    hour = NOW.replace(minute=0)
    fleets = {}
    for i in range(FLEETS):
        name = f"f{i:02d}"
        fleets[name] = {
            "region": "us-east-1",
            "instance_type": "m6i.large",
            "min_size": 2,
            "max_size": 20,
            "desired_capacity": 3,
            "load_balancer": f"lb{i % BALANCERS}",
            "target_cpu_utilization": 70.0,
            "instance_warmup": 300,
            "scheduled_actions": [
                {
                    "name": f"{name}-{h:02d}",
                    "start_time": (hour + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "desired_capacity": 3 + h % 4,
                    "min_size": 2,
                    "max_size": 20,
                }
                for h in range(1, 25)
            ],
        }
    balancers = {
        f"lb{b}": {
            "region": "us-east-1",
            "capacity_units": 0,
            "weights": {n: 100 for n in fleets if fleets[n]["load_balancer"] == f"lb{b}"},
        }
        for b in range(BALANCERS)
    }
    return {"fleets": fleets, "load_balancers": balancers}


def best_of(runs: int, action: Any) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def terraform_view(values: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Path(tmp) / "stack-src"
        shutil.copytree(ROOT / "terraform" / "stacks" / "local", stack)
        runner = EmbeddedTerraform()
        workspace = TerraformWorkspace(runner, stack, Path(tmp) / "work")
        workspace.prepare()
        (workspace.stack_dir / "fleets.auto.tfvars.json").write_text(json.dumps(values))
        workspace.plan("apply-me")
        workspace.apply("apply-me")
        applied = applied_stack("apply-me", NOW, values)

        def controller_check() -> None:
            classify_refresh(workspace.refresh_only(values), applied, NOW)

        def bare() -> None:
            result = runner.run(workspace.stack_dir, "plan", [*COMMON, "-refresh-only"])
            assert result.exit_code == 0, result.stderr

        ours = best_of(3, controller_check)
        anchor = best_of(3, bare)
        state = json.loads((workspace.stack_dir / "terraform.tfstate").read_text())
        resources = sum(len(r["instances"]) for r in state["resources"])
    print(
        f"terraform view, {FLEETS} fleets ({resources} resources, of them "
        f"{FLEETS * 24} scheduled actions): check {ours:.2f} s vs bare plan -refresh-only "
        f"{anchor:.2f} s (x{ours / anchor:.2f}), best of 3"
    )


def aws_view(values: dict[str, Any]) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    from tests.aws.fleet_factory import AwsAccount

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        AwsAccount(endpoint).create_stack(values, NOW)
        cloud = AwsFleet(AwsSettings("us-east-1", endpoint_url=endpoint, max_attempts=1))
        calls = {"n": 0}

        def count(**_: Any) -> None:
            calls["n"] += 1

        for client in (cloud._autoscaling, cloud._ec2, cloud._elbv2, cloud._cloudwatch):
            client.meta.events.register("before-call", count)
        stack = applied_stack("bench", NOW, values)
        naming = Naming()

        def check() -> None:
            groups: dict[str, str] = {}
            for fleet in stack.fleets.values():
                live = cloud.describe_group(naming.group(fleet.name))
                if isinstance(live, GroupView):
                    groups.update((arn, fleet.name) for arn in live.target_group_arns)
                compare_group(fleet, live, naming, NOW)
            for lb in stack.load_balancers.values():
                compare_load_balancer(
                    lb, cloud.describe_load_balancer(naming.load_balancer(lb.name)), groups, naming
                )

        check()
        per_check = calls["n"]
        seconds = best_of(3, check)
    finally:
        server.stop()
    print(
        f"aws view, {FLEETS} groups + {BALANCERS} load balancers on moto: {per_check} API calls "
        f"per check ({per_check / (FLEETS + BALANCERS):.1f} per resource), {seconds:.2f} s, best of 3"
    )


if __name__ == "__main__":
    values = variables()
    terraform_view(values)
    aws_view(values)
