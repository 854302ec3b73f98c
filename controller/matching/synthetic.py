"""Labelled sessions generated from persona definitions, with overlap and noise (for the bench
and tests). The story per session, all draws from one seeded generator:

1. Start time uniform over `weeks` weeks from the first Monday of 2026 (UTC); the persona is drawn
   from `mix` (default equal), each persona's weight multiplied by `peak_boost` while the start is
   inside one of its peak windows (as the example event generator does).
2. Events: 1 + Poisson(`mean_events` - 1). Each event's type is, with probability
   1 - `overlap` - `noise`, one of the persona's declared types (earlier ones likelier, weights 2..1
   as in the example events); with probability `overlap` one of ANOTHER persona's types; with
   probability `noise` any vocabulary type.
3. Resource use per event: the persona's declared per-event profile (model.per_event) times a
   per-session log-normal factor (sigma `resource_noise`), blended in log space toward the other
   personas' mean profile by `overlap`, times per-event log-normal noise (sigma 0.35); the feature
   is the session's mean.
4. Region: the declared distribution; with probability `noise` a uniformly random known region,
   and 10% of sessions carry none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from controller.domain.persona import OneOffPeak, PeakWindow, Persona
from controller.matching.features import IntArray, SessionFeatures, Vocabulary, hour_of_week
from controller.matching.model import MatcherSettings, _in_window, per_event


@dataclass(frozen=True)
class GeneratorSettings:
    sessions: int = 20_000
    mix: tuple[float, ...] | None = None
    overlap: float = 0.1
    noise: float = 0.05
    mean_events: float = 6.0
    resource_noise: float = 0.3
    peak_boost: float = 3.0
    weeks: int = 4
    seed: int = 11


@dataclass(frozen=True)
class LabelledSessions:
    features: SessionFeatures
    labels: IntArray
    """index into the persona list given to `generate`"""


def generate(
    personas: Sequence[Persona], vocabulary: Vocabulary, cfg: GeneratorSettings
) -> LabelledSessions:
    rng = np.random.default_rng(cfg.seed)
    n, k = cfg.sessions, len(personas)
    start0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    starts = start0 + rng.uniform(0, cfg.weeks * 7 * 86400, n)
    labels = _draw_personas(rng, personas, starts, cfg)
    v = len(vocabulary.event_types)
    type_index = {t: i for i, t in enumerate(vocabulary.event_types)}
    own = [[type_index[t] for t in p.traffic_pattern.access_types] for p in personas]
    events = 1 + rng.poisson(max(cfg.mean_events - 1, 0), n)
    counts = np.zeros((n, v + 1))
    source = rng.choice(3, size=(n, int(events.max())), p=_source_p(cfg))
    for s in range(n):
        kind = source[s, : events[s]]
        mine = own[labels[s]]
        for e in kind:
            if e == 0:
                w = np.linspace(2.0, 1.0, len(mine))
                counts[s, mine[int(rng.choice(len(mine), p=w / w.sum()))]] += 1
            elif e == 1 and k > 1:
                other = int(rng.choice([j for j in range(k) if j != labels[s]]))
                counts[s, own[other][int(rng.integers(len(own[other])))]] += 1
            else:
                counts[s, int(rng.integers(v))] += 1
    profile = np.log(
        np.maximum(np.array([per_event(p, MatcherSettings()) for p in personas]), 1e-3)
    )
    mean_other = (profile.sum(axis=0)[None, :] - profile) / max(k - 1, 1)
    logx = (1 - cfg.overlap) * profile[labels] + cfg.overlap * mean_other[labels]
    logx += rng.normal(0, cfg.resource_noise, (n, 1))
    per_event_noise = rng.lognormal(0, 0.35, (n, 4, 8)).mean(axis=2)
    resources = np.exp(logx) * per_event_noise
    region = _draw_regions(rng, personas, vocabulary, labels, cfg.noise)
    features = SessionFeatures(counts, resources, hour_of_week(starts), region, starts)
    return LabelledSessions(features, labels.astype(np.int64))


def _source_p(cfg: GeneratorSettings) -> list[float]:
    return [1 - cfg.overlap - cfg.noise, cfg.overlap, cfg.noise]


def _draw_personas(
    rng: np.random.Generator,
    personas: Sequence[Persona],
    starts: np.ndarray,
    cfg: GeneratorSettings,
) -> np.ndarray:
    base = np.array(cfg.mix if cfg.mix is not None else [1.0] * len(personas))
    # peaks are checked per hour (the hour's middle), then looked up for every session
    hours = np.unique(np.floor(starts / 3600))
    boost = np.ones((hours.shape[0], len(personas)))
    for j, persona in enumerate(personas):
        for i, h in enumerate(hours):
            when = datetime.fromtimestamp(h * 3600 + 1800, UTC)
            if _in_peak(persona, when):
                boost[i, j] = cfg.peak_boost
    weights = boost[np.searchsorted(hours, np.floor(starts / 3600))] * base[None, :]
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return np.asarray((rng.random((starts.shape[0], 1)) > cumulative).sum(axis=1))


def _in_peak(persona: Persona, when: datetime) -> bool:
    for peak in persona.traffic_pattern.peak_times:
        if isinstance(peak, OneOffPeak) and peak.start <= when < peak.end:
            return True
        if isinstance(peak, PeakWindow) and _in_window(peak, when):
            return True
    return False


def _draw_regions(
    rng: np.random.Generator,
    personas: Sequence[Persona],
    vocabulary: Vocabulary,
    labels: np.ndarray,
    noise: float,
) -> IntArray:
    r = len(vocabulary.regions)
    table = np.zeros((len(personas), r))
    for j, p in enumerate(personas):
        for name, share in p.traffic_pattern.geographic_distribution.items():
            table[j, vocabulary.regions.index(name)] = share
    cumulative = np.cumsum(table[labels], axis=1)
    region = (rng.random((labels.shape[0], 1)) > cumulative).sum(axis=1)
    region = np.minimum(region, r - 1)
    noisy = rng.random(labels.shape[0]) < noise
    region = np.where(noisy, rng.integers(0, r, labels.shape[0]), region)
    missing = rng.random(labels.shape[0]) < 0.1
    return np.asarray(np.where(missing, -1, region), dtype=np.int64)
