"""The versioned persona store: every change is a new immutable version, guarded by its number.

Two tables: `persona_versions` keeps every version ever written (a tombstone has no definition);
`persona_heads` holds each key's current version number and is the compare-and-set anchor: a
write moves the head from the version the writer read to the next one, in the same transaction
that inserts the version row. If someone else moved the head first, the conditional UPDATE
matches no row (PostgreSQL re-checks it after waiting for the row lock; SQLite serialises
writers), nothing is written and the caller gets PersonaVersionConflict. The (key, version)
primary key is the second line of defence: a version number can never be written twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    Row,
    String,
    Table,
    Text,
    and_,
    bindparam,
    exc,
    select,
    update,
)

from controller.adapters.storage.db import from_epoch, metadata, to_epoch
from controller.domain.clock import Clock
from controller.domain.errors import InputError
from controller.domain.persona import Persona, content_hash, persona_slug
from controller.domain.persona_version import (
    API,
    PersonaDiff,
    PersonaExists,
    PersonaNotFound,
    PersonaVersion,
    PersonaVersionConflict,
    SourceKind,
    StoredPersona,
    VersionSource,
    diff_personas,
)

persona_heads = Table(
    "persona_heads",
    metadata,
    Column("key", String(120), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False),
)

persona_versions = Table(
    "persona_versions",
    metadata,
    Column("key", String(120), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("persona_name", String(120), nullable=False),
    Column("definition", Text, comment="JSON of the definition; NULL for a tombstone"),
    Column("content_hash", String(64)),
    Column("source_kind", String(8), nullable=False),
    Column("source_path", Text),
    Column("git_commit", String(64)),
    Column("git_dirty", Boolean),
)

PERSONA_TABLES = (persona_heads, persona_versions)
_AT_HEAD = and_(
    persona_heads.c.key == persona_versions.c.key,
    persona_heads.c.version == persona_versions.c.version,
)
"""joins each head to the version row it points at"""

Definition = Persona | Mapping[str, Any]
RemovalSource = Callable[[str | None], VersionSource]
"""the source of a sync's tombstone, given the path the removed persona was last synced from"""


@dataclass(frozen=True)
class SyncItem:
    """One persona as a synced file defines it."""

    persona: Persona
    source: VersionSource
    content_hash: str


@dataclass(frozen=True)
class PersonaWrite:
    """One version to write: from the version read (`expected_version`) to the next."""

    key: str
    action: Literal["create", "update", "delete"]
    expected_version: int | None
    """the head version the writer read; None when the key was never written"""
    persona: Persona | None
    """the new definition; None for a delete (tombstone)"""
    source: VersionSource
    persona_name: str

    @property
    def new_version(self) -> int:
        return (self.expected_version or 0) + 1


@dataclass(frozen=True)
class SyncPlan:
    changes: tuple[PersonaWrite, ...]
    unchanged: Mapping[str, int] = field(default_factory=dict)
    """key -> current version, for personas the files define exactly as stored"""

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def describe(self) -> str:
        return (
            f"{self.count('create')} created, {self.count('update')} updated, "
            f"{self.count('delete')} deleted, {len(self.unchanged)} unchanged"
        )

    @property
    def versions(self) -> dict[str, int]:
        """key -> version in force once applied, for every persona the files define."""
        written = {c.key: c.new_version for c in self.changes if c.action != "delete"}
        return dict(sorted({**self.unchanged, **written}.items()))


@dataclass(frozen=True)
class _Head:
    key: str
    version: int
    deleted: bool
    content_hash: str | None
    source_kind: str
    source_path: str | None
    persona_name: str


class _StaleHead(Exception):
    """A head was not at the version a write expected (rolled back; see _conflict_in)."""


