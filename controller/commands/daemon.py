from __future__ import annotations

import argparse

from controller.commands.common import Subparsers, cli_config, positive_duration, positive_int


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "daemon",
        help="run cycles on the configured schedule until stopped",
        description="Runs a cycle every schedule.interval until SIGINT/SIGTERM (the running "
        "cycle finishes first), holding the store's lease so one daemon acts at a time, and "
        "serves the HTTP API (api: in config). docs/operations.md covers running it for real.",
    )
    parser.add_argument("--max-cycles", type=positive_int, metavar="N", help="stop after N cycles")
    parser.add_argument(
        "--interval", type=positive_duration, help="override schedule.interval, e.g. 10s"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.daemon import Daemon
    from controller.workflow.wiring import build_controller

    config = cli_config(args)
    if args.interval is not None:
        config = config.model_copy(
            update={"schedule": config.schedule.model_copy(update={"interval": args.interval})}
        )
    controller = build_controller(config)
    try:
        return Daemon(controller, max_cycles=args.max_cycles).serve()
    finally:
        controller.close()
