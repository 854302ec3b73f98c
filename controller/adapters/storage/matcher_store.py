"""What the persona matcher learned, per persona name and version, in SQL.

Rows are `controller.matching.model.learned_rows` as JSON. Learning is additive: each ingest
batch adds what the sessions it completed teach, inside the batch's transaction
(`add_learning`), read-modify-write under the row lock, so concurrent ingesters sharing a store
lose nothing. `adopt` copies what was learned into the parameters in force (after a finished
ingest run); a new persona version has no row yet and starts from its declared parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from controller.adapters.storage.db import persona_learning
from controller.matching.model import LearnedRow, add_learned_rows

Key = tuple[str, int]


def add_learning(conn: Connection, learned: Mapping[Key, LearnedRow], now: int) -> None:
    """Add `learned` to the stored statistics (inside the caller's transaction).

    The row is read under a row lock (PostgreSQL; SQLite's batch transaction already holds the
    database's write lock) and written back with the delta added. Two ingesters racing to create
    the same row: the loser's insert fails inside a savepoint and it adds to the winner's row."""
    table = persona_learning.c
    postgres = conn.dialect.name == "postgresql"
    for persona, version in sorted(learned):
        delta = learned[(persona, version)]
        query = select(table.statistics).where(table.persona == persona, table.version == version)
        if postgres:
            query = query.with_for_update()
        found = conn.execute(query).scalar_one_or_none()
        if found is None:
            row = {"persona": persona, "version": version, "updated_at": now}
            if not postgres:
                conn.execute(insert(persona_learning).values(**row, statistics=json.dumps(delta)))
                continue
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(persona_learning).values(**row, statistics=json.dumps(delta))
                    )
                continue
            except IntegrityError:
                found = conn.execute(query).scalar_one()
        total = add_learned_rows(_row(found), delta)
        conn.execute(
            update(persona_learning)
            .where(table.persona == persona, table.version == version)
            .values(statistics=json.dumps(total), updated_at=now)
        )


class MatcherStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def learned(self) -> dict[Key, LearnedRow]:
        """Everything learned so far, per persona version."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    persona_learning.c.persona,
                    persona_learning.c.version,
                    persona_learning.c.statistics,
                )
            )
            return {(str(p), int(v)): _row(s) for p, v, s in rows}

    def adopted(self) -> dict[Key, LearnedRow]:
        """The learned parameters in force (as of the last finished ingest run)."""
        t = persona_learning.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.persona, t.version, t.adopted).where(t.adopted.is_not(None))
            )
            return {(str(p), int(v)): _row(s) for p, v, s in rows}

    def adopt(self) -> int:
        """Put everything learned so far in force; returns the persona versions updated."""
        t = persona_learning.c
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(persona_learning)
                .where((t.adopted.is_(None)) | (t.adopted != t.statistics))
                .values(adopted=t.statistics)
            )
            return int(moved.rowcount)

    def add(self, learned: Mapping[Key, LearnedRow], now: int) -> None:
        with self.engine.begin() as conn:
            add_learning(conn, learned, now)


def _row(text: str) -> LearnedRow:
    data: dict[str, list[Any]] = json.loads(text)
    return data
