"""The Persona: a versioned description of one kind of traffic (pydantic: it comes from files).

The model is the contract users write YAML against: unknown fields are refused, numbers must be
numbers (no quoted "64", no `true` for 1), and `fleetctl personas schema` publishes the same rules as
JSON Schema (docs/persona.schema.json) so editors complete and check the files as they are typed.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

GEOGRAPHIC_TOLERANCE = 1e-6

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")
_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


def persona_slug(name: str) -> str:
    """The stable key of a persona: 'Peak Hour Shopper' -> 'peak-hour-shopper'."""
    return _SLUG_STRIP.sub("-", name.lower()).strip("-")


def _quoted_clock_time(value: object) -> object:
    # YAML 1.1 reads an unquoted 12:00 as the base-60 integer 720, which pydantic would
    # otherwise accept as 720 seconds after midnight: a silent 00:12.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            'write clock times in quotes, e.g. "12:00" (unquoted, YAML reads 12:00 as the number 720)'
        )
    return value


ClockTime = Annotated[
    time,
    BeforeValidator(_quoted_clock_time),
    WithJsonSchema(
        {"type": "string", "pattern": _CLOCK_TIME, "description": "HH:MM or HH:MM:SS, local time"}
    ),
]
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]
Probability = Annotated[float, Field(ge=0.0, le=1.0, strict=True)]
Label = Annotated[str, Field(min_length=1, max_length=120, pattern=r"\S")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# One session can use at most a whole instance, so each figure is bounded by the largest type in
# the bundled catalog (controller/allocation/data/ec2_catalog.json; tests/personas/test_schema.py
# checks these against it). Past them a figure is a typo, not a workload: a memory_demand of 1e29
# was accepted and then matched no session at all, without a word.
MAX_SESSION_MEMORY_MB = 262_144
"""r6i.8xlarge: 256 GiB"""
MAX_SESSION_NETWORK_MBPS = 15_000
"""c7g.8xlarge: 15 Gbps baseline"""
MAX_SESSION_IOPS = 40_000
"""c6i.8xlarge: 40,000 baseline EBS IOPS"""


def _at_most(
    limit: int, unit: str, what: str, largest: str
) -> tuple[AfterValidator, WithJsonSchema]:
    def check(value: int) -> int:
        if value > limit:
            raise ValueError(
                f"at most {limit} {unit}: one session cannot use more {what} than the largest "
                f"instance type in the catalog has ({largest})"
            )
        return value

    # the schema states the bound too, so editors flag it as it is typed
    return AfterValidator(check), WithJsonSchema(
        {"type": "integer", "minimum": 0, "maximum": limit}
    )


class ResourceProfile(_Strict):
    """Average demand of ONE active session of the persona (DESIGN.md): the forecast's prior."""

    cpu_demand: Annotated[Probability, Field(description="fraction of one vCPU, 0.0-1.0")]
    memory_demand: Annotated[
        NonNegativeInt,
        *_at_most(MAX_SESSION_MEMORY_MB, "MB", "memory", "r6i.8xlarge"),
        Field(description=f"MB, at most {MAX_SESSION_MEMORY_MB} (r6i.8xlarge)"),
    ]
    network_bandwidth: Annotated[
        NonNegativeInt,
        *_at_most(MAX_SESSION_NETWORK_MBPS, "Mbps", "bandwidth", "c7g.8xlarge"),
        Field(description=f"Mbps, at most {MAX_SESSION_NETWORK_MBPS} (c7g.8xlarge baseline)"),
    ]
    io_operations: Annotated[
        NonNegativeInt,
        *_at_most(MAX_SESSION_IOPS, "IOPS", "I/O", "c6i.8xlarge"),
        Field(description=f"IOPS, at most {MAX_SESSION_IOPS} (c6i.8xlarge baseline EBS)"),
    ]


class PeakWindow(_Strict):
    """A recurring window, e.g. weekdays 12:00-14:00 Europe/Berlin; end < start wraps midnight."""

    days: Annotated[list[Weekday], Field(min_length=1)]
    start: ClockTime
    end: ClockTime
    timezone: Annotated[str, Field(description="IANA time zone, e.g. America/New_York")] = "UTC"

    @field_validator("days")
    @classmethod
    def _distinct_days(cls, value: list[Weekday]) -> list[Weekday]:
        if len(set(value)) != len(value):
            raise ValueError(f"a day is listed twice in {value}")
        return value

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

    start: Annotated[datetime, Field(description="ISO 8601 with offset, e.g. 2026-11-27T08:00Z")]
    end: Annotated[datetime, Field(description="ISO 8601 with offset, after start")]

    @model_validator(mode="after")
    def _ordered_and_aware(self) -> OneOffPeak:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("one-off peak times need a UTC offset, e.g. 2026-11-27T08:00:00Z")
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


def _peak_kind(value: Any) -> str:
    # Picking the member by its shape keeps error messages about the member the user meant,
    # instead of pydantic reporting every member's complaints at once.
    if isinstance(value, dict):
        return "PeakWindow" if "days" in value or "timezone" in value else "OneOffPeak"
    return "PeakWindow" if isinstance(value, PeakWindow) else "OneOffPeak"


Peak = Annotated[
    Annotated[PeakWindow, Tag("PeakWindow")] | Annotated[OneOffPeak, Tag("OneOffPeak")],
    Discriminator(_peak_kind),
]


class TrafficPattern(_Strict):
    peak_times: list[Peak] = Field(
        default_factory=list, description="recurring windows and/or one-off ISO 8601 peaks"
    )
    geographic_distribution: Annotated[
        dict[Label, Probability],
        Field(
            description=f"region -> share of sessions; shares sum to 1 (±{GEOGRAPHIC_TOLERANCE})"
        ),
    ]
    access_types: Annotated[
        list[Label], Field(min_length=1, description="event types, e.g. browse, purchase, upload")
    ]

    @field_validator("geographic_distribution")
    @classmethod
    def _sums_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("needs at least one region")
        total = sum(value.values())
        if abs(total - 1.0) > GEOGRAPHIC_TOLERANCE:
            raise ValueError(f"probabilities must sum to 1, they sum to {total:.9g}")
        return value

    @field_validator("access_types")
    @classmethod
    def _distinct_types(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"duplicate event types in {value}")
        return value


class Persona(_Strict):
    persona_name: Annotated[
        Label, Field(description="display name; its slug is the persona's key (unique)")
    ]
    resource_profile: ResourceProfile
    traffic_pattern: TrafficPattern
    associated_tags: list[Label] = Field(default_factory=list)
    fleets: Annotated[
        list[Label], Field(min_length=1, description="names of the fleets serving it (config)")
    ]

    @field_validator("persona_name")
    @classmethod
    def _has_slug(cls, value: str) -> str:
        if not persona_slug(value):
            raise ValueError(f"{value!r} has no letters or digits to make a key from")
        return value

    @field_validator("fleets")
    @classmethod
    def _distinct_fleets(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"a fleet is listed twice in {value}")
        return value

    @property
    def key(self) -> str:
        return persona_slug(self.persona_name)


def canonical_json(persona: Persona) -> str:
    """The definition as canonical JSON (sorted keys, no spaces): what is stored and hashed."""
    return json.dumps(persona.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def content_hash(persona: Persona) -> str:
    """sha256 of the canonical JSON: equal hashes mean the same definition, whatever the YAML."""
    return hashlib.sha256(canonical_json(persona).encode()).hexdigest()


def persona_json_schema() -> dict[str, Any]:
    """The JSON Schema editors use (docs/persona.schema.json is this, committed)."""
    schema = Persona.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
