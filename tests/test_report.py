"""`fleetctl report`: the HTML page a person opens to see how the controller is doing."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest

from controller.cli import main
from controller.config import load_config
from controller.domain.clock import FixedClock
from controller.workflow.cycle import run_cycle
from controller.workflow.wiring import build_controller
from tests.report_pages import PNG_SIGNATURE, embedded_pngs, outside_references, usual_umask

pytestmark = pytest.mark.terraform


def test_the_report_is_one_readable_page_with_forecasts_capacity_errors_and_plans_inside(
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
    with usual_umask():
        assert main(["--config", str(project), "report", "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    assert [p.name for p in out.iterdir()] == ["index.html"]  # nothing beside it
    assert stat.S_IMODE((out / "index.html").stat().st_mode) == 0o644
    assert outside_references(page) == []
    plots = embedded_pngs(page)  # three personas, two fleets
    assert len(plots) == 5 and all(p.startswith(PNG_SIGNATURE) and len(p) > 10_000 for p in plots)
    for persona in ("api-consumer", "content-publisher", "peak-hour-shopper"):
        assert f"<td>{persona}</td>" in page  # a row of the error table
        assert f"alt='persona {persona}'" in page
    assert "alt='fleet web'" in page and "alt='fleet api'" in page
    assert "Recent plans" in page and page.count("<td>applied</td>") >= 1
    assert "What the feedback loop learned" in page
    assert "network Mbps per session 2 declared" in page  # shopper: too few sessions to learn
    assert str(out / "index.html") in capsys.readouterr().out
    named = tmp_path / "fleet.html"
    assert main(["--config", str(project), "report", "--out", str(named)]) == 0
    assert outside_references(named.read_text()) == [] and not (tmp_path / "fleet").exists()


def test_report_help_says_the_page_is_the_only_file_written(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one line per option: no wrapping inside a phrase
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    help_text = capsys.readouterr().out
    assert "one self-contained file with the plots inside, nothing written beside it" in help_text


def test_a_report_into_an_existing_file_that_is_no_page_is_refused_by_name(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    assert main(["--config", str(project), "report", "--out", str(taken)]) == 1
    assert f"{taken}: exists and is not a directory" in capsys.readouterr().err
    assert taken.read_text() == "mine"


def test_a_report_before_any_cycle_says_what_to_do(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(project), "report", "--out", str(tmp_path / "r")]) == 1
    assert "run `fleetctl cycle`" in capsys.readouterr().err
    assert not (tmp_path / "r" / "index.html").exists()
