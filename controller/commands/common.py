"""What every command shares: finding the config, flag types, walking the command tree."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from controller.config import ControllerConfig, load_config, parse_duration

DEFAULT_CONFIG = Path("controller.yaml")
if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


def cli_config(args: argparse.Namespace) -> ControllerConfig:
    """--config, else $FLEET_CONFIG, else ./controller.yaml if present, else built-in defaults."""
    path: Path | None = getattr(args, "config", None)
    if path is None and os.environ.get("FLEET_CONFIG"):
        path = Path(os.environ["FLEET_CONFIG"])
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    return load_config(path)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def duration(text: str) -> timedelta:
    """A length of time, zero or more: '90s', '5m', '1.5h', '2d'."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        # argparse would otherwise say "invalid parse_duration value", hiding the reason
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_duration(text: str) -> timedelta:
    value = duration(text)
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError(f"must be longer than zero, got {text!r}")
    return value


def existing_directory(text: str) -> Path:
    """A directory that must be there already; a file given in its place is named as such."""
    path = Path(text)
    if path.is_file():
        raise argparse.ArgumentTypeError(
            f"{text} is a file; expected a directory (the one holding it is {path.parent})"
        )
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    return path


def command_parsers(
    parser: argparse.ArgumentParser,
) -> Iterator[argparse.ArgumentParser]:
    """`parser` and every (sub)command parser below it, depth first.

    argparse has no public way to list a parser's arguments; `_actions` has been there, unchanged,
    since Python 2.7, and this is the one place that reads it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from command_parsers(child)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The arguments and flags a user can give `parser` (not -h, not its subcommands)."""
    return [
        action
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
    ]
