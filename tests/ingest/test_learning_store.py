"""What the matcher learned, in SQL: additive per persona version, adopted on demand (SQLite and
PostgreSQL when one is configured)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.adapters.storage.db import connect
from controller.adapters.storage.matcher_store import MatcherStore
from controller.matching.model import LearnedRow

HOURS = 168


def row(sessions: float, types: dict[str, float], regions: dict[str, float]) -> LearnedRow:
    return {
        "sessions": [sessions],
        "type_names": list(types),
        "type_counts": [*types.values(), 0.0],
        "hours": [sessions / HOURS] * HOURS,
        "region_names": list(regions),
        "regions": [*regions.values(), 0.0],
        "log_sum": [1.0, 2.0, 3.0, 4.0],
        "log_sq_sum": [1.0, 4.0, 9.0, 16.0],
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> MatcherStore:
    url = (
        f"sqlite:///{tmp_path / 'fleet.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = connect(url)
    request.addfinalizer(engine.dispose)
    return MatcherStore(engine)


def test_batches_add_up_per_persona_version_by_type_and_region_name(store: MatcherStore) -> None:
    store.add({("shopper", 1): row(2, {"browse": 4}, {"eu-west-1": 2})}, now=1)
    store.add(
        {
            ("shopper", 1): row(3, {"browse": 1, "search": 5}, {"us-east-1": 3}),
            ("shopper", 2): row(7, {"browse": 7}, {"eu-west-1": 7}),
        },
        now=2,
    )
    learned = store.learned()

    first = learned[("shopper", 1)]
    assert first["sessions"] == [5.0]
    assert dict(zip(first["type_names"], first["type_counts"], strict=False)) == {
        "browse": 5.0,
        "search": 5.0,
    }
    assert dict(zip(first["region_names"], first["regions"], strict=False)) == {
        "eu-west-1": 2.0,
        "us-east-1": 3.0,
    }
    assert first["log_sum"] == [2.0, 4.0, 6.0, 8.0]
    assert learned[("shopper", 2)]["sessions"] == [7.0], "versions are kept apart"


def test_what_was_learned_is_in_force_only_once_adopted(store: MatcherStore) -> None:
    store.add({("shopper", 1): row(2, {"browse": 4}, {"eu-west-1": 2})}, now=1)
    assert store.adopted() == {}
    assert store.adopt() == 1
    assert store.adopted() == store.learned()

    store.add({("shopper", 1): row(1, {"browse": 1}, {"eu-west-1": 1})}, now=2)
    assert store.adopted()[("shopper", 1)]["sessions"] == [2.0]
    assert store.adopt() == 1
    assert store.adopted()[("shopper", 1)]["sessions"] == [3.0]
