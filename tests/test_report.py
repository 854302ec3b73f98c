"""`fleetctl report`: the HTML page a person opens to see how the controller is doing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.cli import main
from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.workflow.cycle import run_cycle
from controller.workflow.wiring import build_controller

pytestmark = pytest.mark.terraform


def test_the_report_shows_forecasts_capacity_errors_and_plans(
    project: Path, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock.set(clock.now() - timedelta(hours=8))
    controller = build_controller(load_config(project), clock=clock)
    try:
        run_cycle(controller)
        clock.advance(timedelta(hours=4))
        run_cycle(controller)
    finally:
        controller.close()
    out = tmp_path / "report"
    assert main(["--config", str(project), "report", "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    for persona in ("api-consumer", "content-publisher", "peak-hour-shopper"):
        assert (out / f"persona-{persona}.png").stat().st_size > 10_000
        assert f"<td>{persona}</td>" in page  # a row of the error table
    assert (out / "fleet-web.png").is_file() and (out / "fleet-api.png").is_file()
    assert "Recent plans" in page and page.count("<td>applied</td>") >= 1
    assert "What the feedback loop learned" in page
    assert "network Mbps per session 2 declared" in page  # shopper: too few sessions to learn
    assert str(out / "index.html") in capsys.readouterr().out


def test_a_report_before_any_cycle_says_what_to_do(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(project), "report", "--out", str(tmp_path / "r")]) == 1
    assert "run `fleetctl cycle`" in capsys.readouterr().err
    assert not (tmp_path / "r" / "index.html").exists()
