"""A persona directory is validated whole: every problem in every file, and names across files."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.adapters.persona_files import PersonaDirectoryError, load_persona_directory
from controller.domain.errors import InputError
from tests.personas.factories import persona_data, write_persona

FLEETS = {"web", "api"}


def test_problems_in_several_files_are_all_reported_with_their_paths(tmp_path: Path) -> None:
    write_persona(tmp_path, "good.yaml", persona_data("Good"))
    write_persona(tmp_path, "bad-fleet.yaml", persona_data("Bad Fleet", fleets=["batch"]))
    (tmp_path / "broken.yaml").write_text("persona_name: [unclosed\n")

    with pytest.raises(PersonaDirectoryError) as caught:
        load_persona_directory(tmp_path, FLEETS)

    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(f"{tmp_path / 'bad-fleet.yaml'}:")
    assert "fleets.0: unknown fleet; configured fleets: api, web (got 'batch')" in problems[0]
    assert problems[1].startswith(f"{tmp_path / 'broken.yaml'}:2: invalid YAML")


def test_two_files_with_the_same_persona_key_name_both_places(tmp_path: Path) -> None:
    write_persona(tmp_path, "a.yaml", persona_data("Peak Hour Shopper"))
    write_persona(tmp_path, "b.yaml", persona_data("peak hour  SHOPPER"))

    with pytest.raises(PersonaDirectoryError) as caught:
        load_persona_directory(tmp_path, FLEETS)

    assert caught.value.problems == [
        f"{tmp_path / 'b.yaml'}:1: persona_name: key 'peak-hour-shopper' is already defined in "
        f"{tmp_path / 'a.yaml'}:1 (got 'peak hour  SHOPPER')"
    ]


def test_drafts_dot_files_and_other_suffixes_are_not_personas(tmp_path: Path) -> None:
    write_persona(tmp_path, "shopper.yml", persona_data("Shopper"))
    for ignored in ("_draft.yaml", ".editor-swap.yaml", "notes.txt"):
        (tmp_path / ignored).write_text("not: [a persona\n")

    loaded = load_persona_directory(tmp_path, FLEETS)

    assert [f.path.name for f in loaded] == ["shopper.yml"]


def test_a_directory_without_personas_is_an_error_not_an_empty_set(tmp_path: Path) -> None:
    # An empty set would make sync delete every persona: refuse instead.
    with pytest.raises(InputError, match=r"no persona files \(\*\.yaml, \*\.yml\) found"):
        load_persona_directory(tmp_path, FLEETS)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nowhere: persona directory does not exist"):
        load_persona_directory(tmp_path / "nowhere", FLEETS)


def test_a_persona_file_given_as_the_directory_is_named_with_the_directory_holding_it(
    tmp_path: Path,
) -> None:
    persona = tmp_path / "shopper.yaml"
    persona.write_text("persona_name: Shopper\n")
    with pytest.raises(InputError, match=r"shopper.yaml is a file; expected the persona directory"):
        load_persona_directory(persona, FLEETS)
