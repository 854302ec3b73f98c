"""Bad usage exits 2 for every command, whether argparse or the command itself finds it, and each
message names the value and what was expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from controller.cli import build_parser, main
from controller.commands.common import command_parsers
from tests.helpers import ROOT

PERSONA_FILE = ROOT / "personas" / "api-consumer.yaml"
MISSING = "/missing/dir/x.csv"
COMMON = ["--trace", "trace.csv", "--out", "out.csv"]
SIMULATE = ["simulate", *COMMON, "--capacity-per-instance", "50"]

# command -> (a bad usage of it, what its message must say; None: argparse's own wording)
BAD_USAGE: dict[str, tuple[list[str], str | None]] = {
    "cycle": (["cycle", "--now"], None),
    "daemon": (["daemon", "--interval=-5m"], "a duration cannot be negative, got '-5m'"),
    "state": (["state", "--version", "0"], "must be at least 1, got 0"),
    "runs": (["runs", "--limit", "few"], "not a whole number: 'few'"),
    "personas": (["personas"], None),
    "personas list": (["personas", "list", "extra"], None),
    "personas show": (["personas", "show"], None),
    "personas history": (["personas", "history"], None),
    "personas diff": (["personas", "diff", "x", "1", "two"], "not a whole number: 'two'"),
    "personas create": (["personas", "create"], None),
    "personas update": (["personas", "update", "x"], None),
    "personas delete": (["personas", "delete"], None),
    "personas validate": (
        ["personas", "validate", str(PERSONA_FILE)],
        f"{PERSONA_FILE} is a file; expected a directory (the one holding it is "
        f"{PERSONA_FILE.parent})",
    ),
    "personas sync": (["personas", "sync", str(PERSONA_FILE)], f"{PERSONA_FILE} is a file"),
    "personas schema": (["personas", "schema", "now"], None),
    "personas drift": (["personas", "drift", "--yaml"], None),
    "demo-events": (["demo-events", *COMMON, "--sample", "2"], "--sample must be in (0, 1], got 2"),
    "simulate": (
        [*SIMULATE, "--warmup", "5m", "--compare", "bogus"],
        "--compare: unknown policy 'bogus' (choose from predictive, predictive-warm, reactive, reactive-warm, aws-predictive, static)",
    ),
    "anomalies": (["anomalies", *COMMON, "--from", "soon"], "not an ISO 8601 time: 'soon'"),
    "report": (["report"], "the following arguments are required: --out"),
    "plan": (["plan", "--yes"], None),
    "approve": (["approve"], None),
    "drift": (["drift", "--view", "azure"], "invalid choice: 'azure'"),
    "forecast": (
        ["forecast", "--input", "in.csv", "--horizon", "3", "--out", MISSING],
        "argument --out: directory /missing/dir does not exist (for /missing/dir/x.csv)",
    ),
    "ingest": (["ingest", "--speed", "-2"], None),
    "metrics": (["metrics"], None),
    "metrics export": (["metrics", "export"], "the following arguments are required: --out"),
    "deadletters": (["deadletters", "--limit", "0"], "must be at least 1, got 0"),
    "classify": (
        ["classify", "--input", "e.ndjson", "--out", MISSING],
        "directory /missing/dir does not exist",
    ),
}

# more of the commands' own checks (not argparse's): each one exits 2 as well
MORE_BAD_USAGE = [
    (
        [*SIMULATE, "--warmup", "90s"],
        "--warmup must be whole minutes, got 0:01:30",
    ),
    (
        [*SIMULATE, "--warmup", "5m", "--hold=-5m"],
        "argument --hold: a duration cannot be negative, got '-5m' (expected e.g. 30s, 5m",
    ),
    (
        [*SIMULATE, "--warmup", "5m", "--interval", "0s"],
        "argument --interval: must be longer than zero, got '0s'",
    ),
    (
        ["demo-events", *COMMON, "--window", "yesterday"],
        "--window: expected START/END in ISO 8601, got 'yesterday'",
    ),
    (["demo-events", *COMMON, "--personas", str(PERSONA_FILE)], f"{PERSONA_FILE} is a file"),
    (["daemon", "--interval", "0s"], "must be longer than zero, got '0s'"),
    (["daemon", "--interval", "soon"], "not a duration: 'soon' (use e.g. 30s"),
]


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as done:  # argparse's own errors
        return int(done.code or 0)


def test_every_command_has_a_bad_usage_case_below() -> None:
    commands = {p.prog.removeprefix("fleetctl ") for p in command_parsers(build_parser())}
    assert commands - {"fleetctl"} == set(BAD_USAGE)


@pytest.mark.parametrize("command", sorted(BAD_USAGE))
def test_bad_usage_of_each_command_exits_2_with_its_usage(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    argv, message = BAD_USAGE[command]

    assert exit_code(argv) == 2

    out, err = capsys.readouterr()
    # argparse reports an unknown flag with the top-level usage; everything else, the command's
    assert "usage: fleetctl " in out + err
    if message is not None:
        assert f"usage: fleetctl {command}" in err
        assert message in err
    assert sorted(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize(("argv", "message"), MORE_BAD_USAGE, ids=lambda v: str(v)[:40])
def test_a_commands_own_usage_checks_exit_2_naming_the_value(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "usage: fleetctl " in err


def test_a_negative_duration_in_the_config_is_named_as_negative(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "controller.yaml"
    config.write_text(yaml.safe_dump({"schedule": {"interval": "-5m"}}))
    assert main(["--config", str(config), "runs"]) == 1
    err = capsys.readouterr().err
    assert "schedule.interval" in err and "a duration cannot be negative, got '-5m'" in err


def test_a_state_version_past_the_last_names_the_versions_there_are(
    planned_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(planned_project), "state", "--version", "9"]) == 1
    err = capsys.readouterr().err
    assert "--version 9: there is no such state version; expected 1 to 1 (the latest)" in err


def test_learned_profiles_are_not_said_to_be_pending_when_the_config_turns_them_off(
    planned_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = yaml.safe_load(planned_project.read_text())
    settings["data_dir"] = str(planned_project.parent / settings["data_dir"])
    settings["feedback"] = {"profiles": {"enabled": False}}
    off = tmp_path / "controller.yaml"
    off.write_text(yaml.safe_dump(settings))
    shutil.copytree(planned_project.parent / "personas", tmp_path / "personas")

    assert main(["--config", str(off), "state"]) == 0
    out = capsys.readouterr().out
    assert "profile declared (learning them is off: feedback.profiles.enabled is false)" in out
    assert "not enough measured yet" not in out

    assert main(["--config", str(planned_project), "state"]) == 0  # on: pending until measured
    assert "profile declared (not enough measured yet)" in capsys.readouterr().out
