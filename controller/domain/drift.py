"""Drift: what differs between what the controller applied and what runs, as typed records.

tofu-controller reports drift through an error message; here a drift check returns a
`DriftCheck` whose findings say, each, which resource and attribute, what was applied, what is
live, and whether that is drift (a person changed it), expected (the autoscaler or a scheduled
action moved it within the applied bounds) or unknown (it could not be read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import JsonValue

DriftView = Literal["terraform", "aws"]
Classification = Literal["drift", "expected", "unknown"]
CheckOutcome = Literal["in-sync", "drifted", "failed", "skipped"]
VIEWS: tuple[DriftView, ...] = ("terraform", "aws")


@dataclass(frozen=True)
class DriftFinding:
    view: DriftView
    resource: str
    """e.g. autoscaling_group/fleet-web, module.fleet["web"].aws_autoscaling_group.this"""
    attribute: str
    applied: JsonValue
    live: JsonValue
    classification: Classification
    reason: str
    fleets: tuple[str, ...] = ()
    """the fleets it concerns (a load balancer's finding concerns every fleet behind it)"""

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity across checks: the same key in the next check is the same finding."""
        return (self.view, self.resource, self.attribute)

    @property
    def is_drift(self) -> bool:
        return self.classification == "drift"

    def describe(self) -> str:
        return f"{self.resource} {self.attribute}: applied {_show(self.applied)}, live {_show(self.live)}"


@dataclass(frozen=True)
class TrackedFinding:
    """A finding as stored: first seen (`since`, kept across checks) and last seen."""

    finding: DriftFinding
    since: datetime
    last_seen: datetime


@dataclass(frozen=True)
class DriftCheck:
    """The result of one check of one view."""

    view: DriftView
    checked_at: datetime
    outcome: CheckOutcome
    detail: str
    findings: tuple[DriftFinding, ...] = ()

    @property
    def drift(self) -> tuple[DriftFinding, ...]:
        return tuple(f for f in self.findings if f.is_drift)


def outcome_of(findings: tuple[DriftFinding, ...]) -> CheckOutcome:
    return "drifted" if any(f.is_drift for f in findings) else "in-sync"


def _show(value: JsonValue) -> str:
    if value is None:
        return "absent"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
