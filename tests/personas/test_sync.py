"""GitOps sync: the directory is applied in one transaction; any problem means nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from controller.adapters.persona_files import PersonaDirectoryError
from controller.adapters.storage.persona_store import PersonaStore
from controller.domain.persona_version import PersonaVersion, PersonaVersionConflict
from controller.workflow.persona_sync import sync_personas
from tests.personas.factories import persona, persona_data, write_persona

FLEETS = {"web", "api"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A directory of three personas (not in a git repository)."""
    directory = tmp_path / "personas"
    for name in ("Alpha", "Bravo", "Charlie"):
        write_persona(directory, f"{name.lower()}.yaml", persona_data(name))
    return directory


def _everything(store: PersonaStore) -> list[PersonaVersion]:
    keys = [p.key for p in store.list_personas()] + [p.key for p in store.deleted_personas()]
    return [v for key in sorted(keys) for v in store.persona_history(key)]


def test_the_first_sync_creates_every_persona_from_its_file(
    store: PersonaStore, repo: Path
) -> None:
    done = sync_personas(store, repo, FLEETS)

    assert done.plan.describe() == "3 created, 0 updated, 0 deleted, 0 unchanged"
    assert done.versions == {"alpha": 1, "bravo": 1, "charlie": 1}
    alpha = store.get_persona("alpha")
    assert (alpha.source.kind, alpha.source.path) == ("file", str(repo.resolve() / "alpha.yaml"))
    assert alpha.source.git_commit is None


def test_syncing_unchanged_files_writes_nothing_even_if_their_yaml_is_reformatted(
    store: PersonaStore, repo: Path
) -> None:
    sync_personas(store, repo, FLEETS)
    before = _everything(store)
    flow_style = yaml.safe_dump(persona_data("Alpha"), default_flow_style=True)
    (repo / "alpha.yaml").write_text("# a comment and flow style change nothing\n" + flow_style)

    done = sync_personas(store, repo, FLEETS)

    assert done.plan.changes == ()
    assert done.versions == {"alpha": 1, "bravo": 1, "charlie": 1}
    assert _everything(store) == before


def test_a_changed_file_writes_one_new_version(store: PersonaStore, repo: Path) -> None:
    sync_personas(store, repo, FLEETS)
    write_persona(repo, "bravo.yaml", persona_data("Bravo", associated_tags=["changed"]))

    done = sync_personas(store, repo, FLEETS)

    assert [(c.key, c.action, c.new_version) for c in done.plan.changes] == [("bravo", "update", 2)]
    assert store.get_persona("bravo").persona.associated_tags == ["changed"]


def test_a_removed_file_writes_a_tombstone_and_its_return_continues_the_numbering(
    store: PersonaStore, repo: Path
) -> None:
    sync_personas(store, repo, FLEETS)
    (repo / "charlie.yaml").unlink()

    removed = sync_personas(store, repo, FLEETS)
    write_persona(repo, "charlie-again.yaml", persona_data("Charlie"))
    returned = sync_personas(store, repo, FLEETS)

    assert [(c.key, c.action) for c in removed.plan.changes] == [("charlie", "delete")]
    assert [(c.key, c.action, c.new_version) for c in returned.plan.changes] == [
        ("charlie", "create", 3)
    ]
    history = store.persona_history("charlie")
    assert [v.deleted for v in history] == [False, True, False]
    assert history[1].source.path == str(repo.resolve() / "charlie.yaml")
    assert history[2].source.path == str(repo.resolve() / "charlie-again.yaml")


def test_a_bad_file_among_good_ones_changes_nothing(store: PersonaStore, repo: Path) -> None:
    sync_personas(store, repo, FLEETS)
    before = _everything(store)
    write_persona(repo, "alpha.yaml", persona_data("Alpha", associated_tags=["would-change"]))
    (repo / "bravo.yaml").unlink()  # would be a tombstone
    write_persona(repo, "delta.yaml", persona_data("Delta"))  # would be created
    write_persona(repo, "echo.yaml", persona_data("Echo", fleets=["batch"]))  # invalid

    with pytest.raises(PersonaDirectoryError) as caught:
        sync_personas(store, repo, FLEETS)

    assert caught.value.problems == [
        f"{repo / 'echo.yaml'}:27: fleets.0: unknown fleet; configured fleets: api, web "
        "(got 'batch')"
    ]
    assert _everything(store) == before


def test_a_write_between_planning_and_applying_fails_the_whole_sync(
    store: PersonaStore, repo: Path
) -> None:
    sync_personas(store, repo, FLEETS)
    for name in ("Alpha", "Bravo", "Charlie"):
        write_persona(repo, f"{name.lower()}.yaml", persona_data(name, associated_tags=["synced"]))
    planned = sync_personas(store, repo, FLEETS, dry_run=True).plan
    store.update_persona("bravo", persona("Bravo", tags=("from-the-api",)), expected_version=1)
    before = _everything(store)

    with pytest.raises(PersonaVersionConflict, match="'bravo' is at version 2"):
        store.apply_sync(planned)

    assert _everything(store) == before  # alpha, planned before bravo, was rolled back too
    assert store.get_persona("alpha").version == 1


def test_a_dry_run_shows_the_plan_and_writes_nothing(store: PersonaStore, repo: Path) -> None:
    done = sync_personas(store, repo, FLEETS, dry_run=True)

    assert not done.applied
    assert done.plan.count("create") == 3
    assert store.list_personas() == []


def test_personas_created_through_the_api_are_not_deleted_by_a_sync(
    store: PersonaStore, repo: Path
) -> None:
    store.create_persona(persona("Manual"))

    done = sync_personas(store, repo, FLEETS)

    assert done.plan.count("delete") == 0
    assert store.get_persona("manual").version == 1


def _git(directory: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args]
    done = subprocess.run(command, cwd=directory, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def test_a_sync_from_a_git_repository_records_the_commit_and_uncommitted_files(
    store: PersonaStore, repo: Path
) -> None:
    root = repo.parent
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "personas")
    commit = _git(root, "rev-parse", "HEAD")
    sync_personas(store, repo, FLEETS)
    write_persona(repo, "alpha.yaml", persona_data("Alpha", associated_tags=["uncommitted"]))
    (repo / "bravo.yaml").unlink()

    done = sync_personas(store, repo, FLEETS)

    assert done.revision is not None and done.revision.commit == commit
    charlie = store.get_persona("charlie").source
    assert (charlie.path, charlie.git_commit, charlie.git_dirty) == (
        "personas/charlie.yaml",
        commit,
        False,
    )
    alpha = store.get_persona("alpha").source
    assert (alpha.git_commit, alpha.git_dirty) == (commit, True)
    tombstone = store.persona_history("bravo")[-1].source
    assert (tombstone.path, tombstone.git_commit, tombstone.git_dirty) == (
        "personas/bravo.yaml",
        commit,
        True,
    )
