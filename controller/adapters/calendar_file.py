"""personas/_calendar.yaml: campaigns, maintenance windows and history cut-offs.

The persona loader skips files starting with "_", so the calendar lives beside the personas
and goes through the same review (GitOps). Every problem is reported as
`path:line: field: message (got value)`; `validate_calendar` returns them for
`fleetctl personas validate`, `load_calendar` raises them.

    campaigns:
      - name: black-friday
        persona: peak-hour-shopper      # omit: every persona
        start: 2026-11-27T00:00:00-05:00
        end: 2026-11-30T00:00:00-05:00
        uplift: 2.5                     # expected demand x2.5 while it runs
    maintenance:
      - name: storage-migration
        start: 2026-11-10T02:00:00Z
        end: 2026-11-10T04:00:00Z
        uplift: 1.0                     # default 1: capacity held; history inside not learnt
    history_cutoffs:
      - since: 2026-10-01T00:00:00Z     # demand before this is not learnt from
        persona: api-consumer
        reason: new API client
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from controller.adapters.persona_files import MAX_FILE_BYTES, file_limit
from controller.adapters.yamldoc import YamlDocument, load_yaml
from controller.domain.calendar import Calendar, CalendarWindow, HistoryCutoff
from controller.domain.errors import InputError

CALENDAR_FILE = "_calendar.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _aware(value: datetime, field: str) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{field} needs a UTC offset, e.g. 2026-11-27T08:00:00Z")


class _Window(_Strict):
    name: Annotated[str, Field(min_length=1)]
    persona: str | None = None
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> _Window:
        _aware(self.start, "start")
        _aware(self.end, "end")
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


class CampaignEntry(_Window):
    uplift: Annotated[float, Field(gt=0, le=100, description="expected demand multiplier")]


class MaintenanceEntry(_Window):
    uplift: Annotated[float, Field(ge=0, le=100)] = 1.0


class CutoffEntry(_Strict):
    since: datetime
    persona: str | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _offset(self) -> CutoffEntry:
        _aware(self.since, "since")
        return self


class CalendarFile(_Strict):
    campaigns: list[CampaignEntry] = Field(default_factory=list)
    maintenance: list[MaintenanceEntry] = Field(default_factory=list)
    history_cutoffs: list[CutoffEntry] = Field(default_factory=list)

    def to_domain(self, source: str) -> Calendar:
        def who(persona: str | None) -> tuple[str, ...]:
            return (persona,) if persona else ()

        windows = [
            CalendarWindow(c.name, c.start, c.end, c.uplift, who(c.persona), "campaign")
            for c in self.campaigns
        ] + [
            CalendarWindow(m.name, m.start, m.end, m.uplift, who(m.persona), "maintenance")
            for m in self.maintenance
        ]
        cutoffs = [HistoryCutoff(c.since, who(c.persona), c.reason) for c in self.history_cutoffs]
        return Calendar(tuple(windows), tuple(cutoffs), source)


def _parse(
    path: Path, known_personas: Collection[str] | None, max_file_bytes: int
) -> tuple[CalendarFile | None, list[str]]:
    try:
        doc = load_yaml(path, file_limit(max_file_bytes))
    except InputError as exc:
        return None, [str(exc)]
    if doc.data is None:
        return CalendarFile(), []
    if not isinstance(doc.data, dict):
        return None, [
            f"{path}:1: expected a mapping with campaigns, maintenance, history_cutoffs (got {type(doc.data).__name__})"
        ]
    try:
        parsed = CalendarFile.model_validate(doc.data)
    except ValidationError as exc:
        return None, doc.validation_problems(exc)
    return parsed, _unknown_personas(doc, parsed, known_personas)


def _unknown_personas(
    doc: YamlDocument, parsed: CalendarFile, known: Collection[str] | None
) -> list[str]:
    if known is None:
        return []
    problems = []
    sections: list[tuple[str, list[str | None]]] = [
        ("campaigns", [c.persona for c in parsed.campaigns]),
        ("maintenance", [m.persona for m in parsed.maintenance]),
        ("history_cutoffs", [c.persona for c in parsed.history_cutoffs]),
    ]
    for section, personas in sections:
        for index, persona in enumerate(personas):
            if persona is not None and persona not in known:
                loc = (section, index, "persona")
                problems.append(
                    f"{doc.path}:{doc.line_of(loc)}: {section}.{index}.persona: unknown persona "
                    f"(got {persona!r}; known: {', '.join(sorted(known))})"
                )
    return problems


def validate_calendar(
    path: Path, known_personas: Collection[str] | None = None, max_file_bytes: int = MAX_FILE_BYTES
) -> list[str]:
    """Every problem in the calendar file, as `path:line: field: message (got value)`; [] if fine.

    A missing file is fine (no calendar). `known_personas`: persona keys to check against.
    """
    if not path.exists():
        return []
    return _parse(path, known_personas, max_file_bytes)[1]


def load_calendar(
    path: Path, known_personas: Collection[str] | None = None, max_file_bytes: int = MAX_FILE_BYTES
) -> Calendar:
    """The calendar in `path` (empty when the file does not exist); InputError lists problems."""
    if not path.exists():
        return Calendar(source=str(path))
    parsed, problems = _parse(path, known_personas, max_file_bytes)
    if problems or parsed is None:
        raise InputError(
            f"invalid calendar ({len(problems)} problem(s)):\n  " + "\n  ".join(problems)
        )
    return parsed.to_domain(str(path))
