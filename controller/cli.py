"""fleetctl: the command line. Each command lives in controller/commands/; this only dispatches."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from controller import __version__
from controller.commands import register_all
from controller.domain.errors import FleetError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetctl",
        description="Predictive scaling for Terraform-managed web fleets, driven by personas.",
    )
    parser.add_argument("--version", action="version", version=f"fleetctl {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="controller.yaml to use (default: $FLEET_CONFIG, else ./controller.yaml if present, "
        "else built-in defaults)",
    )
    register_all(parser.add_subparsers(title="commands", metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except FleetError as exc:
        print(f"fleetctl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fleetctl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
