"""`fleetctl simulate --sweep`: every run's cost and drops beside --out, equal-cost ratios, the plot."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from controller.cli import main
from controller.commands.simulate import format_sweep
from controller.simulation.frontier import SweepPoint
from controller.workflow.simulation import (
    BASELINES,
    PREDICTIVE_POLICIES,
    PREDICTIVE_SWEEP,
    REACTIVE_SWEEP,
)
from tests.report_pages import PNG_SIGNATURE, embedded_pngs
from tests.simulation.test_simulate_cli import minutes, simulate_args, write_trace


def paid_minutes(path: Path) -> int:
    with path.open() as handle:
        return sum(int(row["serving"]) + int(row["booting"]) for row in csv.DictReader(handle))


def test_the_sweep_writes_each_run_beside_out_with_the_cost_a_single_run_pays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_trace(tmp_path / "trace.csv", minutes(120, rate=400.0))
    out = tmp_path / "sim.csv"
    assert main(simulate_args(trace, out, "--sweep", "--report", str(tmp_path / "r.html"))) == 0
    with (tmp_path / "sim-sweep.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["policy", "setting", "cost", "dropped_share"]
    assert [(r["policy"], r["setting"]) for r in rows] == [
        (p, "off" if q is None else f"{q:g}") for p in PREDICTIVE_POLICIES for q in PREDICTIVE_SWEEP
    ] + [(p, f"{t:g}") for p in BASELINES for t in REACTIVE_SWEEP]
    # the sweep's reactive at 0.5 costs what `--policy reactive --reactive-target 0.5` pays
    single = tmp_path / "single.csv"
    assert (
        main(simulate_args(trace, single, "--policy", "reactive", "--reactive-target", "0.5")) == 0
    )
    at_half = next(r for r in rows if r["policy"] == "reactive" and r["setting"] == "0.5")
    assert float(at_half["cost"]) == paid_minutes(single)
    costs = [float(r["cost"]) for r in rows if r["policy"] == "reactive"]
    assert costs == sorted(costs, reverse=True)  # a higher target pays less
    printed = capsys.readouterr()
    assert "predictive's dropped share over each baseline's at the same cost" in printed.out
    assert "sweep 36/36: aws-predictive at target 0.95" in printed.err
    page = (tmp_path / "r.html").read_text()
    assert "alt='sweep cost against dropped share'" in page
    assert embedded_pngs(page)[0].startswith(PNG_SIGNATURE)


def test_a_sweep_to_standard_output_is_refused_before_simulating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = write_trace(tmp_path / "trace.csv", minutes(30))
    args = simulate_args(trace, tmp_path / "unused.csv", "--sweep")
    args[args.index("--out") + 1] = "-"
    assert main(args) == 2
    captured = capsys.readouterr()
    assert "--sweep writes S-sweep.csv beside --out" in captured.err
    assert "simulating" not in captured.err and captured.out == ""


def test_the_sweep_table_reads_each_baseline_at_predictives_cost_or_says_it_cannot() -> None:
    points = [
        SweepPoint("predictive", "0.9", 150.0, 0.01),
        SweepPoint("predictive", "0.99", 400.0, 0.001),
        SweepPoint("reactive", "0.9", 100.0, 0.04),
        SweepPoint("reactive", "0.7", 200.0, 0.02),
        SweepPoint("reactive-warm", "0.9", 120.0, 0.03),
        SweepPoint("reactive-warm", "0.7", 220.0, 0.01),
    ]
    lines = format_sweep(points).splitlines()
    # at 150: reactive 3 %, reactive-warm 3 % - 0.3 x 2 % = 2.4 %; the better is reactive-warm
    at_150 = next(line for line in lines if line.startswith("predictive       0.9 "))
    assert at_150.split()[3:] == ["0.33x", "0.42x", "0.42x", "(reactive-warm)"]
    # 400 is dearer than either baseline's dearest run: no number, said plainly
    at_400 = next(line for line in lines if line.startswith("predictive       0.99 "))
    assert "outside its costs" in at_400 and "n/a: outside a frontier" in at_400
    assert "x reactive@0.7" in lines[1]
    assert any(line.split()[:2] == ["predictive", "0.9"] and "0.750" in line for line in lines)


def test_where_a_baseline_drops_nothing_the_table_says_predictive_is_worse() -> None:
    points = [
        SweepPoint("predictive", "0.99", 150.0, 0.001),
        SweepPoint("reactive", "0.7", 100.0, 0.0),
        SweepPoint("reactive", "0.5", 200.0, 0.0),
    ]
    at_150 = format_sweep(points).splitlines()[-1].split(maxsplit=3)
    assert at_150[:2] == ["predictive", "0.99"] and "worse: it drops 0" in at_150[3]
