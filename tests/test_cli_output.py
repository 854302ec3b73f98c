"""Where commands write: `--out -` is standard output for every command with an `--out` file,
and an output file in a directory that does not exist is refused before any work is done."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.cli import build_parser, main
from controller.commands.common import command_parsers, options
from tests.anomaly.traces import anomalies_input
from tests.helpers import ROOT, START, make_project

# report's --out is a directory (index.html and the files beside it), not one file
DIRECTORY_OUTS = {"report"}


def forecast_input(tmp_path: Path) -> list[str]:
    rows = [
        f"s1,{START.replace(hour=h % 24, day=2 + h // 24):%Y-%m-%dT%H:%M:%SZ},{10 + h % 24}"
        for h in range(72)
    ]
    source = tmp_path / "series.csv"
    source.write_text("series_id,timestamp,value\n" + "\n".join(rows) + "\n")
    return ["forecast", "--input", str(source), "--horizon", "3", "--workers", "1"]


def simulate_input(tmp_path: Path) -> list[str]:
    rows = [f"2026-11-02T00:{i:02d}:00Z,{100 + 10 * (i % 5)}" for i in range(30)]
    trace = tmp_path / "trace.csv"
    trace.write_text("timestamp,requests_per_second\n" + "\n".join(rows) + "\n")
    return [
        "simulate",
        "--trace",
        str(trace),
        "--capacity-per-instance",
        "50",
        "--warmup",
        "2m",
        "--policy",
        "static",
    ]


def demo_events_input(tmp_path: Path) -> list[str]:
    rows = [f"2026-11-02T00:{i:02d}:00Z,{5 + i % 3}" for i in range(10)]
    trace = tmp_path / "requests.csv"
    trace.write_text("timestamp,requests\n" + "\n".join(rows) + "\n")
    return ["demo-events", "--trace", str(trace), "--personas", str(ROOT / "personas")]


def classify_input(tmp_path: Path, events: Path) -> list[str]:
    config = make_project(tmp_path, events=events)
    sample = tmp_path / "sample.ndjson"  # classify stops at a bad line: the good ones only
    good = [line for line in events.read_text().splitlines()[:600] if _is_json(line)]
    sample.write_text("\n".join(good) + "\n")
    return ["--config", str(config), "classify", "--input", str(sample)]


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def metrics_export_input(tmp_path: Path, events: Path) -> list[str]:
    config = make_project(tmp_path, events=events)
    assert main(["--config", str(config), "ingest", "--quiet"]) == 0
    return ["--config", str(config), "metrics", "export"]


# command -> (arguments before --out, the first line its data starts with)
CASES: dict[str, tuple[Callable[[Path, Path], list[str]], str]] = {
    "forecast": (lambda tmp, _events: forecast_input(tmp), "series_id,timestamp,mean,lo_95,hi_95"),
    "simulate": (
        lambda tmp, _events: simulate_input(tmp),
        "timestamp,demand,serving,booting,desired",
    ),
    "demo-events": (lambda tmp, _events: demo_events_input(tmp), '{"'),
    "anomalies": (lambda tmp, _events: anomalies_input(tmp), "start,end,direction,expected"),
    "classify": (classify_input, "session_id,user_id,start,end,events,persona,probability"),
    "metrics export": (
        metrics_export_input,
        "bucket,persona,region,events,sessions,cpu_ms,memory_mb,network_kb,io_ops",
    ),
}


def commands_with_an_out_option() -> set[str]:
    found = set()
    for parser in command_parsers(build_parser()):
        if any("--out" in action.option_strings for action in options(parser)):
            found.add(parser.prog.removeprefix("fleetctl "))
    return found


def test_every_command_with_an_out_file_is_covered_below() -> None:
    assert commands_with_an_out_option() == set(CASES) | DIRECTORY_OUTS


@pytest.mark.parametrize("command", sorted(CASES))
def test_out_dash_writes_the_data_to_standard_output_and_notes_to_standard_error(
    command: str,
    tmp_path: Path,
    two_day_events: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prepare, first_line = CASES[command]
    args = prepare(tmp_path, two_day_events)
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)

    assert main([*args, "--out", "-"]) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(first_line), lines[:2]
    assert len(lines) > 1
    if command == "demo-events":  # NDJSON, one event a line, and nothing else
        assert all(json.loads(line) is not None for line in lines if line.startswith("{"))
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("flag", ["--out", "--plot"])
def test_forecast_into_a_missing_directory_is_refused_naming_it_and_creates_nothing(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing" / "dir"
    paths = {"--out": str(tmp_path / "out.csv"), "--plot": str(tmp_path / "plot.png")}
    paths[flag] = str(missing / "x.file")
    args = forecast_input(tmp_path)
    args += ["--out", paths["--out"], "--plot", paths["--plot"]]

    with pytest.raises(SystemExit) as done:
        main(args)

    assert done.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: directory {missing} does not exist" in err
    assert not (tmp_path / "missing").exists()
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "plot.png").exists()


def test_a_plot_cannot_go_to_standard_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = forecast_input(tmp_path)
    with pytest.raises(SystemExit) as done:
        main([*args, "--out", "-", "--plot", "-"])
    assert done.value.code == 2
    assert "argument --plot: - (standard output) is not possible here" in capsys.readouterr().err
