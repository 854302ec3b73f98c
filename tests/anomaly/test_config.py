"""The `anomalies:` section: defaults, policies, and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.config import load_config
from controller.domain.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "controller.yaml"
    path.write_text(text)
    return path


def test_policies_and_channels_are_read(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            "anomalies:\n"
            "  sustained: 10m\n"
            "  webhook_url: http://127.0.0.1:8080/hook\n"
            "  sns_topic_arn: arn:aws:sns:us-east-1:123456789012:fleet-alerts\n"
            "  policies:\n"
            "    demand_outside_forecast: {actions: [alert, scale_out], factor: 2}\n",
        )
    )
    section = config.anomalies
    assert section.sustained == timedelta(minutes=10)
    policy = section.policies["demand_outside_forecast"]
    assert policy.actions == ["alert", "scale_out"] and policy.factor == 2.0


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("anomalies:\n  min_probability: 1.5\n", "anomalies.min_probability"),
        ("anomalies:\n  sustained: soon\n", "anomalies.sustained"),
        ("anomalies:\n  webhook_url: ftp://x\n", "anomalies.webhook_url"),
        ("anomalies:\n  sns_topic_arn: fleet-alerts\n", "anomalies.sns_topic_arn"),
        ("anomalies:\n  local_timezone: Mars/Olympus\n", "anomalies.local_timezone"),
        ("anomalies:\n  policies:\n    meteor_strike: {}\n", "anomalies.policies.meteor_strike"),
        (
            "anomalies:\n  policies:\n    unmatched_spike: {actions: [panic]}\n",
            "anomalies.policies.unmatched_spike.actions",
        ),
    ],
)
def test_bad_values_are_errors_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(_write(tmp_path, text))


def test_an_unknown_time_zone_is_named_with_its_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'Mars/Olympus'.*America/New_York"):
        load_config(_write(tmp_path, "anomalies:\n  local_timezone: Mars/Olympus\n"))
