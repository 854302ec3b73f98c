"""The persona matcher in force: persona versions, config thresholds and learned parameters.

Personas come from the store (the versions in force) when it has any, else from the directory
as version 1 (what a first sync writes). Learned parameters are read per persona version, so a
new version starts from its declared parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from controller.adapters.persona_files import load_persona_directory
from controller.adapters.storage.matcher_store import Key, MatcherStore
from controller.adapters.storage.metric_store import MetricStore
from controller.adapters.storage.persona_store import PersonaStore
from controller.config import AnomaliesConfig, ControllerConfig
from controller.domain.persona import Persona
from controller.matching.activity import LastDay, last_day, last_day_window
from controller.matching.model import (
    LearnedRow,
    MatcherSettings,
    PersonaMatcher,
    with_learned_rows,
)


@dataclass(frozen=True)
class PersonaVersions:
    personas: tuple[Persona, ...]
    versions: tuple[int, ...]


def matcher_settings(anomalies: AnomaliesConfig, event_seconds: float = 1.0) -> MatcherSettings:
    return MatcherSettings(
        event_seconds=event_seconds,
        min_probability=anomalies.min_probability,
        max_outlier_z=anomalies.max_outlier_z,
        resource_z=anomalies.resource_z,
    )


def personas_in_force(config: ControllerConfig, store: PersonaStore | None) -> PersonaVersions:
    """The store's versions in force; the directory's as version 1 when it has none (or there
    is no store yet)."""
    stored = store.list_personas() if store is not None else []
    if stored:
        return PersonaVersions(tuple(s.persona for s in stored), tuple(s.version for s in stored))
    files = load_persona_directory(
        config.personas_dir,
        known_fleets={f.name for f in config.fleets},
        max_file_bytes=config.personas.max_file_bytes,
    )
    return PersonaVersions(tuple(f.persona for f in files), tuple(1 for _ in files))


def build_matcher(
    personas: Sequence[Persona],
    versions: Sequence[int],
    anomalies: AnomaliesConfig,
    learned: dict[Key, LearnedRow] | None = None,
    event_seconds: float = 1.0,
) -> PersonaMatcher:
    settings = matcher_settings(anomalies, event_seconds)
    matcher = PersonaMatcher.from_personas(personas, settings, versions)
    return with_learned_rows(matcher, learned) if learned and personas else matcher


def matcher_in_force(
    config: ControllerConfig, store: MatcherStore, personas: PersonaVersions
) -> PersonaMatcher:
    """Declared parameters plus what was adopted from learning (see MatcherStore)."""
    return build_matcher(
        personas.personas,
        personas.versions,
        config.anomalies,
        store.adopted(),
        config.events.event_seconds,
    )


def matcher_learned(
    config: ControllerConfig, store: MatcherStore, personas: PersonaVersions
) -> PersonaMatcher:
    """Declared parameters plus everything learned so far (adopted or not)."""
    return build_matcher(
        personas.personas,
        personas.versions,
        config.anomalies,
        store.learned(),
        config.events.event_seconds,
    )


def last_day_activity(store: MetricStore, keys: Iterable[str], bucket: timedelta) -> LastDay | None:
    """What each persona in `keys` matched over the last day of stored metrics (None while the
    store holds less than a day): `personas drift` and the state document report the silent."""
    stored = store.bucket_range()
    window = last_day_window(*stored, bucket) if stored else None
    if window is None:
        return None
    return last_day(window, keys, store.events_by_persona(*window))
