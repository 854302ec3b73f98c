from __future__ import annotations

import argparse

from controller.commands.common import Subparsers, cli_config


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "approve",
        help="apply a held plan: plans again first and refuses if the plan changed",
        description="Applies a plan held for review (apply_mode review, or a guardrail held "
        "it): plans again from the variables that were reviewed and refuses if the result "
        "differs from the reviewed plan, else applies the saved plan file.",
    )
    parser.add_argument("plan_id", metavar="PLAN_ID", help="as printed by `fleetctl plan`")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.workflow.review_step import approve
    from controller.workflow.wiring import build_controller
    from controller.workflow.writer_lease import sole_writer

    controller = build_controller(cli_config(args))
    try:
        with sole_writer(controller, "approve"):
            approval = approve(controller, args.plan_id)
    finally:
        controller.close()
    print(approval.message)
    return 0
