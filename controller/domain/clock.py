"""Time is injected, never read directly: every component gets a Clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests step by hand."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = _aware(when)


class ReplayClock:
    """Simulated time for replaying recorded events: each cycle moves it one step.

    The daemon persists `now()` after each cycle so a restart continues where it stopped.
    """

    def __init__(self, start: datetime, step: timedelta) -> None:
        self._now = _aware(start)
        self.step = step

    def now(self) -> datetime:
        return self._now

    def advance(self, to: datetime | None = None) -> None:
        """One step on, or straight to `to` (fast-forward over a stretch with no events)."""
        self._now = (
            max(self._now + self.step, _aware(to)) if to is not None else self._now + self.step
        )

    def catch_up(self, to: datetime) -> None:
        """Move on to `to` if it is later (a position another process saved); never back."""
        self._now = max(self._now, _aware(to))


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got {when.isoformat()}")
    return when.astimezone(UTC)
