"""GitOps: make the store's file-managed personas equal a directory, in one transaction.

Every file is validated first and any problem stops the sync before a single write, so a bad
commit can never leave the store half-updated. Each written version records the file and, when
the directory is in a git work tree, the commit and whether the file had uncommitted changes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from controller.adapters.git_repo import GitRevision, git_revision
from controller.adapters.persona_files import (
    MAX_FILE_BYTES,
    PersonaFile,
    load_persona_directory,
)
from controller.adapters.storage.persona_store import PersonaStore, SyncItem, SyncPlan
from controller.domain.persona_version import VersionSource


@dataclass(frozen=True)
class PersonaSync:
    directory: Path
    files: tuple[PersonaFile, ...]
    plan: SyncPlan
    revision: GitRevision | None
    applied: bool

    @property
    def versions(self) -> dict[str, int]:
        """persona key -> store version in force for every file in the directory."""
        return self.plan.versions


def sync_personas(
    store: PersonaStore,
    directory: Path,
    known_fleets: Collection[str] | None,
    dry_run: bool = False,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> PersonaSync:
    """Validate every file in `directory`, then write what changed (nothing if `dry_run`).

    Raises PersonaDirectoryError (every problem, nothing written) or PersonaVersionConflict
    (someone wrote a planned persona meanwhile; nothing written, syncing again resolves it).
    """
    files = tuple(load_persona_directory(directory, known_fleets, max_file_bytes))
    revision = git_revision(directory)
    items = [SyncItem(f.persona, _file_source(f.path, revision), f.content_hash) for f in files]

    def removal(old_path: str | None) -> VersionSource:
        dirty = None if revision is None else old_path in revision.dirty_paths
        return VersionSource("file", old_path, revision.commit if revision else None, dirty)

    plan = store.plan_sync(items, removal)
    if not dry_run:
        store.apply_sync(plan)
    return PersonaSync(directory, files, plan, revision, applied=not dry_run)


def _file_source(path: Path, revision: GitRevision | None) -> VersionSource:
    if revision is None:
        return VersionSource("file", str(path.resolve()))
    return VersionSource("file", revision.relative(path), revision.commit, revision.is_dirty(path))
