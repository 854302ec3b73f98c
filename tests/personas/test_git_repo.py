"""Which commit a persona directory is at and which of its files differ, read from real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from controller.adapters.git_repo import git_revision


def _git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args]
    return subprocess.run(command, cwd=root, check=True, capture_output=True, text=True).stdout


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "old name.yaml").write_text("a: 1\n")
    (tmp_path / "README").write_text("x\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "start")
    return tmp_path


def test_outside_a_repository_there_is_no_revision(tmp_path: Path) -> None:
    assert git_revision(tmp_path) is None


def test_a_clean_tree_gives_head_and_no_dirty_paths(tmp_path: Path) -> None:
    root = _repo(tmp_path)

    revision = git_revision(root / "personas")

    assert revision is not None
    assert revision.commit == _git(root, "rev-parse", "HEAD").strip()
    assert revision.root == root.resolve()
    assert not revision.dirty


def test_renames_and_new_files_in_the_directory_are_dirty_but_other_directories_are_not(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path)
    _git(root, "mv", "personas/old name.yaml", "personas/new name.yaml")
    (root / "personas" / "added.yaml").write_text("b: 2\n")
    (root / "README").write_text("changed outside the persona directory\n")

    revision = git_revision(root / "personas")

    assert revision is not None
    assert revision.dirty_paths == {
        "personas/new name.yaml",
        "personas/old name.yaml",
        "personas/added.yaml",
    }
    assert revision.is_dirty(root / "personas" / "added.yaml")
    assert revision.relative(root / "personas" / "added.yaml") == "personas/added.yaml"


def test_a_repository_without_commits_has_no_commit_and_everything_is_dirty(
    tmp_path: Path,
) -> None:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "a.yaml").write_text("a: 1\n")
    _git(tmp_path, "init", "-q")

    revision = git_revision(tmp_path / "personas")

    assert revision is not None and revision.commit is None
    assert revision.dirty_paths == {"personas/a.yaml"}
