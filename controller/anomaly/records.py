"""An anomaly as a typed record, and its lifecycle: open -> ongoing -> resolved.

Detectors report *findings* (what looks wrong in the data just seen); `track` folds them into the
anomalies already known: a finding of the same kind and persona as an unresolved anomaly extends
it (ongoing), a new one opens, and an anomaly with no finding for `resolve_after` is resolved at
the end of its last finding. Pure: the caller stores the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

AnomalyKind = Literal[
    "unmatched_sessions",
    "unusual_resources",
    "demand_outside_forecast",
    "unmatched_spike",
    "traffic_vanished",
]
ANOMALY_KINDS: tuple[AnomalyKind, ...] = (
    "unmatched_sessions",
    "unusual_resources",
    "demand_outside_forecast",
    "unmatched_spike",
    "traffic_vanished",
)
Status = Literal["open", "ongoing", "resolved"]
Evidence = dict[str, float | str]


@dataclass(frozen=True)
class Finding:
    kind: AnomalyKind
    persona: str | None
    start: datetime
    end: datetime
    size: float
    """how far off: a ratio to the expected value (>1 above, <1 below) or a count"""
    evidence: Evidence = field(default_factory=dict)


@dataclass(frozen=True)
class Anomaly:
    id: str
    kind: AnomalyKind
    persona: str | None
    start: datetime
    end: datetime
    """end of the newest finding; the anomaly's end once resolved"""
    size: float
    evidence: Evidence
    status: Status

    @property
    def subject(self) -> str:
        who = f" ({self.persona})" if self.persona else ""
        return f"{self.kind.replace('_', ' ')}{who}"


def anomaly_id(finding: Finding) -> str:
    return f"{finding.kind}:{finding.persona or '-'}:{int(finding.start.timestamp())}"


def track(
    known: Sequence[Anomaly],
    findings: Sequence[Finding],
    now: datetime,
    resolve_after: timedelta,
) -> list[Anomaly]:
    """The anomalies after this cycle's findings (resolved ones from before are dropped)."""
    current = {(a.kind, a.persona): a for a in known if a.status != "resolved"}
    seen: set[tuple[AnomalyKind, str | None]] = set()
    out: list[Anomaly] = []
    for finding in sorted(findings, key=lambda f: (f.start, f.kind, f.persona or "")):
        key = (finding.kind, finding.persona)
        before = current.get(key)
        if before is not None and finding.start <= before.end + resolve_after:
            current[key] = replace(
                before,
                end=max(before.end, finding.end),
                size=_larger(before.size, finding.size),
                evidence={**before.evidence, **finding.evidence},
                status="ongoing",
            )
        else:
            if before is not None:
                out.append(replace(before, status="resolved"))
            current[key] = Anomaly(
                anomaly_id(finding),
                finding.kind,
                finding.persona,
                finding.start,
                finding.end,
                finding.size,
                dict(finding.evidence),
                "open",
            )
        seen.add(key)
    for key, anomaly in current.items():
        quiet = key not in seen and now - anomaly.end >= resolve_after
        out.append(replace(anomaly, status="resolved") if quiet else anomaly)
    return sorted(out, key=lambda a: (a.start, a.id))


def _larger(a: float, b: float) -> float:
    """The bigger deviation: ratios below 1 (drops) count by their inverse."""

    def strength(x: float) -> float:
        return 1 / x if 0 < x < 1 else x

    return a if strength(a) >= strength(b) else b
