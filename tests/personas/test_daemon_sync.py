"""The daemon's personas step syncs personas_dir into the store and uses the versions in force."""

from __future__ import annotations

import pytest

from controller.adapters.persona_files import PersonaDirectoryError
from controller.workflow import steps
from controller.workflow.cycle import run_cycle
from controller.workflow.wiring import Controller
from tests.personas.factories import persona_data, write_persona


def test_the_personas_step_syncs_the_directory_and_reports_store_versions(
    controller: Controller,
) -> None:
    config, store = controller.config, controller.persona_store

    first = steps.load_personas(config, store)
    write_persona(
        config.personas_dir, "api-consumer.yaml", persona_data("API Consumer", fleets=["api"])
    )
    second = steps.load_personas(config, store)

    assert first.versions == {"api-consumer": 1, "content-publisher": 1, "peak-hour-shopper": 1}
    assert second.versions == {"api-consumer": 2, "content-publisher": 1, "peak-hour-shopper": 1}
    assert store.get_persona("api-consumer").source.path == str(
        config.personas_dir.resolve() / "api-consumer.yaml"
    )
    assert second.served_by["api"] == ("api-consumer",)


def test_an_invalid_persona_file_fails_the_step_and_the_store_keeps_its_versions(
    controller: Controller,
) -> None:
    config, store = controller.config, controller.persona_store
    steps.load_personas(config, store)
    write_persona(
        config.personas_dir, "api-consumer.yaml", persona_data("API Consumer", fleets=["api"])
    )
    (config.personas_dir / "broken.yaml").write_text("persona_name: [\n")

    with pytest.raises(PersonaDirectoryError):
        steps.load_personas(config, store)

    assert [(p.key, p.version) for p in store.list_personas()] == [
        ("api-consumer", 1),
        ("content-publisher", 1),
        ("peak-hour-shopper", 1),
    ]


@pytest.mark.terraform
def test_the_state_document_names_the_store_version_of_each_persona(
    controller: Controller,
) -> None:
    outcome = run_cycle(controller)

    assert {p.key: p.version for p in outcome.state.personas} == {
        "api-consumer": 1,
        "content-publisher": 1,
        "peak-hour-shopper": 1,
    }
    assert controller.persona_store.get_persona("api-consumer").created_at == controller.clock.now()
