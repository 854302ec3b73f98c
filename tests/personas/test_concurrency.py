"""Writers racing on the same persona: exactly one wins, nobody silently overwrites anybody.

Each writer has its own engine (its own connections), as separate processes would, and all are
released together by a barrier so their writes really overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from controller.adapters.storage.db import connect
from controller.adapters.storage.persona_store import PersonaStore
from controller.domain.clock import FixedClock
from controller.domain.persona_version import PersonaExists, PersonaVersionConflict
from tests.personas.factories import persona

T = TypeVar("T")


def _race(
    database_url: str, clock: FixedClock, writers: list[Callable[[PersonaStore], T]]
) -> list[T | Exception]:
    """Run every writer at once, each on its own engine; their results or errors, in order."""
    barrier = threading.Barrier(len(writers))

    def run(writer: Callable[[PersonaStore], T]) -> T | Exception:
        engine = connect(database_url)
        try:
            store = PersonaStore(engine, clock)
            barrier.wait()
            return writer(store)
        except (PersonaVersionConflict, PersonaExists) as refused:
            return refused
        finally:
            engine.dispose()

    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        return list(pool.map(run, writers))


def test_two_writers_updating_the_same_version_exactly_one_wins(
    store: PersonaStore, database_url: str, version_clock: FixedClock
) -> None:
    store.create_persona(persona(tags=("original",)))

    def writer(tag: str) -> Callable[[PersonaStore], int]:
        return lambda s: s.update_persona("peak-hour-shopper", persona(tags=(tag,)), 1).version

    results = _race(database_url, version_clock, [writer("alice"), writer("bob")])

    winners = [r for r in results if isinstance(r, int)]
    losers = [r for r in results if isinstance(r, PersonaVersionConflict)]
    assert winners == [2] and len(losers) == 1
    assert (losers[0].expected, losers[0].actual) == (1, 2)
    history = store.persona_history("peak-hour-shopper")
    assert [v.version for v in history] == [1, 2]
    winner_tag = "alice" if isinstance(results[0], int) else "bob"
    assert history[1].persona is not None and history[1].persona.associated_tags == [winner_tag]


def test_two_writers_creating_the_same_name_exactly_one_wins(
    store: PersonaStore, database_url: str, version_clock: FixedClock
) -> None:
    def writer(tag: str) -> Callable[[PersonaStore], int]:
        return lambda s: s.create_persona(persona(tags=(tag,))).version

    results = _race(database_url, version_clock, [writer("alice"), writer("bob")])

    # The loser either saw the winner's row (PersonaExists) or collided with it mid-write.
    winners = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, PersonaExists | PersonaVersionConflict)]
    assert winners == [1] and len(refused) == 1
    assert len(store.persona_history("peak-hour-shopper")) == 1


def test_writers_that_re_read_after_a_conflict_lose_no_update(
    store: PersonaStore, database_url: str, version_clock: FixedClock
) -> None:
    store.create_persona(persona(tags=()))

    def append(tag: str) -> Callable[[PersonaStore], int]:
        def write(s: PersonaStore) -> int:
            while True:  # the documented client loop: re-read, re-apply, write
                current = s.get_persona("peak-hour-shopper")
                tags = (*current.persona.associated_tags, tag)
                try:
                    return s.update_persona(
                        "peak-hour-shopper", persona(tags=tags), current.version
                    ).version
                except PersonaVersionConflict:
                    continue

        return write

    tags = [f"writer-{i}" for i in range(6)]
    results = _race(database_url, version_clock, [append(tag) for tag in tags])

    assert sorted(results) == [2, 3, 4, 5, 6, 7]  # type: ignore[type-var]
    final = store.get_persona("peak-hour-shopper")
    assert final.version == 7
    assert sorted(final.persona.associated_tags) == tags
