from __future__ import annotations

import argparse
import json

from controller.commands.common import Subparsers, cli_config


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "plan",
        help="one cycle that plans but never applies; prints the PlanReview (held for approve)",
        description="Runs one cycle in review mode: everything up to the Terraform plan, then "
        "prints the review (changes, cost, guardrails, reasons per fleet) and saves it under "
        "data_dir/plans as PLAN_ID.md and .json. Nothing is applied; `fleetctl approve PLAN_ID` "
        "applies it.",
    )
    parser.add_argument("--json", action="store_true", help="print the review as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.review.markdown import render_markdown
    from controller.workflow.cycle import run_cycle
    from controller.workflow.review_step import reviews_dir
    from controller.workflow.wiring import build_controller
    from controller.workflow.writer_lease import sole_writer

    config = cli_config(args)
    controller = build_controller(config.model_copy(update={"apply_mode": "review"}))
    try:
        with sole_writer(controller, "plan"):
            outcome = run_cycle(controller)
    finally:
        controller.close()
    review = outcome.review
    assert review is not None
    if args.json:
        print(json.dumps(review.to_dict(), indent=2, sort_keys=True))
    else:
        print(render_markdown(review), end="")
        print(f"saved: {reviews_dir(config) / review.plan_id}.md and .json")
    return 0
