"""The feedback loop, closed: before each persona's forecast, what its earlier forecasts got wrong
re-calibrates the bands, corrects a persistent bias and decides whether the model choice is
re-done; the metric store's resource use becomes the learned per-session profile.
docs/feedback.md says how and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from threadpoolctl import threadpool_limits

from controller.adapters.persona_files import PersonaFile
from controller.adapters.storage.forecast_store import ForecastStore
from controller.adapters.storage.learning_store import (
    BiasCorrection,
    LearningStore,
    StoredProfile,
    factor_at,
)
from controller.adapters.storage.metric_store import MetricStore, sessions_per_bucket
from controller.allocation.demand import Profile
from controller.config import ControllerConfig, FeedbackConfig
from controller.domain.forecast import Forecast
from controller.domain.persona import ResourceProfile
from controller.domain.series import Series
from controller.domain.state import (
    BiasLearningState,
    IntervalLearningState,
    ModelChoiceState,
    PersonaLearningState,
    ProfileLearningState,
    ResourceProfileState,
)
from controller.feedback.bias import BiasRule, BiasTest, bias_test, errors_by_time, next_factor
from controller.feedback.profiles import MeasuredUse, learn_profile
from controller.feedback.reselection import (
    KeptChoice,
    ReselectionRule,
    reselect_reason,
    with_baseline,
)
from controller.feedback.scoring import RealizedPairs, realized_pairs, score
from controller.forecasting.auto import ModelChoice, Selection
from controller.forecasting.pipeline import Learned
from controller.workflow import steps
from controller.workflow.steps import PersonaSet, persona_rate

ORIGIN_SPACING = timedelta(minutes=15)
"""earlier forecasts read at most one per 15 minutes of origin: a daemon cycling every minute
would otherwise parse thousands of 48-hour forecasts per persona per cycle"""


@dataclass(frozen=True)
class LearnedForecasts:
    forecasts: dict[str, Forecast]
    learning: list[PersonaLearningState]
    profiles: dict[str, Profile]
    """learned per-session profiles (personas without one use their declared profile)"""

    def describe(self) -> str:
        """One line for the cycle log: what the loop changed."""
        reselected = [s.persona for s in self.learning if s.model.reselected_this_cycle]
        corrected = [f"{s.persona} x{s.bias.factor:g}" for s in self.learning if s.bias.factor != 1]
        banded = sum(1 for s in self.learning if s.intervals.recalibrated_steps)
        parts = [
            f"selected: {', '.join(reselected)}" if reselected else "models kept",
            f"bias: {', '.join(corrected)}" if corrected else "no bias correction",
            f"bands re-calibrated: {banded}",
            f"learned profiles: {len(self.profiles)}",
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class PersonaFeedback:
    """Decisions for one persona's next forecast, from its earlier ones."""

    learned: Learned
    correction: BiasCorrection | None
    """a new correction to record (None: the one in force stays)"""
    bias: BiasTest | None
    kept: KeptChoice | None
    """the choice in force, with its baseline MASE if newly set"""
    reselect: str | None
    """why the model choice is re-done now; None: kept"""
    rolling_mase: float | None
    realized_forecasts: int
    recalibrated_steps: int
    recent_coverage: float | None


def lookback(settings: FeedbackConfig) -> timedelta:
    """How far back earlier forecasts are read: the longest window."""
    return max(settings.intervals.window, settings.bias.window, settings.reselection.window)


MASE_SCALE = timedelta(days=1)
"""actuals are read this much further back: MASE divides by the seasonal naive's error (m = 1 d)"""


def decide(
    settings: FeedbackConfig,
    origin: datetime,
    past: Sequence[Forecast],
    actual: Series,
    corrections: list[BiasCorrection],
    kept: KeptChoice | None,
) -> PersonaFeedback:
    """What the next forecast from `origin` learns from `past` forecasts (made before `origin`)
    against `actual`; pure apart from reading its arguments."""
    current = factor_at(corrections, origin) if settings.bias.enabled else 1.0
    pairs = _under_correction(past, actual, corrections, current)
    factor, correction, test = current, None, None
    if settings.bias.enabled and pairs is not None:
        rule = _bias_rule(settings)
        test = bias_test(errors_by_time(_since(pairs, past, origin - settings.bias.window)), rule)
        factor = next_factor(current, test, rule)
        if factor != current:
            correction = BiasCorrection(origin, factor, test.reason)
            pairs = pairs.rescaled(np.full(len(past), factor / current))

    window = settings.intervals
    bands = _since(pairs, past, origin - window.window) if pairs is not None else None
    recent = [f for f in past if f.origin >= origin - window.window]
    coverage = score(actual.series_id, recent, actual).coverage if recent else None

    kept, why, mase = _model_decision(settings, origin, past, actual, kept)
    keep = None
    if why is None and kept is not None:
        when = f"{kept.selected_at:%Y-%m-%d %H:%M}"
        keep = ModelChoice(kept.models, kept.weights, f"selected {when}: {kept.reason}")
    learned = Learned(
        forecasts=None if bands is None else bands.means,
        actuals=None if bands is None else bands.actuals,
        rule=window.rule,
        min_samples=window.min_samples,
        bias_factor=factor,
        keep=keep,
    )
    return PersonaFeedback(
        learned,
        correction,
        test,
        kept,
        why,
        mase,
        0 if bands is None else int(bands.means.shape[0]),
        0 if bands is None else int(np.sum(bands.observed_per_step() >= window.min_samples)),
        coverage,
    )


