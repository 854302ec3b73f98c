"""`fleetctl runs`: the recent cycles as the store recorded them, newest first."""

from __future__ import annotations

import argparse

from controller.commands.common import Subparsers, cli_config, positive_int


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "runs",
        help="recent cycles with their steps, timings and errors",
        description="The most recent cycles, newest first: each cycle's status and clock, then "
        "every step with its status, duration and what it did or why it failed. Reads the "
        "store only: a store that does not exist is reported, not created.",
    )
    parser.add_argument(
        "--limit", type=positive_int, default=5, metavar="N", help="show N cycles (default 5)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.storage.db import connect_existing
    from controller.adapters.storage.run_store import RunStore

    engine = connect_existing(cli_config(args).sqlalchemy_url)
    try:
        records = RunStore(engine).recent(args.limit)
    finally:
        engine.dispose()
    if not records:
        print("no runs yet: `fleetctl cycle` runs one, `fleetctl daemon` runs them on schedule")
        return 0
    for record in records:
        print(
            f"cycle {record.cycle_id}  {record.status:<11} clock {record.clock_now:%Y-%m-%d %H:%MZ}"
        )
        for step in record.steps:
            note = step.error or step.detail or ""
            print(f"  {step.step:<11} {step.status:<6} {step.duration_ms:8.0f} ms  {note}")
        if record.error and not any(s.error for s in record.steps):
            print(f"  error: {record.error}")
    return 0
