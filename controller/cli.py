"""fleetctl: the command line. Each command lives in controller/commands/; this only dispatches.

Exit codes: 0 done; 1 a problem the message names; 2 bad usage (argparse's own errors and a
command's UsageError, both with the command's usage line); 130 interrupted; 141 standard output
closed by its reader (`fleetctl state | head`): quietly, as `cat` or `grep` in the same place,
so `set -o pipefail` sees what it sees for any other tool, and a real failure (1) stays apart.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from controller import __version__
from controller.commands import register_all
from controller.domain.errors import FleetError, UsageError

EXIT_USAGE = 2
EXIT_CLOSED_PIPE = 128 + signal.SIGPIPE


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
        return EXIT_USAGE
    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_CLOSED_PIPE
    except UsageError as exc:
        command: argparse.ArgumentParser = getattr(args, "command_parser", parser)
        command.print_usage(sys.stderr)
        print(f"{command.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FleetError as exc:
        print(f"fleetctl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fleetctl: interrupted", file=sys.stderr)
        return 130


def _discard_stdout() -> None:
    """Python flushes stdout once more at exit; into the closed pipe that would print a second
    BrokenPipeError, so what is left goes to /dev/null instead (the recipe in Python's docs)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
