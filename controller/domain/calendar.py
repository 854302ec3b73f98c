"""Known events that a forecast cannot learn from history: campaigns, maintenance, cut-offs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CalendarWindow:
    """[start, end) with a multiplicative effect on demand, for some personas or all (empty)."""

    name: str
    start: datetime
    end: datetime
    uplift: float
    personas: tuple[str, ...] = ()
    kind: str = "campaign"
    """campaign: expected uplift; maintenance: history inside is not learnt from"""

    def applies_to(self, series_id: str) -> bool:
        return not self.personas or series_id in self.personas


@dataclass(frozen=True)
class HistoryCutoff:
    """Demand before `since` is ignored (a known change in traffic: a migration, a new client)."""

    since: datetime
    personas: tuple[str, ...] = ()
    reason: str = ""

    def applies_to(self, series_id: str) -> bool:
        return not self.personas or series_id in self.personas


@dataclass(frozen=True)
class Calendar:
    windows: tuple[CalendarWindow, ...] = ()
    cutoffs: tuple[HistoryCutoff, ...] = ()
    source: str = field(default="", compare=False)

    def for_series(self, series_id: str) -> Calendar:
        return Calendar(
            tuple(w for w in self.windows if w.applies_to(series_id)),
            tuple(c for c in self.cutoffs if c.applies_to(series_id)),
            self.source,
        )

    def history_start(self, series_id: str) -> datetime | None:
        """The latest cut-off that applies to the series, if any."""
        found = [c.since for c in self.cutoffs if c.applies_to(series_id)]
        return max(found) if found else None
