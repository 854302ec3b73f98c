"""`fleetctl classify`: the sessions of an event file and the persona each matches.

The same rules as ingestion (controller.ingest.sessions): a session is keyed by session_id,
else user_id, and a silence longer than events.session_gap starts a new one; the same matcher
as ingestion (personas in force from the store, learned parameters adopted). The file is taken
in time order, as a whole, so no event is too late.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from controller.adapters.session_csv import SessionRow, iso_ms, read_event_file
from controller.adapters.storage.db import connect, store_exists
from controller.adapters.storage.matcher_store import MatcherStore
from controller.adapters.storage.persona_store import PersonaStore
from controller.config import ControllerConfig
from controller.domain.clock import SystemClock
from controller.ingest.matching import SessionClassifier
from controller.ingest.sessions import SessionState, TypeBits, sessionize
from controller.matching.model import PersonaMatcher
from controller.workflow.persona_matching import (
    build_matcher,
    matcher_in_force,
    personas_in_force,
)


def load_matcher(config: ControllerConfig) -> PersonaMatcher:
    """The store's matcher in force; with no store yet, the persona directory's declared
    profiles (classifying a file only reads: it never creates a store)."""
    if not store_exists(config.sqlalchemy_url):
        directory = personas_in_force(config, None)
        return build_matcher(
            directory.personas,
            directory.versions,
            config.anomalies,
            event_seconds=config.events.event_seconds,
        )
    engine = connect(config.sqlalchemy_url)
    try:
        personas = personas_in_force(config, PersonaStore(engine, SystemClock()))
        return matcher_in_force(config, MatcherStore(engine), personas)
    finally:
        engine.dispose()


def classify_file(config: ControllerConfig, path: Path) -> list[SessionRow]:
    """One row per session, by start time."""
    read = read_event_file(path, config.events.max_event_bytes)
    events = read.events
    if len(events) == 0:
        return []
    events = events.take(np.argsort(events.ts_ms, kind="stable"))
    classifier = SessionClassifier(load_matcher(config), TypeBits(), config.anomalies.resource_z)
    bits = classifier.bits.bits(events.types)[events.type_codes]
    gap_ms = int(config.events.session_gap.total_seconds() * 1000)
    bucket_ms = int(config.events.bucket.total_seconds() * 1000)
    found = sessionize(
        events.ts_ms,
        events.key_codes,
        events.keys,
        bits,
        SessionState.empty(),
        gap_ms,
        bucket_ms,
        events.resources,
        events.region_codes,
        events.regions,
    )
    sessions = found.sessions
    matches = classifier.classify(sessions)
    rows = []
    for i, key in enumerate(found.session_keys.tolist()):
        start = int(sessions.start_ms[i])
        code = int(matches.codes[i])
        if key.startswith("s:"):
            session_id, user = key[2:], read.users.get(key, "")
        else:
            session_id, user = f"{key[2:]}@{iso_ms(start)}", key[2:]
        rows.append(
            SessionRow(
                session_id=session_id,
                user_id=user,
                start_ms=start,
                end_ms=int(found.session_end_ms[i]),
                events=int(sessions.events[i]),
                persona=classifier.personas[code] if code > 0 else "",
                probability=float(matches.probability[i]),
            )
        )
    return sorted(rows, key=lambda r: (r.start_ms, r.session_id))
