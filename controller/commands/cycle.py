from __future__ import annotations

import argparse

from controller.commands.common import Subparsers, cli_config


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "cycle",
        help="run exactly one full cycle, print its summary, exit",
        description="One full cycle, as the daemon runs it: sync personas, ingest events, "
        "watch the last apply, forecast, learn from realized errors, look for anomalies, "
        "allocate capacity, render and plan Terraform, review, apply if apply_mode and the "
        "guardrails allow, save the state document. Prints what each step did; exit 0, or 1 "
        "when the cycle failed (`fleetctl runs` shows which step and why).",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.workflow.cycle import run_cycle
    from controller.workflow.summary import format_outcome
    from controller.workflow.wiring import build_controller
    from controller.workflow.writer_lease import sole_writer

    controller = build_controller(cli_config(args))
    try:
        with sole_writer(controller, "cycle"):
            outcome = run_cycle(controller)
        print(format_outcome(outcome, controller.clock_mode))
    finally:
        controller.close()
    return 0
