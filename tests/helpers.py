"""Building blocks for tests: a project laid out in a tmp dir, synthetic traces and events."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from controller.adapters.demo_events import TraceMinute, generate_events, write_events
from controller.adapters.persona_files import load_persona_directory

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday


def daily_trace(days: float, mean_per_minute: float, start: datetime = START) -> list[TraceMinute]:
    """Requests per minute with a daily cycle (peak mid-afternoon UTC, quiet at night)."""
    minutes = int(days * 1440)
    trace = []
    for i in range(minutes):
        phase = 2 * math.pi * ((i % 1440) / 1440 - 0.35)
        rate = mean_per_minute * (1 + 0.8 * math.sin(phase))
        trace.append(TraceMinute(start + timedelta(minutes=i), round(rate)))
    return trace


def write_event_file(
    path: Path, trace: Iterable[TraceMinute], personas_dir: Path, seed: int = 3
) -> int:
    personas = [p.persona for p in load_persona_directory(personas_dir)]
    return write_events(generate_events(trace, personas, sample=1.0, seed=seed), path)


def make_project(root: Path, events: Path | None = None, **overrides: object) -> Path:
    """A copy of the project's personas, templates and local stack, with a controller.yaml.

    Returns the config path. `overrides` replace top-level config keys.
    """
    shutil.copytree(ROOT / "personas", root / "personas")
    shutil.copytree(ROOT / "terraform" / "stacks" / "local", root / "stack")
    config: dict[str, object] = {
        "data_dir": "state",
        "personas_dir": "personas",
        "events": {"source": f"file://{events or root / 'events.ndjson'}"},
        "clock": {"mode": "system"},
        "forecast": {"step": "5m", "horizon": "6h", "history": "7d"},
        "fleets": [
            {"name": "web", "min_instances": 2, "max_instances": 40},
            {"name": "api", "instance_type": "c6i.large", "min_instances": 1, "max_instances": 10},
        ],
        "terraform": {"stack": "stack", "runner": "embedded"},
        "schedule": {"interval": "1s"},
        "apply_mode": "auto",
        "api": {"port": 0},
    }
    config.update(overrides)
    path = root / "controller.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
