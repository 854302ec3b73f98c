"""Which personas in force matched no session over the last day of stored metrics.

A persona whose figures fit nothing (a typo such as a memory_demand of 1e29, a region nobody
sends from) does not fail anything: its sessions go to other personas or to `unmatched`, and its
forecast is a flat zero. Looking at what each persona matched over a whole day makes it visible.
The day is the last 24 h of the store's data, not of the wall clock, so a replay or a stream that
fell behind is judged on what it holds; a store holding less than a day passes no verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = timedelta(days=1)


@dataclass(frozen=True)
class LastDay:
    """What each persona in force matched in the day of stored metrics ending at `end`."""

    start: datetime
    end: datetime
    events: dict[str, int]
    """persona key -> events of the sessions matched to it in [start, end), 0 included"""

    @property
    def silent(self) -> list[str]:
        """Personas that matched no session in the day, by key."""
        return sorted(key for key, count in self.events.items() if count == 0)


def last_day_window(
    oldest: datetime, newest: datetime, bucket: timedelta
) -> tuple[datetime, datetime] | None:
    """[start, end) of the day ending with the bucket starting at `newest`; None unless the
    store holds the whole day (its oldest bucket starts at or before `start`)."""
    end = newest + bucket
    start = end - DAY
    return (start, end) if oldest <= start else None


def last_day(
    window: tuple[datetime, datetime], keys: Iterable[str], events: Mapping[str, int]
) -> LastDay:
    start, end = window
    return LastDay(start, end, {key: int(events.get(key, 0)) for key in keys})