class PersonaStore:
    """Personas by key (the slug of persona_name; any spelling of the name finds it)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        metadata.create_all(engine, tables=list(PERSONA_TABLES))

    # -- the API -------------------------------------------------------------------------------

    def create_persona(self, definition: Definition, source: VersionSource = API) -> StoredPersona:
        """Version 1 of a new name, or the next version of a deleted one (numbering continues).

        Raises PersonaExists if the name is live, PersonaVersionConflict if another writer
        created it at the same moment.
        """
        persona = _validated(definition)
        head = self._head(persona.key)
        if head is not None and not head.deleted:
            raise PersonaExists(persona.key, head.version)
        expected = head.version if head is not None else None
        write = PersonaWrite(persona.key, "create", expected, persona, source, persona.persona_name)
        self._write([write])
        return self.get_persona(persona.key, write.new_version)

    def get_persona(self, name: str, version: int | None = None) -> StoredPersona:
        """The live definition, or a given version of it; PersonaNotFound otherwise."""
        key = _key(name)
        if version is None:
            head = self._head(key)
            if head is None:
                raise PersonaNotFound(key, "no such persona (`fleetctl personas list`)")
            if head.deleted:
                raise PersonaNotFound(
                    key,
                    f"deleted in version {head.version}; its history is kept "
                    f"(`fleetctl personas history {key}`)",
                )
            version = head.version
        row = self._row(key, version)
        if row.definition is None:
            raise PersonaNotFound(key, f"version {version} is its deletion (a tombstone)")
        return _stored(row)

    def update_persona(
        self,
        name: str,
        definition: Definition,
        expected_version: int,
        source: VersionSource = API,
    ) -> StoredPersona:
        """The next version, if `expected_version` is still current (else PersonaVersionConflict).

        An identical definition writes nothing and returns the current version. The definition
        must keep the key: renaming is create-new plus delete-old, so history stays per key.
        """
        key = _key(name)
        persona = _validated(definition)
        if persona.key != key:
            raise InputError(
                f"persona {key!r}: the definition's persona_name {persona.persona_name!r} has key "
                f"{persona.key!r}; to rename, create {persona.key!r} and delete {key!r}"
            )
        current = self.get_persona(key)
        if current.version != expected_version:
            raise PersonaVersionConflict(key, expected_version, current.version)
        if current.content_hash == content_hash(persona):
            return current
        write = PersonaWrite(key, "update", expected_version, persona, source, persona.persona_name)
        self._write([write])
        return self.get_persona(key, write.new_version)

    def delete_persona(
        self, name: str, expected_version: int | None = None, source: VersionSource = API
    ) -> PersonaVersion:
        """Write a tombstone; history is kept and the name can be created again.

        With `expected_version`, refuses (PersonaVersionConflict) if the persona moved on.
        """
        current = self.get_persona(name)
        if expected_version is not None and current.version != expected_version:
            raise PersonaVersionConflict(current.key, expected_version, current.version)
        display = current.persona_name
        write = PersonaWrite(current.key, "delete", current.version, None, source, display)
        self._write([write])
        return self._version(current.key, write.new_version)

    def list_personas(self) -> list[StoredPersona]:
        """Every live persona at its current version, by key."""
        query = (
            select(persona_versions)
            .join(persona_heads, _AT_HEAD)
            .where(persona_heads.c.deleted.is_(False))
            .order_by(persona_versions.c.key)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        times: dict[int, datetime] = {}  # a sync writes many versions at one instant
        return [_stored(row, times) for row in rows]

    def deleted_personas(self) -> list[PersonaVersion]:
        """The tombstone of every persona that is currently deleted, by key."""
        query = (
            select(persona_versions)
            .join(persona_heads, _AT_HEAD)
            .where(persona_heads.c.deleted.is_(True))
            .order_by(persona_versions.c.key)
        )
        with self.engine.connect() as conn:
            return [_version_of(row) for row in conn.execute(query)]

    def persona_history(self, name: str) -> list[PersonaVersion]:
        """Every version of the name, oldest first, tombstones included."""
        key = _key(name)
        query = (
            select(persona_versions)
            .where(persona_versions.c.key == key)
            .order_by(persona_versions.c.version)
        )
        with self.engine.connect() as conn:
            history = [_version_of(row) for row in conn.execute(query)]
        if not history:
            raise PersonaNotFound(key, "no such persona (`fleetctl personas list`)")
        return history

    def diff_versions(self, name: str, from_version: int, to_version: int) -> PersonaDiff:
        """What changed between two versions (either may be a tombstone)."""
        key = _key(name)
        before, after = self._version(key, from_version), self._version(key, to_version)
        changes = diff_personas(before.persona, after.persona)
        return PersonaDiff(key, from_version, to_version, changes)

    # -- sync ----------------------------------------------------------------------------------

    def plan_sync(self, items: Sequence[SyncItem], removal: RemovalSource) -> SyncPlan:
        """What applying `items` (the whole set of file-managed personas) would write.

        Unchanged definitions write nothing. A live persona last written from a file whose key
        is not among `items` gets a tombstone, whose source is `removal(the file's old path)`;
        personas created through the API are left alone until a file defines them.
        """
        wanted = {item.persona.key: item for item in items}
        if len(wanted) != len(items):
            raise InputError("sync: two items define the same persona key")
        heads = self._heads()
        changes: list[PersonaWrite] = []
        unchanged: dict[str, int] = {}
        for key, item in sorted(wanted.items()):
            head = heads.get(key)
            name = item.persona.persona_name
            if head is None or head.deleted:
                expected = head.version if head is not None else None
                changes.append(
                    PersonaWrite(key, "create", expected, item.persona, item.source, name)
                )
            elif head.content_hash != item.content_hash:
                changes.append(
                    PersonaWrite(key, "update", head.version, item.persona, item.source, name)
                )
            else:
                unchanged[key] = head.version
        for key, head in sorted(heads.items()):
            if key not in wanted and not head.deleted and head.source_kind == "file":
                source = removal(head.source_path)
                changes.append(
                    PersonaWrite(key, "delete", head.version, None, source, head.persona_name)
                )
        return SyncPlan(tuple(changes), unchanged)

    def apply_sync(self, plan: SyncPlan) -> SyncPlan:
        """Write every change of `plan` in one transaction, or none of them.

        Each change is checked against the version it was planned from, so a write by anyone
        else in between fails the whole sync with PersonaVersionConflict.
        """
        self._write(plan.changes)
        return plan

    def sync(self, items: Sequence[SyncItem], removal: RemovalSource) -> SyncPlan:
        """plan_sync then apply_sync: the store's file-managed personas become `items`."""
        return self.apply_sync(self.plan_sync(items, removal))

    # -- internals -----------------------------------------------------------------------------

    def _write(self, writes: Sequence[PersonaWrite]) -> None:
        if not writes:
            return
        now = to_epoch(self.clock.now())
        try:
            with self.engine.begin() as conn:
                _advance_heads(conn, writes)
                conn.execute(persona_versions.insert(), [_version_row(w, now) for w in writes])
        except (_StaleHead, exc.IntegrityError):
            # A head moved on, or another writer inserted the same new key first (the heads'
            # primary key). Anything else is not a conflict and goes up unchanged.
            conflict = self._conflict_in(writes)
            if conflict is None:
                raise
            raise conflict from None

    def _conflict_in(self, writes: Sequence[PersonaWrite]) -> PersonaVersionConflict | None:
        """After a rolled-back write: the first persona that is not where the write expected."""
        keys = [w.key for w in writes]
        heads = self._heads(keys if len(keys) <= 500 else None)  # bounded IN lists
        for write in writes:
            head = heads.get(write.key)
            actual = head.version if head is not None else None
            if actual != write.expected_version:
                return PersonaVersionConflict(write.key, write.expected_version, actual)
        return None

    def _head(self, key: str) -> _Head | None:
        return self._heads([key]).get(key)

    def _heads(self, keys: Iterable[str] | None = None) -> dict[str, _Head]:
        query = select(
            persona_heads.c.key,
            persona_heads.c.version,
            persona_heads.c.deleted,
            persona_versions.c.content_hash,
            persona_versions.c.source_kind,
            persona_versions.c.source_path,
            persona_versions.c.persona_name,
        ).join(persona_versions, _AT_HEAD)
        if keys is not None:
            query = query.where(persona_heads.c.key.in_(list(keys)))
        with self.engine.connect() as conn:
            return {
                row.key: _Head(
                    row.key,
                    row.version,
                    bool(row.deleted),
                    row.content_hash,
                    row.source_kind,
                    row.source_path,
                    row.persona_name,
                )
                for row in conn.execute(query)
            }

    def _version(self, key: str, version: int) -> PersonaVersion:
        return _version_of(self._row(key, version))

    def _row(self, key: str, version: int) -> Row[Any]:
        query = select(persona_versions).where(
            persona_versions.c.key == key, persona_versions.c.version == version
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            head = self._head(key)
            latest = f"latest is version {head.version}" if head else "no such persona"
            raise PersonaNotFound(key, f"no version {version} ({latest})")
        return row


def _advance_heads(conn: Connection, writes: Sequence[PersonaWrite]) -> None:
    """Move every head from its expected version to the next, or raise _StaleHead."""
    new = [w for w in writes if w.expected_version is None]
    if new:
        conn.execute(
            persona_heads.insert(),
            [{"key": w.key, "version": 1, "deleted": w.persona is None} for w in new],
        )
    moves = [
        {
            "b_key": w.key,
            "b_expected": w.expected_version,
            "b_next": w.new_version,
            "b_deleted": w.persona is None,
        }
        for w in writes
        if w.expected_version is not None
    ]
    if not moves:
        return
    compare_and_set = (
        update(persona_heads)
        .where(
            persona_heads.c.key == bindparam("b_key"),
            persona_heads.c.version == bindparam("b_expected"),
        )
        .values(version=bindparam("b_next"), deleted=bindparam("b_deleted"))
    )
    # One executemany when the driver reports the total of rows matched (SQLite); otherwise
    # (psycopg2) one statement per head so every miss is seen.
    batches = [moves] if conn.dialect.supports_sane_multi_rowcount else [[m] for m in moves]
    for batch in batches:
        if conn.execute(compare_and_set, batch).rowcount != len(batch):
            raise _StaleHead()


def _version_row(write: PersonaWrite, now: int) -> dict[str, Any]:
    persona = write.persona
    return {
        "key": write.key,
        "version": write.new_version,
        "created_at": now,
        "persona_name": write.persona_name,
        # Stored in the author's order (regions, tags) so `show` reads like the file; the hash
        # is over canonical JSON, so order alone never makes a new version.
        "definition": persona.model_dump_json() if persona is not None else None,
        "content_hash": content_hash(persona) if persona is not None else None,
        "source_kind": write.source.kind,
        "source_path": write.source.path,
        "git_commit": write.source.git_commit,
        "git_dirty": write.source.git_dirty,
    }


def _source_of(row: Row[Any]) -> VersionSource:
    dirty = None if row.git_dirty is None else bool(row.git_dirty)
    kind: SourceKind = "file" if row.source_kind == "file" else "api"
    return VersionSource(kind, row.source_path, row.git_commit, dirty)


def _version_of(row: Row[Any]) -> PersonaVersion:
    persona = None if row.definition is None else Persona.model_validate_json(row.definition)
    return PersonaVersion(
        row.key, row.version, from_epoch(row.created_at), _source_of(row), persona, row.content_hash
    )


def _stored(row: Row[Any], times: dict[int, datetime] | None = None) -> StoredPersona:
    # Unpacked by position (the table's column order; a new column fails here loudly): named
    # access on 10,000 rows was most of list_personas()'s time.
    values: tuple[Any, ...] = tuple(row)
    key, version, created_at, name, definition, digest, kind, path, commit, dirty = values
    when = times.get(created_at) if times is not None else None
    if when is None:
        when = from_epoch(created_at)
        if times is not None:
            times[created_at] = when
    source = VersionSource(
        "file" if kind == "file" else "api", path, commit, None if dirty is None else bool(dirty)
    )
    return StoredPersona(key, version, when, source, name, digest, definition)


def _key(name: str) -> str:
    key = persona_slug(name)
    if not key:
        raise PersonaNotFound(name, "not a persona name (no letters or digits)")
    return key


def _validated(definition: Definition) -> Persona:
    if isinstance(definition, Persona):
        return definition
    try:
        return Persona.model_validate(definition)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: "
            f"{e['msg'].removeprefix('Value error, ')} (got {e.get('input')!r})"
            for e in error.errors(include_url=False)
        ]
        raise InputError("invalid persona definition:\n  " + "\n  ".join(problems)) from None
