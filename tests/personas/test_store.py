"""The versioned store through its Python API, on SQLite and (when available) PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.adapters.storage.persona_store import PersonaStore
from controller.domain.clock import FixedClock
from controller.domain.errors import InputError
from controller.domain.persona import content_hash
from controller.domain.persona_version import (
    API,
    FieldChange,
    PersonaExists,
    PersonaNotFound,
    PersonaVersionConflict,
)
from tests.personas.conftest import T0
from tests.personas.factories import persona, persona_data


def test_create_writes_version_one_with_its_time_source_and_content_hash(
    store: PersonaStore,
) -> None:
    shopper = persona()

    created = store.create_persona(shopper)

    assert (created.key, created.version) == ("peak-hour-shopper", 1)
    assert created.created_at == T0
    assert created.source == API
    assert created.content_hash == content_hash(shopper)
    assert created.persona == shopper


def test_any_spelling_of_the_name_finds_the_persona(store: PersonaStore) -> None:
    store.create_persona(persona("Peak Hour Shopper"))

    assert store.get_persona("peak hour shopper").key == "peak-hour-shopper"
    assert store.get_persona("PEAK-HOUR-SHOPPER").version == 1


def test_a_definition_given_as_a_mapping_is_validated_with_every_problem(
    store: PersonaStore,
) -> None:
    data = persona_data(fleets=[])
    data["resource_profile"]["cpu_demand"] = 3

    with pytest.raises(InputError) as caught:
        store.create_persona(data)

    assert str(caught.value) == (
        "invalid persona definition:\n"
        "  resource_profile.cpu_demand: Input should be less than or equal to 1 (got 3)\n"
        "  fleets: List should have at least 1 item after validation, not 0 (got [])"
    )
    assert store.list_personas() == []


def test_update_writes_the_next_version_and_leaves_the_old_one_as_it_was(
    store: PersonaStore, version_clock: FixedClock
) -> None:
    original = store.create_persona(persona(tags=("retail",)))
    version_clock.advance(timedelta(minutes=5))

    updated = store.update_persona("peak-hour-shopper", persona(tags=("sale",)), expected_version=1)

    assert updated.version == 2
    assert updated.created_at == T0 + timedelta(minutes=5)
    assert store.get_persona("peak-hour-shopper").persona.associated_tags == ["sale"]
    assert store.get_persona("peak-hour-shopper", version=1) == original


def test_update_with_an_identical_definition_writes_nothing(store: PersonaStore) -> None:
    store.create_persona(persona())

    again = store.update_persona("peak-hour-shopper", persona(), expected_version=1)

    assert again.version == 1
    assert len(store.persona_history("peak-hour-shopper")) == 1


def test_update_from_a_stale_version_is_refused_and_writes_nothing(store: PersonaStore) -> None:
    store.create_persona(persona(tags=("a",)))
    store.update_persona("peak-hour-shopper", persona(tags=("b",)), expected_version=1)

    with pytest.raises(PersonaVersionConflict) as caught:
        store.update_persona("peak-hour-shopper", persona(tags=("c",)), expected_version=1)

    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert str(caught.value).startswith(
        "persona 'peak-hour-shopper' is at version 2, but the write expected it to be at "
        "version 1: someone else changed it since it was read. Nothing was written"
    )
    assert store.get_persona("peak-hour-shopper").persona.associated_tags == ["b"]
    assert len(store.persona_history("peak-hour-shopper")) == 2


def test_update_cannot_rename_a_persona(store: PersonaStore) -> None:
    store.create_persona(persona("Peak Hour Shopper"))

    with pytest.raises(InputError, match="to rename, create 'night-owl' and delete"):
        store.update_persona("peak-hour-shopper", persona("Night Owl"), expected_version=1)


def test_creating_a_live_name_again_is_refused(store: PersonaStore) -> None:
    store.create_persona(persona())

    with pytest.raises(PersonaExists, match=r"already exists \(version 1\)"):
        store.create_persona(persona(tags=("other",)))


def test_delete_writes_a_tombstone_hides_the_persona_and_keeps_its_history(
    store: PersonaStore,
) -> None:
    store.create_persona(persona())

    tombstone = store.delete_persona("peak-hour-shopper")

    assert (tombstone.version, tombstone.deleted, tombstone.content_hash) == (2, True, None)
    assert store.list_personas() == []
    assert [v.key for v in store.deleted_personas()] == ["peak-hour-shopper"]
    with pytest.raises(PersonaNotFound, match="deleted in version 2; its history is kept"):
        store.get_persona("peak-hour-shopper")
    with pytest.raises(PersonaNotFound, match=r"version 2 is its deletion \(a tombstone\)"):
        store.get_persona("peak-hour-shopper", version=2)
    assert store.get_persona("peak-hour-shopper", version=1).persona == persona()


def test_delete_from_a_stale_version_is_refused(store: PersonaStore) -> None:
    store.create_persona(persona(tags=("a",)))
    store.update_persona("peak-hour-shopper", persona(tags=("b",)), expected_version=1)

    with pytest.raises(PersonaVersionConflict):
        store.delete_persona("peak-hour-shopper", expected_version=1)

    assert store.get_persona("peak-hour-shopper").version == 2


def test_history_runs_across_create_update_delete_and_re_create(
    store: PersonaStore, version_clock: FixedClock
) -> None:
    store.create_persona(persona(tags=("v1",)))
    version_clock.advance(timedelta(hours=1))
    store.update_persona("peak-hour-shopper", persona(tags=("v2",)), expected_version=1)
    version_clock.advance(timedelta(hours=1))
    store.delete_persona("peak-hour-shopper", expected_version=2)
    version_clock.advance(timedelta(hours=1))

    recreated = store.create_persona(persona(tags=("v4",)))

    assert recreated.version == 4
    history = store.persona_history("peak-hour-shopper")
    assert [(v.version, v.deleted) for v in history] == [
        (1, False),
        (2, False),
        (3, True),
        (4, False),
    ]
    assert [v.created_at - T0 for v in history] == [timedelta(hours=h) for h in range(4)]
    assert [v.persona.associated_tags if v.persona else None for v in history] == [
        ["v1"],
        ["v2"],
        None,
        ["v4"],
    ]


def test_unknown_names_and_versions_say_what_is_missing(store: PersonaStore) -> None:
    store.create_persona(persona())

    with pytest.raises(PersonaNotFound, match="'night-owl': no such persona"):
        store.get_persona("Night Owl")
    with pytest.raises(PersonaNotFound, match=r"no version 7 \(latest is version 1\)"):
        store.get_persona("peak-hour-shopper", version=7)
    with pytest.raises(PersonaNotFound, match="no such persona"):
        store.persona_history("night-owl")
    with pytest.raises(PersonaNotFound, match="no such persona"):
        store.delete_persona("night-owl")


def test_list_shows_each_live_persona_at_its_current_version(store: PersonaStore) -> None:
    store.create_persona(persona("Zebra"))
    store.create_persona(persona("Aardvark"))
    store.update_persona("zebra", persona("Zebra", tags=("new",)), expected_version=1)
    store.create_persona(persona("Gone"))
    store.delete_persona("gone")

    listed = store.list_personas()

    assert [(p.key, p.version) for p in listed] == [("aardvark", 1), ("zebra", 2)]
    assert listed[1].persona.associated_tags == ["new"]


def test_diff_names_each_changed_added_and_removed_field(store: PersonaStore) -> None:
    store.create_persona(persona())
    changed = persona_data()
    changed["resource_profile"]["cpu_demand"] = 0.08
    changed["traffic_pattern"]["geographic_distribution"] = {"us-east-1": 0.5, "ap-south-1": 0.5}
    changed["traffic_pattern"]["peak_times"][0]["end"] = "15:00"
    store.update_persona("peak-hour-shopper", changed, expected_version=1)

    diff = store.diff_versions("peak-hour-shopper", 1, 2)

    assert diff.changes == (
        FieldChange("resource_profile.cpu_demand", "changed", 0.05, 0.08),
        FieldChange("traffic_pattern.peak_times.0.end", "changed", "14:00:00", "15:00:00"),
        FieldChange("traffic_pattern.geographic_distribution.us-east-1", "changed", 0.7, 0.5),
        FieldChange("traffic_pattern.geographic_distribution.eu-west-1", "removed", before=0.3),
        FieldChange("traffic_pattern.geographic_distribution.ap-south-1", "added", after=0.5),
    )
    assert [c.describe() for c in diff.changes][:1] == [
        "~ resource_profile.cpu_demand: 0.05 -> 0.08"
    ]


def test_diff_to_a_tombstone_removes_every_field(store: PersonaStore) -> None:
    store.create_persona(persona())
    store.delete_persona("peak-hour-shopper")

    diff = store.diff_versions("peak-hour-shopper", 1, 2)

    assert diff.changes and all(c.kind == "removed" for c in diff.changes)
    assert store.diff_versions("peak-hour-shopper", 1, 1).changes == ()
