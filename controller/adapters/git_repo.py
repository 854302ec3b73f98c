"""Which git commit a directory is at, and which of its files differ from it.

Synced persona versions record the commit they came from, so `history` can point at the review
that introduced a change. This is the only module that runs git; it reads, never writes.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 10


@dataclass(frozen=True)
class GitRevision:
    root: Path
    commit: str | None
    """HEAD, or None in a repository without commits"""
    dirty_paths: frozenset[str]
    """paths (relative to root) that differ from HEAD: modified, added, deleted, untracked"""

    def relative(self, path: Path) -> str:
        """`path` relative to the repository root, as git names it."""
        return path.resolve().relative_to(self.root).as_posix()

    def is_dirty(self, path: Path) -> bool:
        return self.relative(path) in self.dirty_paths

    @property
    def dirty(self) -> bool:
        return bool(self.dirty_paths)


def git_revision(directory: Path) -> GitRevision | None:
    """The revision of the work tree holding `directory`; None outside one or without git."""
    root = _git(directory, "rev-parse", "--show-toplevel")
    if root is None:
        return None
    commit = _git(directory, "rev-parse", "--verify", "--quiet", "HEAD")
    status = _git(directory, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
    head = (commit or "").strip() or None
    return GitRevision(
        Path(root.strip()).resolve(), head, frozenset(_porcelain_paths(status or ""))
    )


def _porcelain_paths(output: str) -> list[str]:
    """Paths from `git status --porcelain=v1 -z` (always relative to the repository root)."""
    entries = output.split("\0")
    paths, index = [], 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # a rename or copy is followed by its source path
            paths.append(entries[index])
            index += 1
    return paths


def _git(directory: Path, *args: str) -> str | None:
    # GIT_OPTIONAL_LOCKS=0: `status` must not take index.lock while a person is committing.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
