"""The Persona: a versioned description of one kind of traffic (pydantic: it comes from files)."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def persona_slug(name: str) -> str:
    """The stable key of a persona: 'Peak Hour Shopper' -> 'peak-hour-shopper'."""
    return _SLUG_STRIP.sub("-", name.lower()).strip("-")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourceProfile(_Strict):
    """Average demand of ONE active session of the persona."""

    cpu_demand: Annotated[float, Field(ge=0.0, le=1.0, description="fraction of one vCPU")]
    memory_demand: Annotated[int, Field(ge=0, description="MB")]
    network_bandwidth: Annotated[int, Field(ge=0, description="Mbps")]
    io_operations: Annotated[int, Field(ge=0, description="IOPS")]


class PeakWindow(_Strict):
    """A recurring window, e.g. weekdays 12:00-14:00 Europe/Berlin."""

    days: Annotated[list[Weekday], Field(min_length=1)]
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> PeakWindow:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start.isoformat()}: an empty window")
        return self


class OneOffPeak(_Strict):
    """A single peak between two ISO 8601 instants (a launch, a sale)."""

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered_and_aware(self) -> OneOffPeak:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("one-off peak times need a UTC offset, e.g. 2026-11-27T08:00:00Z")
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


class TrafficPattern(_Strict):
    peak_times: list[PeakWindow | OneOffPeak] = Field(default_factory=list)
    geographic_distribution: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]]
    access_types: Annotated[list[str], Field(min_length=1)]

    @field_validator("geographic_distribution")
    @classmethod
    def _sums_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("needs at least one region")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"probabilities must sum to 1, they sum to {total:.6g}")
        return value

    @field_validator("access_types")
    @classmethod
    def _distinct_types(cls, value: list[str]) -> list[str]:
        if any(not t.strip() for t in value):
            raise ValueError("event types must be non-empty strings")
        if len(set(value)) != len(value):
            raise ValueError(f"duplicate event types in {value}")
        return value


class Persona(_Strict):
    persona_name: Annotated[str, Field(min_length=1, max_length=120)]
    resource_profile: ResourceProfile
    traffic_pattern: TrafficPattern
    associated_tags: list[str] = Field(default_factory=list)
    fleets: Annotated[list[str], Field(min_length=1, description="names of the fleets serving it")]

    @field_validator("persona_name")
    @classmethod
    def _has_slug(cls, value: str) -> str:
        if not persona_slug(value):
            raise ValueError(f"{value!r} has no letters or digits to make a key from")
        return value

    @property
    def key(self) -> str:
        return persona_slug(self.persona_name)
