"""A simulated fleet: instances ordered at minute t serve from t + warm-up and are paid from t.

Scale-in cancels instances still booting first (they serve nobody yet), newest first, then
terminates serving ones; both stop being paid at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class FleetMinute:
    serving: int
    booting: int

    @property
    def paid(self) -> int:
        return self.serving + self.booting


class SimulatedFleet:
    def __init__(self, warmup_minutes: int, initial: int = 0) -> None:
        if warmup_minutes < 0:
            raise ValueError(f"warm-up must be >= 0 minutes, got {warmup_minutes}")
        self.warmup = warmup_minutes
        self.serving = initial
        self._booting: deque[int] = deque()  # ready minute of each booting instance, oldest first

    @property
    def booting(self) -> int:
        return len(self._booting)

    @property
    def total(self) -> int:
        return self.serving + len(self._booting)

    def step(self, minute: int, desired: int) -> FleetMinute:
        """Apply the decision taken at `minute`, then let ready instances start serving."""
        desired = max(0, desired)
        if desired > self.total:
            self._booting.extend([minute + self.warmup] * (desired - self.total))
        excess = self.total - desired
        while excess > 0 and self._booting:
            self._booting.pop()
            excess -= 1
        self.serving -= excess if excess > 0 else 0
        while self._booting and self._booting[0] <= minute:
            self._booting.popleft()
            self.serving += 1
        return FleetMinute(self.serving, len(self._booting))
