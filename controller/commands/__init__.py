"""fleetctl subcommands: one module each, each with `register(subparsers)`.

A module's handler returns the exit code; it raises FleetError for anything a user must fix.
"""

from __future__ import annotations

from importlib import import_module

from controller.commands.common import Subparsers

COMMAND_MODULES = (
    "cycle",
    "daemon",
    "state",
    "runs",
    "personas",
    "demo_events",
    "simulate",
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
