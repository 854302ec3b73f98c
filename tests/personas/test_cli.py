"""fleetctl personas, end to end through controller.cli.main on a project in tmp_path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from controller.cli import main
from tests.helpers import ROOT, make_project
from tests.personas.factories import persona_data, write_persona


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Path:
    """controller.yaml (fleets web and api) with the example personas and its own database."""
    return make_project(tmp_path, database_url=database_url)


def fleetctl(config: Path, *args: str) -> int:
    return main(["--config", str(config), "personas", *args])


def test_validate_accepts_the_examples(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fleetctl(project, "validate") == 0
    assert "3 personas OK" in capsys.readouterr().out


def test_validate_prints_every_problem_and_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    personas = project.parent / "personas"
    write_persona(personas, "x.yaml", persona_data("API Consumer", fleets=["batch"]))

    assert fleetctl(project, "validate", str(personas)) == 1

    x, api = personas / "x.yaml", personas / "api-consumer.yaml"
    assert capsys.readouterr().err.splitlines() == [
        f"{x}:27: fleets.0: unknown fleet; configured fleets: api, web (got 'batch')",
        f"{x}:1: persona_name: key 'api-consumer' is already defined in {api}:2 "
        "(got 'API Consumer')",
        f"2 problem(s) in {personas}",
    ]


def test_sync_writes_versions_and_list_json_shows_them(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fleetctl(project, "sync", "--json") == 0
    synced = json.loads(capsys.readouterr().out)
    assert synced["applied"] and synced["git_commit"] is None
    assert synced["versions"] == {"api-consumer": 1, "content-publisher": 1, "peak-hour-shopper": 1}

    assert fleetctl(project, "sync") == 0
    assert "0 created, 0 updated, 0 deleted, 3 unchanged" in capsys.readouterr().out

    assert fleetctl(project, "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["key"], p["version"], p["source"]["kind"]) for p in listed] == [
        ("api-consumer", 1, "file"),
        ("content-publisher", 1, "file"),
        ("peak-hour-shopper", 1, "file"),
    ]
    assert listed[0]["definition"]["persona_name"] == "API Consumer"


def test_sync_with_an_invalid_file_exits_1_and_writes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    personas = project.parent / "personas"
    (personas / "broken.yaml").write_text("persona_name: [\n")

    assert fleetctl(project, "sync") == 1
    err = capsys.readouterr().err
    assert f"{personas / 'broken.yaml'}:2: invalid YAML" in err
    assert "1 problem(s) in" in err and "nothing written" in err

    assert fleetctl(project, "list") == 0
    assert capsys.readouterr().out.strip() == "no personas in the store"


def test_create_show_update_diff_history_delete(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = write_persona(tmp_path / "drafts", "owl.yaml", persona_data("Night Owl"))
    assert fleetctl(project, "create", str(draft)) == 0
    assert capsys.readouterr().out.strip() == "created night-owl version 1"

    assert fleetctl(project, "show", "night-owl") == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# night-owl version 1, ")
    (tmp_path / "shown.yaml").write_text(shown)
    assert fleetctl(project, "update", "Night Owl", str(tmp_path / "shown.yaml")) == 0
    assert capsys.readouterr().out.strip() == "night-owl unchanged at version 1"

    write_persona(tmp_path / "drafts", "owl.yaml", persona_data("Night Owl", fleets=["api"]))
    assert fleetctl(project, "update", "night-owl", str(draft), "--expected-version", "1") == 0
    assert capsys.readouterr().out.strip() == "night-owl updated to version 2"

    assert fleetctl(project, "diff", "night-owl", "1", "2") == 0
    assert capsys.readouterr().out.splitlines() == [
        "night-owl: v1 -> v2",
        '  ~ fleets: ["web"] -> ["api"]',
    ]

    assert fleetctl(project, "delete", "night-owl", "--expected-version", "2") == 0
    assert "tombstone version 3" in capsys.readouterr().out

    assert fleetctl(project, "history", "night-owl", "--json") == 0
    history = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["deleted"], v["source"]["kind"]) for v in history] == [
        (1, False, "api"),
        (2, False, "api"),
        (3, True, "api"),
    ]
    assert fleetctl(project, "show", "night-owl", "--version", "1", "--json") == 0
    assert json.loads(capsys.readouterr().out)["definition"]["fleets"] == ["web"]


def test_an_update_from_a_stale_version_exits_1_and_says_why(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleetctl(project, "sync")
    draft = write_persona(tmp_path, "api.yaml", persona_data("API Consumer", fleets=["api"]))
    fleetctl(project, "update", "api-consumer", str(draft))
    capsys.readouterr()

    again = write_persona(tmp_path, "api.yaml", persona_data("API Consumer", fleets=["web"]))
    assert fleetctl(project, "update", "api-consumer", str(again), "--expected-version", "1") == 1

    err = capsys.readouterr().err
    assert (
        "persona 'api-consumer' is at version 2, but the write expected it to be at version 1"
        in err
    )


def test_creating_from_an_invalid_file_exits_1_naming_line_and_value(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = persona_data("Night Owl")
    data["resource_profile"]["memory_demand"] = -5
    draft = write_persona(tmp_path, "owl.yaml", data)

    assert fleetctl(project, "create", str(draft)) == 1

    err = capsys.readouterr().err
    assert (
        f"{draft}:4: resource_profile.memory_demand: Input should be greater than or equal to 0 (got -5)"
        in err
    )
    assert fleetctl(project, "list") == 1  # nothing written: not even an empty store
    assert "no store" in capsys.readouterr().err


def test_showing_an_unknown_persona_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fleetctl(project, "sync") == 0
    capsys.readouterr()
    assert fleetctl(project, "show", "nobody") == 1
    assert "persona 'nobody': no such persona" in capsys.readouterr().err


def test_schema_prints_the_committed_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["personas", "schema"]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((ROOT / "docs" / "persona.schema.json").read_text())


def test_help_lists_every_persona_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["personas", "--help"])

    out = capsys.readouterr().out
    for action in (
        "list",
        "show",
        "history",
        "diff",
        "create",
        "update",
        "delete",
        "validate",
        "sync",
        "schema",
    ):
        assert f"    {action} " in out


def test_the_pre_commit_hook_validates_the_personas_of_the_repository_it_runs_in(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    command, *args = hook["entry"].split()
    monkeypatch.chdir(project.parent)  # pre-commit runs hooks from the repository root

    assert command == "fleetctl"
    assert re.search(hook["files"], "personas/peak-hour-shopper.yaml")
    assert main(args) == 0
    assert "3 personas OK" in capsys.readouterr().out

    (project.parent / "personas" / "broken.yaml").write_text("persona_name: [\n")
    assert main(args) == 1
