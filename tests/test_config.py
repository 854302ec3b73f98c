"""controller.yaml: defaults, environment overrides, and errors that name the key and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.config import load_config, parse_duration
from controller.domain.errors import ConfigError, InputError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "controller.yaml"
    path.write_text(text)
    return path


def test_the_repository_config_loads_and_resolves_paths_against_its_directory() -> None:
    root = Path(__file__).resolve().parent.parent
    config = load_config(root / "controller.yaml")
    assert config.personas_dir == root / "personas"
    assert config.events.source == f"file://{root / 'controller/examples/nasa-replay.ndjson.gz'}"
    assert config.clock.mode == "replay"
    assert {f.name for f in config.fleets} == {"web", "api"}


def test_an_unknown_key_is_an_error_naming_the_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "apply_mode: auto\nschedule:\n  intervall: 5s\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert f"{path}:3: schedule.intervall: Extra inputs are not permitted (got '5s')" in str(
        error.value
    )


def test_a_bad_value_names_the_field_the_value_and_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "fleets:\n  - name: web\n    target_utilization: 0.5\n    min_instances: 5\n"
        "    max_instances: 3\n  - name: api\n    target_utilization: -1\n",
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert f"{path}:2: fleets.0: max_instances (3) is below min_instances (5)" in message
    assert (
        f"{path}:7: fleets.1.target_utilization: Input should be greater than 0 (got -1)" in message
    )


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = write(tmp_path, "apply_mode: sometimes\nschedule:\n  interval: soon\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "apply_mode" in str(error.value) and "schedule.interval" in str(error.value)
    assert "not a duration: 'soon'" in str(error.value)


def test_environment_variables_override_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "apply_mode: auto\nterraform:\n  runner: embedded\n")
    monkeypatch.setenv("FLEET_APPLY_MODE", "review")
    monkeypatch.setenv("FLEET_SCHEDULE__INTERVAL", "5m")
    config = load_config(path)
    assert config.apply_mode == "review"
    assert config.schedule.interval == timedelta(minutes=5)
    assert config.terraform.runner == "embedded"


def test_a_bad_environment_value_names_the_variable_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_APPLY_MODE", "yolo")
    with pytest.raises(ConfigError) as error:
        load_config(None)
    assert "FLEET_APPLY_MODE: apply_mode: Input should be" in str(error.value)
    assert "(got 'yolo')" in str(error.value)


def test_invalid_yaml_and_missing_files_are_input_errors_with_a_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_config(tmp_path / "absent.yaml")
    path = write(tmp_path, "fleets:\n  - name: web\n   bad: indent\n")
    with pytest.raises(InputError, match=rf"{path}:3: invalid YAML"):
        load_config(path)
    path = write(tmp_path, "apply_mode: auto\napply_mode: review\n")
    with pytest.raises(InputError, match=r":2: duplicate key 'apply_mode' \(first on line 1\)"):
        load_config(path)


def test_fleet_names_must_be_unique(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "fleets:\n  - {name: web, min_instances: 1}\n  - {name: web, min_instances: 2}\n",
    )
    with pytest.raises(ConfigError, match="repeated: web"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1.5h", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        (90, timedelta(seconds=90)),
    ],
)
def test_durations_accept_units_and_plain_seconds(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5 parsecs", "m5", True])
def test_durations_reject_what_they_cannot_read(text: object) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_a_removed_fleet_key_is_an_error_naming_the_key_the_line_and_what_replaced_it(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "fleets:\n  - name: web\n    capacity_per_instance: 0.2\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert f"{path}:3: fleets.0.capacity_per_instance: no longer used:" in message
    assert "instance type catalog" in message and "(got 0.2)" in message


def test_fleets_sharing_a_load_balancer_must_share_a_region(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "fleets:\n  - {name: web, load_balancer: edge}\n"
        "  - {name: eu, region: eu-west-1, load_balancer: edge}\n",
    )
    with pytest.raises(ConfigError, match=r"load balancer .edge. .* eu-west-1 and us-east-1"):
        load_config(path)
