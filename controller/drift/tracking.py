"""Findings across checks: `since` is kept while a finding lasts; drift that appears is opened
once and drift that disappears is resolved once (the alert transitions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controller.domain.drift import DriftCheck, DriftFinding, TrackedFinding


@dataclass(frozen=True)
class Tracked:
    findings: tuple[TrackedFinding, ...]
    """the view's findings after this check, each with its first-seen time"""
    opened: tuple[TrackedFinding, ...]
    """drift that this check saw first"""
    resolved: tuple[TrackedFinding, ...]
    """drift the previous check had and this one no longer has (as it was last seen)"""


def track(previous: Sequence[TrackedFinding], check: DriftCheck) -> Tracked:
    """Merge a check into the view's previous findings.

    A failed or skipped check changes nothing: not being able to look is not "the drift ended".
    A finding keeps its `since` while its classification stays the same; one that turns from
    expected into drift (or back) starts again, so the alert says when the drift began.
    """
    mine = [t for t in previous if t.finding.view == check.view]
    if check.outcome in ("failed", "skipped"):
        return Tracked(tuple(mine), (), ())
    before = {t.finding.key: t for t in mine}
    now = check.checked_at
    findings, opened = [], []
    for finding in check.findings:
        old = before.get(finding.key)
        continued = old if old and old.finding.classification == finding.classification else None
        tracked = TrackedFinding(finding, continued.since if continued else now, now)
        findings.append(tracked)
        if finding.is_drift and continued is None:
            opened.append(tracked)
    current = {f.finding.key: f.finding for f in findings}
    resolved = tuple(
        t for t in mine if t.finding.is_drift and not _still_drift(current.get(t.finding.key))
    )
    return Tracked(tuple(findings), tuple(opened), resolved)


def _still_drift(finding: DriftFinding | None) -> bool:
    return finding is not None and finding.is_drift


def alert_key(finding: DriftFinding) -> str:
    view, resource, attribute = finding.key
    return f"drift:{view}:{resource}:{attribute}"


def opened_message(tracked: TrackedFinding, policy: str) -> str:
    f = tracked.finding
    fleets = f"fleet {', '.join(f.fleets)}: " if f.fleets else ""
    return (
        f"DRIFT ({f.view} view) {fleets}{f.describe()}; {f.reason}; since "
        f"{tracked.since:%Y-%m-%d %H:%MZ}; policy {policy}"
    )


def resolved_message(tracked: TrackedFinding, now_text: str) -> str:
    f = tracked.finding
    return (
        f"RESOLVED drift ({f.view} view) {f.resource} {f.attribute}: no longer differs from "
        f"what was applied (drifted from {tracked.since:%Y-%m-%d %H:%MZ} to {now_text})"
    )
