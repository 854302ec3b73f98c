"""Config for drift, AWS and monitoring: defaults, and bad values named with key and value."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.config import load_config
from controller.domain.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "controller.yaml"
    path.write_text(text)
    return path


def test_defaults_check_terraform_on_its_own_schedule_and_leave_aws_off(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "apply_mode: auto\n"))
    assert config.drift.terraform.enabled and config.drift.terraform.interval == timedelta(
        minutes=15
    )
    assert not config.drift.aws.enabled and config.drift.aws.interval == timedelta(minutes=5)
    assert config.monitor.enabled and config.monitor.window == timedelta(minutes=15)
    assert not config.monitor.cloudwatch and config.monitor.health_check is None
    assert config.aws.endpoint_url is None and config.aws.name_prefix == "fleet"
    assert {f.drift_policy for f in config.fleets} == {"report"}


def test_the_repository_config_names_the_new_sections() -> None:
    root = Path(__file__).resolve().parent.parent
    config = load_config(root / "controller.yaml")
    assert config.drift.terraform.enabled
    assert config.monitor.enabled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "aws:\n  access_key_id: AKIA123\n",
            "2: aws.access_key_id: Extra inputs are not permitted (got a value, not shown)",
        ),
        (
            "aws:\n  endpoint_url: localhost:5000\n",
            "aws.endpoint_url: not an endpoint URL: 'localhost:5000'",
        ),
        (
            "aws:\n  endpoint_url: http://user:secret@host:5000\n",
            "aws.endpoint_url: not an endpoint URL: 'http://user:***@host:5000'",
        ),
        ("monitor:\n  period: 90s\n", "monitor.period: CloudWatch periods are 1, 5, 10, 30"),
        ("monitor:\n  tolerance: 1.5\n", "monitor.tolerance: Input should be less than 1"),
        (
            "monitor:\n  health_check:\n    target: ftp://{{ outputs.x }}\n",
            "monitor.health_check.target: health check target must start with http://",
        ),
        (
            "monitor:\n  health_check:\n    target: 'http://{{ outputs.x '\n",
            "monitor.health_check.target: health check target is not a valid template",
        ),
        (
            "drift:\n  aws:\n    interval: sometimes\n",
            "drift.aws.interval: not a duration: 'sometimes'",
        ),
        (
            "fleets:\n  - name: web\n    drift_policy: fix-it\n",
            "fleets.0.drift_policy: Input should be 'report' or 'reconcile' (got 'fix-it')",
        ),
    ],
)
def test_a_bad_value_is_an_error_naming_the_key_and_the_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)
    assert "secret" not in str(error.value) and "AKIA123" not in str(error.value)
