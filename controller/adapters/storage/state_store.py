"""FleetStateDocuments, every version kept; the newest also mirrored to a JSON file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from controller.adapters.files import write_atomically
from controller.adapters.storage.db import state_documents, to_epoch
from controller.domain.state import FleetStateDocument


class StateStore:
    def __init__(self, engine: Engine, mirror: Path | None = None) -> None:
        self.engine = engine
        self.mirror = mirror

    def save(self, document: FleetStateDocument) -> FleetStateDocument:
        """Store as the next version; returns the document with its version set."""
        with self.engine.begin() as conn:
            latest = conn.execute(select(func.max(state_documents.c.version))).scalar_one()
            stored = document.model_copy(update={"version": int(latest or 0) + 1})
            conn.execute(
                state_documents.insert().values(
                    version=stored.version,
                    created_at=to_epoch(stored.generated_at),
                    document=stored.model_dump_json(),
                )
            )
        if self.mirror is not None:
            write_atomically(self.mirror, stored.model_dump_json(indent=2) + "\n")
        return stored

    def latest_version(self) -> int | None:
        with self.engine.connect() as conn:
            latest = conn.execute(select(func.max(state_documents.c.version))).scalar_one()
        return None if latest is None else int(latest)

    def get(self, version: int | None = None) -> FleetStateDocument | None:
        query = select(state_documents.c.document)
        if version is None:
            query = query.order_by(state_documents.c.version.desc()).limit(1)
        else:
            query = query.where(state_documents.c.version == version)
        with self.engine.connect() as conn:
            text = conn.execute(query).scalar_one_or_none()
        return None if text is None else FleetStateDocument.model_validate_json(text)