def _bias_rule(settings: FeedbackConfig) -> BiasRule:
    bias = settings.bias
    return BiasRule(bias.t_threshold, bias.min_points, bias.min_shift, bias.max_factor)


def _model_decision(
    settings: FeedbackConfig,
    origin: datetime,
    past: Sequence[Forecast],
    actual: Series,
    kept: KeptChoice | None,
) -> tuple[KeptChoice | None, str | None, float | None]:
    """(the kept choice with its baseline if newly set, why to re-select or None, rolling MASE)"""
    reselection = settings.reselection
    rule = ReselectionRule(
        reselection.mase_growth, reselection.max_age, reselection.min_points, reselection.settle
    )
    mase, points = None, 0
    if kept is not None:
        since = max(kept.selected_at, origin - reselection.window)
        mine = [f for f in past if f.origin >= since]
        if mine:
            scored = score(actual.series_id, mine, actual)
            mase, points = scored.mase, scored.points
        kept = with_baseline(kept, mase, points, origin, rule)
    return kept, reselect_reason(kept, mase, points, origin, rule), mase


def forecast_with_feedback(
    config: ControllerConfig,
    personas: PersonaSet,
    metrics: MetricStore,
    forecasts: ForecastStore,
    learning: LearningStore,
    origin: datetime,
) -> LearnedForecasts:
    """The cycle's forecast step with the loop closed; records every decision it makes."""
    settings = config.feedback
    calendar = steps.persona_calendar(config, personas)
    profiles = update_profiles(config, personas, metrics, learning, origin)
    results: dict[str, Forecast] = {}
    states = []
    start = origin - lookback(settings)
    actuals_from = start - MASE_SCALE
    with threadpool_limits(limits=1):
        for file in personas.files:
            key = file.persona.key
            sample = forecasts.spaced(key, start, ORIGIN_SPACING)
            past = [s.forecast for s in sample if s.forecast.origin < origin]
            actual = persona_rate(config, metrics, key, actuals_from, origin)

            def make(learned: Learned, file: PersonaFile = file) -> tuple[Forecast, Selection]:
                return steps.forecast_persona(config, file, metrics, origin, calendar, learned)

            one = forecast_one(settings, learning, key, origin, past, actual, make)
            results[key] = one.forecast
            states.append(_state(file, one, profiles.get(key), settings))
    learned = {key: _as_profile(stored) for key, stored in profiles.items()}
    return LearnedForecasts(results, states, learned)


@dataclass(frozen=True)
class OneForecast:
    forecast: Forecast
    selection: Selection
    feedback: PersonaFeedback
    corrections: list[BiasCorrection]
    """every bias correction so far, the new one included"""
    choice: KeptChoice | None
    """the model choice in force after this forecast"""


def forecast_one(
    settings: FeedbackConfig,
    learning: LearningStore,
    key: str,
    origin: datetime,
    past: Sequence[Forecast],
    actual: Series,
    make: Callable[[Learned], tuple[Forecast, Selection]],
) -> OneForecast:
    """One persona: decide from its `past` forecasts, record the decisions, forecast (`make`)."""
    corrections = learning.corrections(key)
    stored_choice = learning.choice(key)
    feedback = decide(settings, origin, past, actual, corrections, stored_choice)
    if feedback.correction is not None:
        learning.correct(key, feedback.correction)
        corrections = [*corrections, feedback.correction]
    if (
        stored_choice is not None
        and feedback.kept is not None
        and feedback.kept.baseline_mase is not None
        and stored_choice.baseline_mase is None
    ):
        learning.set_baseline(key, feedback.kept.baseline_mase)
    forecast, selection = make(feedback.learned)
    choice = _record_choice(learning, key, origin, feedback, selection)
    return OneForecast(forecast, selection, feedback, corrections, choice)


