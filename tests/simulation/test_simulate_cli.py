"""`fleetctl simulate` as a user runs it: the CSV contract, the report, and bad traces."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest

from controller.cli import main
from tests.report_pages import PNG_SIGNATURE, embedded_pngs, outside_references, usual_umask


def write_trace(path: Path, rows: list[str]) -> Path:
    path.write_text("timestamp,requests_per_second\n" + "\n".join(rows) + "\n")
    return path


def simulate_args(trace: Path, out: Path, *extra: str) -> list[str]:
    return [
        "simulate",
        "--trace",
        str(trace),
        "--capacity-per-instance",
        "50",
        "--warmup",
        "5m",
        "--out",
        str(out),
        *extra,
    ]


def minutes(count: int, rate: float = 120.0, start_hour: int = 0) -> list[str]:
    return [
        f"2026-11-02T{start_hour + i // 60:02d}:{i % 60:02d}:00Z,{rate + (i % 7) * 10}"
        for i in range(count)
    ]


def test_simulate_writes_one_row_a_minute_with_the_contract_columns_and_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = minutes(120)
    rows = rows[:50] + rows[60:]  # a ten-minute gap
    trace = write_trace(tmp_path / "trace.csv", rows)
    out = tmp_path / "sim.csv"
    code = main(
        simulate_args(
            trace,
            out,
            "--policy",
            "reactive",
            "--compare",
            "static",
            "--report",
            str(tmp_path / "r"),
        )
    )
    assert code == 0
    with out.open() as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["timestamp", "demand", "serving", "booting", "desired", "warm"]
    assert len(table) == 120
    assert {row["warm"] for row in table} == {"0"}  # reactive keeps no warm pool
    assert table[55]["demand"] == "" and table[0]["demand"] == "120"
    assert (tmp_path / "sim-static.csv").is_file()
    page = (tmp_path / "r" / "index.html").read_text()
    assert "reactive" in page and "static" in page
    printed = capsys.readouterr().out
    assert "reactive" in printed and "cost/oracle" in printed


def test_the_simulation_report_is_one_readable_page_with_its_plots_inside(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv", minutes(60))
    page = tmp_path / "reports" / "sim.html"
    with usual_umask():
        args = simulate_args(trace, tmp_path / "sim.csv", "--policy", "reactive")
        assert main([*args, "--compare", "static", "--report", str(page)]) == 0
    assert [p.name for p in page.parent.iterdir()] == ["sim.html"]
    assert stat.S_IMODE(page.stat().st_mode) == 0o644
    text = page.read_text()
    assert outside_references(text) == []
    plots = embedded_pngs(text)  # per policy: the whole trace and the first two days
    assert len(plots) == 4 and all(p.startswith(PNG_SIGNATURE) for p in plots)


def test_simulate_help_names_every_file_written_beside_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per option: no wrapping inside a file name
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    help_text = capsys.readouterr().out
    assert "each --compare policy P is written beside it as S-P.csv" in help_text
    assert "one self-contained file with the plots inside, nothing written beside it" in help_text
    trace = write_trace(tmp_path / "trace.csv", minutes(30))
    args = simulate_args(trace, tmp_path / "sim.csv", "--compare", "reactive,static")
    assert main([*args, "--report", str(tmp_path / "sim.html")]) == 0
    written = {p.name for p in tmp_path.iterdir()} - {"trace.csv"}
    assert written == {"sim.csv", "sim-reactive.csv", "sim-static.csv", "sim.html"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["2026-11-02T00:00:00Z,10", "yesterday,10"],
            "trace.csv:3: timestamp: not an ISO 8601 time (got 'yesterday')",
        ),
        (
            ["2026-11-02T00:00:00Z,10", "2026-11-02T00:00:00Z,11"],
            "trace.csv:3: timestamp: duplicate row",
        ),
        (
            ["2026-11-02T00:01:00Z,10", "2026-11-02T00:00:00Z,11"],
            "trace.csv:3: timestamp: 2026-11-02T00:00:00Z is before",
        ),
        (["2026-11-02T00:00:30Z,10"], "trace.csv:2: timestamp: rows must fall on whole minutes"),
        (
            ["2026-11-02T00:00:00Z,lots"],
            "trace.csv:2: requests_per_second: not a number (got 'lots')",
        ),
        (
            ["2026-11-02T00:00:00Z,-3"],
            "trace.csv:2: requests_per_second: must be a finite number >= 0 (got -3)",
        ),
        (["2026-11-02T00:00:00Z,1,2"], "trace.csv:2: expected 2 columns, got 3"),
    ],
)
def test_a_malformed_trace_says_what_and_where_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], message: str
) -> None:
    trace = write_trace(tmp_path / "trace.csv", rows)
    out = tmp_path / "sim.csv"
    code = main(simulate_args(trace, out))
    assert code == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_wrong_header_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("time,rps\n2026-11-02T00:00:00Z,1\n")
    assert (
        main(
            [
                "simulate",
                "--trace",
                str(trace),
                "--capacity-per-instance",
                "5",
                "--warmup",
                "1m",
                "--out",
                str(tmp_path / "o.csv"),
            ]
        )
        == 1
    )
    assert "trace.csv:1: expected header timestamp,requests_per_second" in capsys.readouterr().err


def peak_desired(path: Path) -> int:
    with path.open() as handle:
        return max(int(row["desired"]) for row in csv.DictReader(handle))


def test_reactive_target_flag_sizes_the_reactive_fleet(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "trace.csv", minutes(60, rate=700.0))
    at_70, at_35 = tmp_path / "at70.csv", tmp_path / "at35.csv"
    assert main(simulate_args(trace, at_70, "--policy", "reactive")) == 0
    assert (
        main(simulate_args(trace, at_35, "--policy", "reactive", "--reactive-target", "0.35")) == 0
    )
    # busiest minute 760 rps: ceil(760 / (50 x 0.7)) = 22, ceil(760 / (50 x 0.35)) = 44
    assert (peak_desired(at_70), peak_desired(at_35)) == (22, 44)


def test_predictive_settings_flags_reach_the_policy_and_the_ratio_line_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_trace(tmp_path / "trace.csv", minutes(180, rate=700.0))
    low, high = tmp_path / "low.csv", tmp_path / "high.csv"
    common = (
        "--compare",
        "reactive",
        "--burst-quantile",
        "off",
        "--hold",
        "5m",
        "--reselect",
        "1h",
    )
    assert main(simulate_args(trace, low, *common, "--target", "1.0")) == 0
    printed = capsys.readouterr().out
    assert "predictive / reactive: dropped" in printed and "instance-minutes" in printed
    assert main(simulate_args(trace, high, *common, "--target", "0.5")) == 0
    # planning for 50% utilization needs about twice the instances of planning for 100%
    assert peak_desired(high) >= 1.8 * peak_desired(low)


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--burst-quantile",
            "1.5",
            "--burst-quantile: must be between 0 and 1 (or 'off'), got 1.5",
        ),
        ("--burst-quantile", "most", "--burst-quantile: not a number: 'most'"),
        ("--target", "0", "--target: must be > 0 and <= 1, got 0"),
        ("--reactive-target", "1.2", "--reactive-target: must be > 0 and <= 1, got 1.2"),
        ("--warm-cost", "1.5", "--warm-cost: must be between 0 and 1, got 1.5"),
        ("--warm-cost", "-0.1", "--warm-cost: must be between 0 and 1, got -0.1"),
        ("--warm-cost", "cheap", "--warm-cost: not a number: 'cheap'"),
        ("--warm-start", "soon", "--warm-start:"),
    ],
)
def test_a_bad_policy_setting_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    trace = write_trace(tmp_path / "trace.csv", minutes(10))
    out = tmp_path / "o.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(simulate_args(trace, out, flag, value))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_hold_that_is_not_whole_minutes_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_trace(tmp_path / "trace.csv", minutes(10))
    out = tmp_path / "o.csv"
    assert main(simulate_args(trace, out, "--hold", "90s")) == 2  # bad usage
    assert "--hold must be one or more whole minutes, got 0:01:30" in capsys.readouterr().err
    assert not out.exists()


def test_a_warm_start_that_is_not_whole_minutes_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_trace(tmp_path / "trace.csv", minutes(10))
    out = tmp_path / "o.csv"
    assert main(simulate_args(trace, out, "--warm-start", "90s")) == 2  # bad usage
    assert "--warm-start must be whole minutes, got 0:01:30" in capsys.readouterr().err
    assert not out.exists()


def test_reactive_warm_writes_its_stopped_pool_in_the_warm_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 700 rps for an hour (20 instances at 70 %), then 140 (4): the 16 scaled in are stopped;
    # back to 700 at minute 120: called from the pool, serving 2 minutes later (--warm-start)
    rates = [700] * 60 + [140] * 60 + [700] * 5
    rows = [f"2026-11-02T{i // 60:02d}:{i % 60:02d}:00Z,{rate}" for i, rate in enumerate(rates)]
    trace = write_trace(tmp_path / "trace.csv", rows)
    out = tmp_path / "sim.csv"
    args = simulate_args(trace, out, "--policy", "reactive-warm", "--compare", "reactive")
    assert main([*args, "--warm-cost", "0.1", "--warm-start", "2m"]) == 0
    with out.open() as handle:
        table = list(csv.DictReader(handle))
    warm = [int(row["warm"]) for row in table]
    assert warm[0] == 0 and max(warm) == warm[119] == 16 and warm[120] == 0
    assert [int(row["serving"]) for row in table[119:123]] == [4, 4, 4, 20]
    assert (tmp_path / "sim-reactive.csv").is_file()
    assert "reactive-warm / reactive: dropped" in capsys.readouterr().out
