"""fleetctl subcommands: one module each, each with `register(subparsers)`.

A module's handler returns the exit code; it raises FleetError for anything a user must fix, and
UsageError (exit 2) for a flag value that is wrong before any input is read.
"""

from __future__ import annotations

from importlib import import_module

from controller.commands.common import Subparsers, command_parsers

COMMAND_MODULES = (
    "cycle",
    "daemon",
    "state",
    "runs",
    "personas",
    "demo_events",
    "simulate",
    "anomalies",
    "report",
    "plan",
    "approve",
    "drift",
    "forecast",
    "ingest",
    "metrics",
    "deadletters",
    "classify",
)


def register_all(subparsers: Subparsers) -> None:
    for name in COMMAND_MODULES:
        import_module(f"controller.commands.{name}").register(subparsers)
    for command in dict.fromkeys(subparsers.choices.values()):
        for parser in command_parsers(command):
            # the innermost command's parser wins in the namespace: its usage goes with a
            # UsageError its handler raises
            parser.set_defaults(command_parser=parser)
