"""The example events use what the example personas declare per session, so `make run` can learn
profiles (the default), capacity still follows the day, and sessions match their personas."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from controller.adapters.demo_events import generate_events
from controller.adapters.persona_files import load_persona_directory
from controller.cli import main
from controller.config import load_config
from controller.workflow.cycle import run_cycle
from controller.workflow.wiring import build_controller
from tests.helpers import ROOT, daily_trace

EXAMPLE = ROOT / "controller" / "examples" / "nasa-replay.ndjson.gz"
PREFIX = {"api": "api-consumer", "con": "content-publisher", "pea": "peak-hour-shopper"}


def declared() -> dict[str, list[float]]:
    """Per persona: vCPU, MB, Mbps, IOPS of one active session, as the YAML declares."""
    out = {}
    for found in load_persona_directory(ROOT / "personas"):
        p = found.persona.resource_profile
        out[found.persona.key] = [
            p.cpu_demand,
            p.memory_demand,
            p.network_bandwidth,
            p.io_operations,
        ]
    return out


def per_session_minute(lines: list[str]) -> dict[str, tuple[int, np.ndarray]]:
    """Per persona (by session id prefix): the largest number of events one session sent in one
    minute, and the mean use of a session in a minute it was active, in declared units."""
    use: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(5))
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # the generator's truncated line
        if "session_id" not in event or "resource_consumption" not in event:
            continue  # a line with fields missing, or a session only its user id names
        r = event["resource_consumption"]
        key = (event["session_id"], event["timestamp"][:16])
        use[key] += [1, r["cpu_ms"], r["memory_mb"], r["network_kb"], r["io_ops"]]
    rows: dict[str, list[np.ndarray]] = defaultdict(list)
    for (session, _), total in use.items():
        rows[PREFIX[session[:3]]].append(total)
    units = np.array([60_000.0, 60.0, 60 * 125.0, 60.0])  # a minute of vCPU, MB, Mbps, IOPS
    out = {}
    for persona, found in rows.items():
        table = np.array(found)
        out[persona] = (int(table[:, 0].max()), table[:, 1:].mean(axis=0) / units)
    return out


def test_generated_sessions_use_what_their_personas_declare_per_minute() -> None:
    personas = [f.persona for f in load_persona_directory(ROOT / "personas")]
    trace = daily_trace(days=0.25, mean_per_minute=40)

    lines = list(generate_events(trace, personas, 1.0, event_seconds=60))

    measured = per_session_minute(lines)
    assert set(measured) == set(PREFIX.values())
    for persona, profile in declared().items():
        most, mean = measured[persona]
        assert most == 1, f"{persona}: a session sent {most} events in one minute"
        assert mean == pytest.approx(profile, rel=0.04), persona


def example_project(tmp_path: Path) -> Path:
    """The repository's own controller.yaml (what `make run` reads), writing into tmp_path."""
    config = yaml.safe_load((ROOT / "controller.yaml").read_text())
    config["data_dir"] = str(tmp_path / "state")
    config["personas_dir"] = str(ROOT / "personas")
    config["events"]["source"] = f"file://{EXAMPLE}"
    config["terraform"]["stack"] = str(ROOT / "terraform" / "stacks" / "local")
    path = tmp_path / "controller.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.terraform
def test_make_run_learns_the_declared_profiles_and_capacity_follows_the_day(
    tmp_path: Path,
) -> None:
    config = load_config(example_project(tmp_path))
    assert config.feedback.profiles.enabled  # the default a user gets, on in make run
    controller = build_controller(config)
    try:
        outcome = run_cycle(controller)
    finally:
        controller.close()

    for entry in outcome.state.learning:
        profile = entry.profile
        assert profile is not None and profile.in_use == "learned", entry.persona
        assert profile.learned is not None
        learned, declared_ = profile.learned, profile.declared
        for field in ("cpu", "memory_mb", "network_mbps", "iops"):
            assert getattr(learned, field) == pytest.approx(getattr(declared_, field), rel=0.03), (
                entry.persona,
                field,
            )
    web = next(a for a in outcome.allocations if a.fleet == "web")
    hours = [(outcome.origin + timedelta(minutes=5 * i)).hour for i in range(576)]
    steps = np.array(web.desired_per_step[: len(hours)])
    utc_hour = np.array(hours[: len(steps)])
    night = steps[(utc_hour >= 5) & (utc_hour < 11)]  # 00:00-06:00 in New York
    afternoon = steps[(utc_hour >= 16) & (utc_hour < 22)]  # 11:00-17:00 in New York
    assert night.mean() * 2 <= afternoon.mean(), (night, afternoon)
    assert web.peak > web.min_size


def test_classify_matches_example_sessions_to_the_persona_they_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "slice.ndjson"  # the morning of 2026-11-04, malformed lines left out
    with gzip.open(EXAMPLE, "rt") as source, events.open("w") as out:
        for line in source:
            try:
                when = json.loads(line).get("timestamp", "")
            except json.JSONDecodeError:
                continue  # classify stops at a malformed line; ingest makes it a dead letter
            if isinstance(when, str) and "2026-11-04T00" <= when[:13] < "2026-11-04T08":
                out.write(line)
    sessions = tmp_path / "sessions.csv"

    config = example_project(tmp_path)
    code = main(
        ["--config", str(config), "classify", "--input", str(events), "--out", str(sessions)]
    )

    assert code == 0, capsys.readouterr()
    with sessions.open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["session_id"][:3] in PREFIX]
    right = sum(r["persona"] == PREFIX[r["session_id"][:3]] for r in rows)
    assert len(rows) > 2000
    assert right / len(rows) >= 0.97, f"{right} of {len(rows)} sessions matched their persona"
