"""What every command shares: finding the config, flag types."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from controller.config import ControllerConfig, load_config

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