def update_profiles(
    config: ControllerConfig,
    personas: PersonaSet,
    metrics: MetricStore,
    learning: LearningStore,
    origin: datetime,
) -> dict[str, StoredProfile]:
    """Re-measure each persona's per-session profile; keep the last one when too little data."""
    settings = config.feedback.profiles
    if not settings.enabled:
        return {}
    bucket = config.events.bucket
    start = origin - settings.window
    stored = learning.profiles()
    for key in personas.keys:
        if key in stored and timedelta(0) <= origin - stored[key].learned_at < settings.every:
            continue
        use = MeasuredUse(
            bucket.total_seconds(),
            sessions_per_bucket(metrics, key, start, origin, bucket).values,
            *(
                metrics.series(measure, start, origin, bucket, persona=key).values
                for measure in ("cpu_ms", "memory_mb", "network_kb", "io_ops")
            ),
        )
        profile = learn_profile(use, settings.min_buckets, settings.min_sessions)
        if profile is not None:
            learning.learn_profile(key, origin, profile)
    stored = learning.profiles()
    return {key: stored[key] for key in personas.keys if key in stored}


def _record_choice(
    learning: LearningStore,
    key: str,
    origin: datetime,
    feedback: PersonaFeedback,
    selection: Selection,
) -> KeptChoice | None:
    """Store a fresh choice with why it was made; the choice in force afterwards."""
    if selection.kept or selection.choice is None:
        return feedback.kept
    if feedback.reselect is not None:
        why = feedback.reselect
    else:
        why = "the kept models failed or are no longer candidates"
    choice = KeptChoice(selection.models, selection.weights, origin, why)
    learning.choose(key, choice)
    return choice


def _under_correction(
    past: Sequence[Forecast],
    actual: Series,
    corrections: list[BiasCorrection],
    current: float,
) -> RealizedPairs | None:
    """Earlier forecasts as the correction in force now would have published them."""
    if not past:
        return None
    factors = np.array([current / factor_at(corrections, f.origin) for f in past])
    return realized_pairs(past, actual).rescaled(factors)


def _since(pairs: RealizedPairs, past: Sequence[Forecast], start: datetime) -> RealizedPairs:
    rows = np.array([f.origin >= start for f in past], dtype=bool)
    return RealizedPairs(pairs.means[rows], pairs.actuals[rows], pairs.origins[rows])


def _as_profile(stored: StoredProfile) -> Profile:
    p = stored.profile
    return Profile(p.cpu, p.memory, p.network, p.iops)


def _state(
    file: PersonaFile, one: OneForecast, profile: StoredProfile | None, settings: FeedbackConfig
) -> PersonaLearningState:
    forecast, feedback, corrections = one.forecast, one.feedback, one.corrections
    choice, selection = one.choice, one.selection
    in_force = corrections[-1] if corrections else None
    declared = file.persona.resource_profile
    return PersonaLearningState(
        persona=file.persona.key,
        intervals=IntervalLearningState(
            rule=settings.intervals.rule,
            realized_forecasts=feedback.realized_forecasts,
            recalibrated_steps=feedback.recalibrated_steps,
            horizon_steps=forecast.horizon,
            recent_coverage=_round(feedback.recent_coverage),
        ),
        bias=BiasLearningState(
            factor=round(in_force.factor, 4) if in_force else 1.0,
            since=in_force.since if in_force else None,
            reason=in_force.reason if in_force else "never corrected",
            last_test=feedback.bias.reason if feedback.bias else "no realized forecasts yet",
        ),
        model=ModelChoiceState(
            model=selection.label,
            selected_at=choice.selected_at if choice else None,
            reason=choice.reason if choice else selection.reason,
            reselected_this_cycle=not selection.kept and selection.choice is not None,
            baseline_mase=_round(choice.baseline_mase if choice else None),
            rolling_mase=_round(feedback.rolling_mase),
        ),
        profile=ProfileLearningState(
            in_use="learned" if profile else "declared",
            declared=_declared(declared),
            learned=ResourceProfileState(
                cpu=round(profile.profile.cpu, 6),
                memory_mb=round(profile.profile.memory, 4),
                network_mbps=round(profile.profile.network, 6),
                iops=round(profile.profile.iops, 4),
            )
            if profile
            else None,
            learned_at=profile.learned_at if profile else None,
            buckets=profile.profile.buckets if profile else None,
        ),
    )


def _declared(profile: ResourceProfile) -> ResourceProfileState:
    return ResourceProfileState(
        cpu=profile.cpu_demand,
        memory_mb=float(profile.memory_demand),
        network_mbps=float(profile.network_bandwidth),
        iops=float(profile.io_operations),
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
