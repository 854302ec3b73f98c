"""`fleetctl simulate` as a user runs it: the CSV contract, the report, and bad traces."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from controller.cli import main


def write_trace(path: Path, rows: list[str]) -> Path:
    path.write_text("timestamp,requests_per_second\n" + "\n".join(rows) + "\n")
    return path


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
        [
            "simulate",
            "--trace",
            str(trace),
            "--capacity-per-instance",
            "50",
            "--warmup",
            "5m",
            "--policy",
            "reactive",
            "--compare",
            "static",
            "--out",
            str(out),
            "--report",
            str(tmp_path / "r"),
        ]
    )
    assert code == 0
    with out.open() as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["timestamp", "demand", "serving", "booting", "desired"]
    assert len(table) == 120
    assert table[55]["demand"] == "" and table[0]["demand"] == "120"
    assert (tmp_path / "sim-static.csv").is_file()
    page = (tmp_path / "r" / "index.html").read_text()
    assert (
        "reactive" in page and "static" in page and (tmp_path / "r" / "reactive-all.png").is_file()
    )
    printed = capsys.readouterr().out
    assert "reactive" in printed and "cost/oracle" in printed


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
    code = main(
        [
            "simulate",
            "--trace",
            str(trace),
            "--capacity-per-instance",
            "50",
            "--warmup",
            "5m",
            "--out",
            str(out),
        ]
    )
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
