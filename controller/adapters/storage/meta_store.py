"""Small named values the controller keeps between runs (e.g. the replay clock's position)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from controller.adapters.storage.db import controller_meta, upsert


class MetaStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(controller_meta.c.value).where(controller_meta.c.key == key)
            ).scalar_one_or_none()
        return None if value is None else str(value)

    def put(self, key: str, value: str) -> None:
        insert = upsert(self.engine, controller_meta)
        with self.engine.begin() as conn:
            conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["key"], set_={"value": insert.excluded.value}
                ),
                {"key": key, "value": value},
            )
