"""What the persona store keeps: immutable versions, where each came from, and what changed.

A version is never edited or removed. Deleting a persona writes a tombstone version (no
definition); creating the name again continues the numbering, so `history` tells the whole story.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from controller.domain.errors import FleetError, InputError
from controller.domain.persona import Persona

SourceKind = Literal["api", "file"]


@dataclass(frozen=True)
class VersionSource:
    """Who wrote a version: the API (CLI or Python), or a synced file at a git commit."""

    kind: SourceKind
    path: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    """the file differed from `git_commit` when synced; None outside a git repository"""

    def describe(self) -> str:
        if self.kind == "api":
            return "api"
        text = f"file {self.path}"
        if self.git_commit:
            text += f" @ {self.git_commit[:12]}"
            if self.git_dirty:
                text += " (uncommitted changes)"
        return text


API = VersionSource("api")


@dataclass(frozen=True)
class PersonaVersion:
    """One entry of a persona's history; `persona` is None for a deletion (tombstone)."""

    key: str
    version: int
    created_at: datetime
    source: VersionSource
    persona: Persona | None
    content_hash: str | None

    @property
    def deleted(self) -> bool:
        return self.persona is None


@dataclass(frozen=True)
class StoredPersona:
    """A live persona at the version that defines it.

    The definition is parsed from its stored JSON on first use of `persona`: listing 10,000
    personas then costs what the caller reads (bench/persona_store.py has the figures).
    """

    key: str
    version: int
    created_at: datetime
    source: VersionSource
    persona_name: str
    content_hash: str
    definition_json: str = field(repr=False)
    """the definition as stored (validated when written)"""

    @cached_property
    def persona(self) -> Persona:
        return Persona.model_validate_json(self.definition_json)


@dataclass(frozen=True)
class FieldChange:
    """One leaf that differs between two versions; values are JSON values, None when absent."""

    field: str
    kind: Literal["added", "removed", "changed"]
    before: Any = None
    after: Any = None

    def describe(self) -> str:
        if self.kind == "added":
            return f"+ {self.field}: {_json(self.after)}"
        if self.kind == "removed":
            return f"- {self.field}: {_json(self.before)}"
        return f"~ {self.field}: {_json(self.before)} -> {_json(self.after)}"


@dataclass(frozen=True)
class PersonaDiff:
    key: str
    from_version: int
    to_version: int
    changes: tuple[FieldChange, ...]


def diff_personas(before: Persona | None, after: Persona | None) -> tuple[FieldChange, ...]:
    """Field-level changes, in schema order; a tombstone (None) has no fields at all.

    Mappings are compared key by key and lists of mappings item by item (peak windows), while a
    list of plain values (tags, event types, days) is one value: its order and members together.
    """
    old = _leaves(before.model_dump(mode="json")) if before is not None else {}
    new = _leaves(after.model_dump(mode="json")) if after is not None else {}
    changes = []
    for leaf in list(old) + [f for f in new if f not in old]:
        if leaf not in new:
            changes.append(FieldChange(leaf, "removed", before=old[leaf]))
        elif leaf not in old:
            changes.append(FieldChange(leaf, "added", after=new[leaf]))
        elif old[leaf] != new[leaf]:
            changes.append(FieldChange(leaf, "changed", old[leaf], new[leaf]))
    return tuple(changes)


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        found = {}
        for index, item in enumerate(value):
            found.update(_leaves(item, f"{prefix}.{index}"))
        return found
    return {prefix: value}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class PersonaNotFound(InputError):
    """The name (or that version of it) is not in the store, or the persona is deleted."""

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        super().__init__(f"persona {key!r}: {detail}")


class PersonaExists(InputError):
    """create was asked for a name that is live; update it instead."""

    def __init__(self, key: str, version: int) -> None:
        self.key, self.version = key, version
        super().__init__(
            f"persona {key!r} already exists (version {version}); update it with "
            f"`fleetctl personas update {key} FILE --expected-version {version}`"
        )


class PersonaVersionConflict(FleetError):
    """A write named a version that is no longer current: someone else wrote first.

    Retrying the same call cannot help; re-read, re-apply the change, and write again.
    """

    def __init__(self, key: str, expected: int | None, actual: int | None) -> None:
        self.key, self.expected, self.actual = key, expected, actual
        expected_text = "not to exist yet" if expected is None else f"to be at version {expected}"
        actual_text = "does not exist" if actual is None else f"is at version {actual}"
        super().__init__(
            f"persona {key!r} {actual_text}, but the write expected it {expected_text}: someone "
            "else changed it since it was read. Nothing was written; re-read it "
            f"(`fleetctl personas show {key}`) and apply your change again"
        )
