"""Commands that only read: quiet when their reader goes away, no `None` shown to people, and a
store that is not there is reported, never created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from controller.cli import EXIT_CLOSED_PIPE, main
from tests.helpers import ROOT, make_project
from tests.ingest.conftest import event_lines

pytestmark = pytest.mark.terraform

READ_ONLY = [
    ["state"],
    ["state", "--json"],
    ["runs"],
    ["deadletters"],
    ["metrics", "export", "--out", "-"],
    ["personas", "list"],
    ["personas", "show", "api-consumer"],
    ["personas", "history", "api-consumer"],
    ["personas", "diff", "api-consumer", "1", "2"],
    ["personas", "drift"],
]


def fleetctl_process(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_reader_that_closes_before_state_is_written_gets_no_traceback(
    planned_project: Path,
) -> None:
    process = fleetctl_process(planned_project, "state")
    assert process.stdout is not None
    process.stdout.close()  # before the command has written anything: its first write fails
    _, err = process.communicate(timeout=300)
    assert process.returncode == EXIT_CLOSED_PIPE
    assert err.decode() == ""


def test_a_reader_that_stops_early_in_a_long_export_gets_no_traceback(
    planned_project: Path,
) -> None:
    process = fleetctl_process(planned_project, "metrics", "export", "--out", "-")
    assert process.stdout is not None and process.stderr is not None
    # more than a pipe holds (64 KiB): the writer is still writing when the reader leaves
    assert process.stdout.read(100).startswith(b"bucket,persona,region")
    process.stdout.close()
    err = process.stderr.read().decode()
    process.wait(timeout=300)
    assert process.returncode == EXIT_CLOSED_PIPE
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert err == ""


@pytest.mark.parametrize(
    "args",
    [args for args in READ_ONLY if "--json" not in args and "--out" not in args],
    ids=" ".join,
)
def test_human_output_never_shows_none(
    planned_project: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--config", str(planned_project), *args])
    out, err = capsys.readouterr()
    assert "None" not in out and "None" not in err


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_on_a_missing_store_says_so_and_creates_nothing(
    tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "controller.yaml"
    config.write_text(yaml.safe_dump({"data_dir": "typo"}))

    assert main(["--config", str(config), *args]) == 1

    err = capsys.readouterr().err
    assert f"no store at {tmp_path / 'typo' / 'fleet.db'}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["controller.yaml"]


def test_runs_on_an_empty_store_says_there_are_none_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_project(tmp_path)
    assert main(["--config", str(config), "personas", "sync"]) == 0  # a store, no cycle
    capsys.readouterr()

    assert main(["--config", str(config), "runs"]) == 0

    assert capsys.readouterr().out.startswith("no runs yet")


def test_report_on_a_missing_store_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "controller.yaml"
    config.write_text(yaml.safe_dump({"data_dir": "typo"}))

    assert main(["--config", str(config), "report", "--out", str(tmp_path / "r.html")]) == 1

    assert f"no store at {tmp_path / 'typo' / 'fleet.db'}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["controller.yaml"]


def test_classify_without_a_store_uses_the_persona_directory_and_creates_no_store(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"\n".join(event_lines(400, seed=11)) + b"\n")
    config = tmp_path / "controller.yaml"
    config.write_text(yaml.safe_dump({"data_dir": "typo", "personas_dir": str(ROOT / "personas")}))
    out = tmp_path / "sessions.csv"

    assert (
        main(["--config", str(config), "classify", "--input", str(events), "--out", str(out)]) == 0
    )

    rows = out.read_text().splitlines()
    assert len(rows) > 1 and any("peak-hour-shopper" in row for row in rows[1:])
    assert not (tmp_path / "typo").exists()
