"""When to re-do a persona's model choice: explicit triggers, each with a reason.

The choice (models and weights of the backtest's winner) is kept between cycles. It is re-done when
- nothing is kept yet (first forecast after the cold start),
- it is older than `max_age` (the schedule), or
- the rolling MASE of the forecasts made since it grew past `growth` x the MASE it had once it
  had been in force for `settle` (its baseline): the series changed under the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class KeptChoice:
    models: tuple[str, ...]
    weights: tuple[float, ...]
    selected_at: datetime
    reason: str
    """why it was selected"""
    baseline_mase: float | None = None
    """rolling MASE of its first scored forecasts; None until scored"""


@dataclass(frozen=True)
class ReselectionRule:
    growth: float = 1.5
    max_age: timedelta = timedelta(days=7)
    min_points: int = 100
    settle: timedelta = timedelta(hours=12)
    """the baseline is taken once the choice has been in force this long: its first hours
    (often a quiet night) would make a baseline any later afternoon looks bad against"""


def reselect_reason(
    kept: KeptChoice | None,
    mase: float | None,
    points: int,
    now: datetime,
    rule: ReselectionRule,
) -> str | None:
    """Why the choice must be re-done now; None to keep it. `mase` over `points` realized
    points scores only forecasts made since `kept` was selected."""
    if kept is None:
        return "first selection"
    age = now - kept.selected_at
    if age >= rule.max_age:
        return f"scheduled: selected {_days(age)} ago (max_age {_days(rule.max_age)})"
    if (
        mase is not None
        and kept.baseline_mase is not None
        and points >= rule.min_points
        and mase > rule.growth * kept.baseline_mase
    ):
        return (
            f"rolling MASE {mase:.2f} grew past {rule.growth:g} x {kept.baseline_mase:.2f} "
            "(its MASE when first scored)"
        )
    return None


def with_baseline(
    kept: KeptChoice, mase: float | None, points: int, now: datetime, rule: ReselectionRule
) -> KeptChoice:
    """The first MASE with enough points, once the choice has settled, becomes its baseline."""
    if kept.baseline_mase is not None or mase is None or points < rule.min_points:
        return kept
    if now - kept.selected_at < rule.settle:
        return kept
    return KeptChoice(kept.models, kept.weights, kept.selected_at, kept.reason, mase)


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} d" if hours >= 24 else f"{hours:.1f} h"
