"""Alerts with sent-once semantics: opened once, resolved once, each message delivered once.

The alert record is the outbox: a sink that fails leaves the message unsent and the next
dispatch tries again; a sink that succeeded is never called again for the same event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

AlertEvent = Literal["opened", "resolved"]


@dataclass(frozen=True)
class Alert:
    alert_id: int
    key: str
    """what it is about, unique while open, e.g. drift:aws:autoscaling_group/fleet-web:max_size"""
    kind: str
    """'drift'"""
    opened_at: datetime
    opened_message: str
    resolved_at: datetime | None = None
    resolved_message: str | None = None
    opened_sent_at: datetime | None = None
    resolved_sent_at: datetime | None = None

    @property
    def pending(self) -> AlertEvent | None:
        """The event whose message has not been delivered yet, if any."""
        if self.opened_sent_at is None:
            return "opened"
        if self.resolved_at is not None and self.resolved_sent_at is None:
            return "resolved"
        return None

    def message(self, event: AlertEvent) -> str:
        return self.opened_message if event == "opened" else (self.resolved_message or "")


class AlertSink(Protocol):
    """Where alerts go (a log line by default; a pager or chat hook from another module).

    `deliver` raises to say "not delivered": the alert stays pending and is offered again.
    """

    def deliver(self, alert: Alert, event: AlertEvent) -> None: ...
