"""How personas, versions and syncs are shown: text for people, JSON-ready dicts for scripts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.adapters.persona_files import persona_to_yaml
from controller.domain.persona_version import PersonaVersion, StoredPersona, VersionSource
from controller.workflow.persona_sync import PersonaSync


def _time(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def source_json(source: VersionSource) -> dict[str, Any]:
    return {
        "kind": source.kind,
        "path": source.path,
        "git_commit": source.git_commit,
        "git_dirty": source.git_dirty,
    }


def stored_json(stored: StoredPersona) -> dict[str, Any]:
    return {
        "key": stored.key,
        "version": stored.version,
        "created_at": _time(stored.created_at),
        "source": source_json(stored.source),
        "content_hash": stored.content_hash,
        "deleted": False,
        "definition": stored.persona.model_dump(mode="json"),
    }


def version_json(version: PersonaVersion) -> dict[str, Any]:
    return {
        "key": version.key,
        "version": version.version,
        "created_at": _time(version.created_at),
        "source": source_json(version.source),
        "content_hash": version.content_hash,
        "deleted": version.deleted,
        "definition": version.persona.model_dump(mode="json") if version.persona else None,
    }


def persona_yaml(stored: StoredPersona) -> str:
    """The definition as YAML that `personas update` accepts back, with where it came from."""
    header = (
        f"# {stored.key} version {stored.version}, {_time(stored.created_at)}, "
        f"from {stored.source.describe()}\n# sha256 {stored.content_hash}\n"
    )
    return header + persona_to_yaml(stored.persona).rstrip("\n")


def history_lines(versions: list[PersonaVersion]) -> list[str]:
    lines, live = [], False
    for version in versions:
        if version.deleted:
            what, live = "deleted", False
        else:
            what, live = ("updated" if live else "created"), True
        digest = (version.content_hash or "")[:12] or "-"
        lines.append(
            f"v{version.version:<4} {_time(version.created_at)}  {what:<8} {digest:<12}  "
            f"{version.source.describe()}"
        )
    return lines


def sync_json(done: PersonaSync) -> dict[str, Any]:
    revision = done.revision
    return {
        "directory": str(done.directory),
        "applied": done.applied,
        "git_commit": revision.commit if revision else None,
        "git_dirty": revision.dirty if revision else None,
        "changes": [
            {
                "key": c.key,
                "action": c.action,
                "from_version": c.expected_version,
                "to_version": c.new_version,
                "source": source_json(c.source),
            }
            for c in done.plan.changes
        ],
        "unchanged": dict(done.plan.unchanged),
        "versions": done.versions,
    }


def sync_lines(done: PersonaSync) -> list[str]:
    revision = done.revision
    where = "not in a git repository"
    if revision is not None:
        state = "with uncommitted changes" if revision.dirty else "clean"
        where = f"git {(revision.commit or 'no commits yet')[:12]}, {state}"
    verb = "synced" if done.applied else "dry run, nothing written for"
    lines = [f"{verb} {done.directory} ({where}): {done.plan.describe()}"]
    for change in done.plan.changes:
        before = f"v{change.expected_version}" if change.expected_version else "new"
        lines.append(f"  {change.action:<7} {change.key}: {before} -> v{change.new_version}")
    return lines
