"""Persona definitions for tests: one good definition, changed one field at a time."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from controller.domain.persona import Persona

BASE: dict[str, Any] = {
    "persona_name": "Peak Hour Shopper",
    "resource_profile": {
        "cpu_demand": 0.05,
        "memory_demand": 64,
        "network_bandwidth": 2,
        "io_operations": 5,
    },
    "traffic_pattern": {
        "peak_times": [
            {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "12:00",
                "end": "14:00",
                "timezone": "America/New_York",
            }
        ],
        "geographic_distribution": {"us-east-1": 0.7, "eu-west-1": 0.3},
        "access_types": ["browse", "purchase"],
    },
    "associated_tags": ["retail"],
    "fleets": ["web"],
}


def persona_data(name: str = "Peak Hour Shopper", **top_level: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["persona_name"] = name
    data.update(top_level)
    return data


def persona(name: str = "Peak Hour Shopper", tags: tuple[str, ...] = ("retail",)) -> Persona:
    return Persona.model_validate(persona_data(name, associated_tags=list(tags)))


def write_persona(directory: Path, filename: str, data: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
