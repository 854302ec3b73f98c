"""fleetctl forecast: output contract, and malformed CSV named by file, line, column and value."""

from __future__ import annotations

import csv
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from controller.cli import main
from tests.forecasting.synthetic import DAY, daily_wave, noisy

START = datetime(2026, 11, 2, tzinfo=UTC)
STEP = timedelta(minutes=30)


def write_series(path: Path, series: dict[str, np.ndarray], with_id: bool = True) -> Path:
    lines = ["series_id,timestamp,value" if with_id else "timestamp,value"]
    for sid, values in series.items():
        for i, v in enumerate(values):
            when = (START + STEP * i).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append(f"{sid},{when},{v:.4f}" if with_id else f"{when},{v:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_forecasts_every_series_with_the_asked_levels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {
        f"s{i}": noisy(daily_wave(days=5, level=10.0 * (i + 1)), sd=0.3, seed=i) for i in range(3)
    }
    source = write_series(tmp_path / "in.csv", data)
    out = tmp_path / "out.csv"
    code = main(
        [
            "forecast",
            "--input",
            str(source),
            "--horizon",
            "12",
            "--out",
            str(out),
            "--level",
            "80",
            "--level",
            "95",
            "--workers",
            "2",
        ]
    )
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["series_id", "timestamp", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert [r["series_id"] for r in rows] == [f"s{i}" for i in range(3) for _ in range(12)]
    first = rows[0]
    assert first["timestamp"] == (START + STEP * 5 * DAY).isoformat()
    assert (
        float(first["lo_95"])
        <= float(first["lo_80"])
        <= float(first["mean"])
        <= float(first["hi_80"])
        <= float(first["hi_95"])
    )
    assert "3/3 series" in capsys.readouterr().err


def test_series_id_is_optional_and_freq_aggregates(tmp_path: Path) -> None:
    source = write_series(tmp_path / "in.csv", {"x": daily_wave(days=4)}, with_id=False)
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "forecast",
                "--input",
                str(source),
                "--horizon",
                "4",
                "--out",
                str(out),
                "--freq",
                "1h",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and rows[0]["series_id"] == "series"
    assert datetime.fromisoformat(rows[1]["timestamp"]) - datetime.fromisoformat(
        rows[0]["timestamp"]
    ) == timedelta(hours=1)


def test_plot_is_written_readable_by_others(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    pytest.importorskip("matplotlib")
    previous = os.umask(0o022)
    request.addfinalizer(lambda: os.umask(previous))
    source = write_series(tmp_path / "in.csv", {"x": daily_wave(days=3)})
    plot = tmp_path / "p.png"
    assert (
        main(
            [
                "forecast",
                "--input",
                str(source),
                "--horizon",
                "6",
                "--out",
                str(tmp_path / "o.csv"),
                "--plot",
                str(plot),
            ]
        )
        == 0
    )
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stat.S_IMODE(plot.stat().st_mode) == 0o644


GOOD_ROWS = [
    "series_id,timestamp,value",
    "a,2026-11-02T00:00:00Z,1",
    "a,2026-11-02T00:30:00Z,2",
    "a,2026-11-02T01:00:00Z,3",
    "a,2026-11-02T01:30:00Z,4",
]


@pytest.mark.parametrize(
    ("line", "replacement", "expected"),
    [
        (
            3,
            "a,02/11/2026 00:30,2",
            ":3: timestamp: not an ISO 8601 time like 2026-11-02T13:05:00Z (got '02/11/2026 00:30')",
        ),
        (
            3,
            "a,2026-11-02T00:00:00Z,2",
            ":3: timestamp: duplicate of line 2 for series 'a' (got '2026-11-02T00:00:00Z')",
        ),
        (
            4,
            "a,2026-11-02T01:10:00Z,3",
            ":4: timestamp: irregular spacing in series 'a': not on its 30min grid from 2026-11-02T00:00:00+00:00 (got '2026-11-02T01:10:00+00:00')",
        ),
        (5, "a,2026-11-02T01:30:00Z,lots", ":5: value: not a number (got 'lots')"),
        (5, "a,2026-11-02T01:30:00Z,4,extra", ":5: row: 4 fields, the header has 3"),
    ],
    ids=["bad-timestamp", "duplicate-row", "irregular-spacing", "text-value", "extra-field"],
)
def test_malformed_csv_names_file_line_column_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: int, replacement: str, expected: str
) -> None:
    rows = list(GOOD_ROWS)
    rows[line - 1] = replacement
    source = tmp_path / "bad.csv"
    source.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.csv"
    code = main(["forecast", "--input", str(source), "--horizon", "3", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{source}{expected}" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [source]


def test_a_missing_column_is_named_with_the_header_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("series_id,time,value\na,2026-11-02T00:00:00Z,1\n")
    assert (
        main(
            ["forecast", "--input", str(source), "--horizon", "3", "--out", str(tmp_path / "o.csv")]
        )
        == 1
    )
    assert (
        f"{source}:1: header: missing column timestamp (got series_id,time,value;"
        in capsys.readouterr().err
    )


def test_a_failed_run_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("timestamp,value\n2026-11-02T00:00:00Z,x\n")
    out = tmp_path / "out.csv"
    out.write_text("previous result\n")
    assert main(["forecast", "--input", str(source), "--horizon", "3", "--out", str(out)]) == 1
    assert out.read_text() == "previous result\n"


def test_every_problem_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [*GOOD_ROWS, "a,yesterday,1", "a,2026-11-02T03:00:00Z,none-left"]
    source = tmp_path / "bad.csv"
    source.write_text("\n".join(rows) + "\n")
    assert (
        main(
            ["forecast", "--input", str(source), "--horizon", "3", "--out", str(tmp_path / "o.csv")]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert ":6: timestamp:" in err and ":7: value:" in err and "2 problems" in err


def test_gaps_in_the_input_stay_gaps(tmp_path: Path) -> None:
    values = noisy(daily_wave(days=5, level=20.0), sd=0.2, seed=9)
    values[2 * DAY : 3 * DAY] = np.nan  # rows missing for a day
    source = tmp_path / "in.csv"
    lines = ["timestamp,value"] + [
        f"{(START + STEP * i).isoformat()},{v}" for i, v in enumerate(values) if not np.isnan(v)
    ]
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.csv"
    assert main(["forecast", "--input", str(source), "--horizon", str(DAY), "--out", str(out)]) == 0
    means = [float(r["mean"]) for r in csv.DictReader(out.open())]
    assert min(means) > 5.0  # the missing day was not read as zero demand
