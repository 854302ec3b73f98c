"""A user activity event as it arrives on the stream (pydantic: it is a boundary shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ResourceConsumption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_ms: Annotated[float, Field(ge=0)]
    memory_mb: Annotated[float, Field(ge=0)]
    network_kb: Annotated[float, Field(ge=0)]
    io_ops: Annotated[float, Field(ge=0)]


class Event(BaseModel):
    # Producers add fields of their own; ignoring them keeps old controllers reading new streams.
    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: Annotated[str, Field(min_length=1)]
    timestamp: datetime
    event_type: Annotated[str, Field(min_length=1)]
    resource_consumption: ResourceConsumption
    session_id: str | None = None
    region: str | None = None

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp needs a UTC offset, e.g. 2026-11-27T08:00:00Z")
        return value
