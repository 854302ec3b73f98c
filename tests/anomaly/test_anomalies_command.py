"""`fleetctl anomalies`: the daemon's demand anomaly test replayed over a trace, causally, with
the calendar's campaigns, and the simulator's errors for a bad trace."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from controller.cli import main
from controller.commands.anomalies import ProgressLine
from controller.config import load_config
from controller.domain.calendar import Calendar
from controller.workflow.anomaly_replay import TraceAnomaly, replay_anomalies
from tests.anomaly.traces import BURST, TRACE_START, daily_demand, write_trace

DAY = timedelta(days=1)
FIRST_BURST = TRACE_START + 2 * DAY + timedelta(hours=10)
SECOND_BURST = TRACE_START + 3 * DAY + timedelta(hours=9)


def run_anomalies(
    tmp_path: Path, trace: Path, *options: str, config: Path | None = None
) -> list[dict[str, str]]:
    out = tmp_path / "anomalies.csv"
    first = ["--config", str(config)] if config else []
    assert main([*first, "anomalies", "--trace", str(trace), "--out", str(out), *options]) == 0
    with out.open() as handle:
        return list(csv.DictReader(handle))


def overlaps(row: dict[str, str], start: datetime, length: timedelta) -> bool:
    first, last = datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"])
    return first < start + length and last > start


def with_campaign(tmp_path: Path, start: datetime, end: datetime, uplift: float) -> Path:
    """A controller.yaml whose personas directory declares one campaign for every persona."""
    personas = tmp_path / "personas"
    personas.mkdir()
    campaign = {"name": "launch", "start": start, "end": end, "uplift": uplift}
    (personas / "_calendar.yaml").write_text(yaml.safe_dump({"campaigns": [campaign]}))
    config = tmp_path / "controller.yaml"
    config.write_text(yaml.safe_dump({"personas_dir": str(personas)}))
    return config


@pytest.mark.parametrize("after_burst", [timedelta(minutes=m) for m in (5, 25, 40, 60)])
def test_findings_before_a_cut_are_those_of_the_whole_trace_that_ended_before_it(
    after_burst: timedelta,
) -> None:
    demand = daily_demand(4, [FIRST_BURST, SECOND_BURST])
    cut = SECOND_BURST + after_burst
    config = load_config(None)
    settled = cut - 2 * config.anomalies.sustained  # the median's lag and the guard's pad
    minutes = int((cut - TRACE_START) / timedelta(minutes=1))

    whole = replay_anomalies(TRACE_START, demand, config, Calendar())
    cut_short = replay_anomalies(TRACE_START, demand[:minutes], config, Calendar())

    def before(found: list[TraceAnomaly]) -> list[TraceAnomaly]:
        return [a for a in found if a.end <= settled]

    assert before(whole), "the first burst is found before the cut"
    assert before(cut_short) == before(whole)


def test_one_injected_burst_gives_one_finding_above_covering_it(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv", daily_demand(3, [FIRST_BURST]))

    rows = run_anomalies(tmp_path, trace)

    assert len(rows) == 1, rows
    assert rows[0]["direction"] == "above"
    assert overlaps(rows[0], FIRST_BURST, BURST)
    assert float(rows[0]["observed"]) > 2 * float(rows[0]["expected"])


def test_a_burst_declared_as_a_campaign_is_expected_demand_and_not_a_finding(
    tmp_path: Path,
) -> None:
    trace = write_trace(tmp_path / "trace.csv", daily_demand(3, [FIRST_BURST]))
    config = with_campaign(tmp_path, FIRST_BURST, FIRST_BURST + BURST, uplift=3.0)

    assert run_anomalies(tmp_path, trace, config=config) == []


def test_a_declared_campaign_that_does_not_arrive_is_demand_below(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv", daily_demand(3))
    config = with_campaign(tmp_path, FIRST_BURST, FIRST_BURST + BURST, uplift=3.0)

    rows = run_anomalies(tmp_path, trace, config=config)

    assert [(r["start"], r["direction"]) for r in rows] == [("2026-06-03T10:00:00Z", "below")]


def test_a_campaign_elsewhere_leaves_the_burst_a_finding(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv", daily_demand(3, [FIRST_BURST]))
    elsewhere = FIRST_BURST + timedelta(hours=6)
    config = with_campaign(tmp_path, elsewhere, elsewhere + BURST, uplift=3.0)

    rows = run_anomalies(tmp_path, trace, config=config)

    assert [r["direction"] for r in rows if overlaps(r, FIRST_BURST, BURST)] == ["above"]


@pytest.mark.parametrize(("guard", "findings"), [(True, 0), (False, 1)])
def test_the_seasonal_second_opinion_of_the_config_in_force_judges_the_burst(
    guard: bool, findings: int, tmp_path: Path
) -> None:
    trace = write_trace(tmp_path / "trace.csv", daily_demand(3, [FIRST_BURST]))
    config = tmp_path / "controller.yaml"
    # a guard that asks for 4x what the last hour carried along the day shape refuses a 3x burst
    settings = {"seasonal_guard": guard, "guard_excess_factor": 4.0}
    config.write_text(yaml.safe_dump({"anomalies": settings}))

    assert len(run_anomalies(tmp_path, trace, config=config)) == findings


def test_a_trace_shorter_than_the_forecasters_first_history_has_no_findings(
    tmp_path: Path,
) -> None:
    one_row = tmp_path / "one.csv"
    one_row.write_text("timestamp,requests_per_second\n2026-06-01T00:00:00Z,5\n")
    two_days = write_trace(tmp_path / "two.csv", daily_demand(2, [TRACE_START + DAY]))

    assert run_anomalies(tmp_path, one_row) == []
    assert run_anomalies(tmp_path, two_days) == []


def test_from_reports_only_findings_starting_at_or_after_it(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv", daily_demand(4, [FIRST_BURST, SECOND_BURST]))

    everything = run_anomalies(tmp_path, trace)
    later = run_anomalies(tmp_path, trace, "--from", "2026-06-04T00:00:00Z")

    assert any(overlaps(r, FIRST_BURST, BURST) for r in everything)
    assert later and all(r["start"] >= "2026-06-04T00:00:00Z" for r in later)
    assert [r for r in later if overlaps(r, SECOND_BURST, BURST)]


def test_progress_is_a_line_every_few_seconds_of_the_clock() -> None:
    now = [0.0]
    lines: list[str] = []

    class Stream:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    progress = ProgressLine(Stream(), lambda: now[0], every=5.0)  # type: ignore[arg-type]
    assert not progress.due()
    now[0] = 5.0
    assert progress.due()
    progress.show(1440, 4320, 2)
    assert not progress.due()

    assert "".join(lines) == "  1,440 / 4,320 minutes, 2 finding(s) so far\n"


BAD_TRACES = {
    "a malformed row": "timestamp,requests_per_second\n2026-06-01T00:00:00Z,1,2\n",
    "a negative value": "timestamp,requests_per_second\n2026-06-01T00:00:00Z,-1\n",
    "a value that is not a number": "timestamp,requests_per_second\n2026-06-01T00:00:00Z,many\n",
    "a time that is not one": "timestamp,requests_per_second\nnoon,1\n",
    "a wrong header": "time,rps\n2026-06-01T00:00:00Z,1\n",
}


def errors_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as done:  # argparse's own errors
        code = int(done.code or 0)
    return code, capsys.readouterr().err.strip().splitlines()[-1]


def simulate_and_anomalies(trace: Path, out: Path, *extra: str) -> tuple[list[str], list[str]]:
    simulate = ["simulate", "--trace", str(trace), "--out", str(out), *extra]
    simulate += ["--capacity-per-instance", "50", "--warmup", "5m"]
    return simulate, ["anomalies", "--trace", str(trace), "--out", str(out), *extra]


@pytest.mark.parametrize("case", sorted([*BAD_TRACES, "a missing file", "an unknown option"]))
def test_a_bad_trace_gets_the_same_error_and_exit_code_as_simulate_and_nothing_written(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "trace.csv"
    if case in BAD_TRACES:
        trace.write_text(BAD_TRACES[case])
    elif case == "an unknown option":
        write_trace(trace, daily_demand(1))
    out = tmp_path / "out.csv"
    extra = ("--bogus",) if case == "an unknown option" else ()
    simulate, anomalies = simulate_and_anomalies(trace, out, *extra)

    expected = errors_of(simulate, capsys)
    got = errors_of(anomalies, capsys)

    assert got == expected
    assert got[0] in (1, 2)
    assert str(trace) in got[1] or case == "an unknown option"
    assert not out.exists()


def test_a_malformed_row_is_named_by_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text(
        "timestamp,requests_per_second\n2026-06-01T00:00:00Z,1\n2026-06-01T00:01:00Z\n"
    )

    code, message = errors_of(["anomalies", "--trace", str(trace), "--out", "-"], capsys)

    assert code == 1
    assert (
        message == f"fleetctl: error: {trace}:3: expected 2 columns, got 1 ('2026-06-01T00:01:00Z')"
    )


def test_an_output_in_a_missing_directory_is_refused_before_the_trace_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing" / "a.csv"
    argv = ["anomalies", "--trace", str(tmp_path / "absent.csv"), "--out", str(missing)]

    code, message = errors_of(argv, capsys)

    assert code == 2
    assert f"directory {missing.parent} does not exist" in message
    assert not missing.parent.exists()
