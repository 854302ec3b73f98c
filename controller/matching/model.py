"""A generative model per persona, scored for all sessions at once (naive Bayes).

For persona k and a session with type counts c, resource means x, start hour h and region r:

    log p(session | k) = sum_v c_v log theta_kv            event-type mix (multinomial)
                       + log tau_k(h)                      time of week
                       + log rho_k(r)                      region
                       + sum_d log N(log x_d; mu_kd, s_kd)  resource use per event (log-normal)

Declared parameters (no labels needed):
- theta: the declared `access_types` share 1 - `type_smoothing` evenly; every other type (and the
  'other' slot) shares `type_smoothing`, so a session using an undeclared type is unlikely, not
  impossible.
- tau: weight 1 per UTC hour of week, `peak_boost` inside the persona's peak windows (the share of
  the year's weeks in which that UTC hour is inside the local window, so daylight saving blurs
  instead of shifting), normalised over the week. A one-off peak adds log(peak_boost) for sessions
  that start inside it (needs `start_s`).
- rho: the declared `geographic_distribution`, smoothed by `region_smoothing` (unknown regions and
  sessions without a region get the smoothed share of the 'other' slot).
- mu: the declared per-session profile in per-event units. An event is taken to stand for
  `event_seconds` (default 1 s, `events.event_seconds`) of one active session's demand: cpu_ms =
  cpu_demand * 1000 * event_seconds, memory_mb = memory_demand * event_seconds (MB held over
  those seconds, as the learned profile averages it: with 1 s it reads as the level),
  network_kb = network_bandwidth (Mbps) * 125 * event_seconds, io_ops = io_operations *
  event_seconds. s = `resource_sigma`.

Scoring a stream expands the resource square into matrix products and scores each distinct
type mix once (`SessionFeatures.type_rows`); `log_likelihood` keeps the direct form.

Outlier score: the best persona's log-likelihood as a z-score against the distribution that
persona's own model gives sessions of the same number of events (mean and variance are analytic:
multinomial entropy terms, the time and region entropies, and 1/2 per resource dimension).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from controller.domain.persona import WEEKDAYS, OneOffPeak, PeakWindow, Persona
from controller.matching.features import (
    HOURS_PER_WEEK,
    RESOURCES,
    FloatArray,
    IntArray,
    SessionFeatures,
    Vocabulary,
)
from controller.matching.rows import row_argmax, row_max, row_sum

UNMATCHED = "unmatched"
LOG_FLOOR = 1e-3
"""resource values below this (e.g. a declared 0 IOPS) are scored as this, in log space"""


@dataclass(frozen=True)
class MatcherSettings:
    type_smoothing: float = 0.02
    region_smoothing: float = 0.02
    peak_boost: float = 3.0
    resource_sigma: float = 0.5
    event_seconds: float = 1.0
    min_probability: float = 0.6
    """below this posterior, a session is unmatched"""
    max_outlier_z: float = 6.0
    """a best log-likelihood more than this many standard deviations below what the persona's
    own model produces makes the session unmatched however sure the posterior is"""
    resource_z: float = 4.0
    """a matched session this many standard deviations off in one resource is unusual"""
    outlier_resource_cap: float = 2.0
    """in the outlier test no resource counts as further off than this many standard
    deviations: odd resource use makes a session unusual (resource_z), not 'fits none'"""
    prior_strength: float = 50.0
    """pseudo-sessions of declared parameters that learning must outweigh"""
    reference_year: int = 2026


@dataclass(frozen=True)
class PersonaParameters:
    """All personas' parameters as arrays (row k = keys[k])."""

    keys: tuple[str, ...]
    versions: tuple[int, ...]
    log_type: FloatArray  # (K, V+1)
    log_time: FloatArray  # (K, 168)
    log_region: FloatArray  # (K, R+1)
    res_mu: FloatArray  # (K, 4), log units
    res_sigma: FloatArray  # (K, 4)
    log_weight: FloatArray  # (K,)
    one_off: tuple[tuple[tuple[float, float], ...], ...]


@dataclass(frozen=True)
class Statistics:
    """Weighted sufficient statistics of observed sessions per persona (what learning keeps)."""

    sessions: FloatArray  # (K,)
    type_counts: FloatArray  # (K, V+1)
    hours: FloatArray  # (K, 168)
    regions: FloatArray  # (K, R+1)
    log_sum: FloatArray  # (K, 4)
    log_sq_sum: FloatArray  # (K, 4)

    @staticmethod
    def zeros(k: int, v: int, r: int) -> Statistics:
        return Statistics(
            np.zeros(k),
            np.zeros((k, v)),
            np.zeros((k, HOURS_PER_WEEK)),
            np.zeros((k, r)),
            np.zeros((k, 4)),
            np.zeros((k, 4)),
        )

    def scaled(self, factor: float) -> Statistics:
        return Statistics(
            self.sessions * factor,
            self.type_counts * factor,
            self.hours * factor,
            self.regions * factor,
            self.log_sum * factor,
            self.log_sq_sum * factor,
        )

    def plus(self, other: Statistics) -> Statistics:
        return Statistics(
            self.sessions + other.sessions,
            self.type_counts + other.type_counts,
            self.hours + other.hours,
            self.regions + other.regions,
            self.log_sum + other.log_sum,
            self.log_sq_sum + other.log_sq_sum,
        )


@dataclass(frozen=True)
class Classification:
    persona: IntArray
    """(n,) index into keys of the most probable persona, -1 when unmatched"""
    best: IntArray
    """(n,) the most probable persona even when unmatched"""
    probability: FloatArray
    """(n,) posterior of `best`"""
    outlier_z: FloatArray
    """(n,) best log-likelihood as a z-score under that persona's own model (very negative = odd)"""
    resource_z: FloatArray
    """(n, 4) log-resource z-scores under `best`"""
    posterior: FloatArray
    """(n, K)"""


@dataclass(frozen=True)
class PersonaMatcher:
    vocabulary: Vocabulary
    declared: PersonaParameters
    settings: MatcherSettings = field(default_factory=MatcherSettings)
    learned: Statistics | None = None

    # ---- construction ----------------------------------------------------------------------

    @staticmethod
    def from_personas(
        personas: Sequence[Persona],
        settings: MatcherSettings | None = None,
        versions: Sequence[int] | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> PersonaMatcher:
        """Personas in key order; `versions` (same order as `personas`) label what is learned."""
        cfg = settings or MatcherSettings()
        paired = sorted(
            zip(personas, versions or [1] * len(personas), strict=True), key=lambda p: p[0].key
        )
        ordered = [p for p, _ in paired]
        vocab = vocabulary or Vocabulary.covering(
            (p.traffic_pattern.access_types for p in ordered),
            (p.traffic_pattern.geographic_distribution for p in ordered),
        )
        params = PersonaParameters(
            keys=tuple(p.key for p in ordered),
            versions=tuple(v for _, v in paired),
            log_type=np.log(np.array([_type_probs(p, vocab, cfg) for p in ordered])),
            log_time=np.log(np.array([_time_probs(p, cfg) for p in ordered])),
            log_region=np.log(np.array([_region_probs(p, vocab, cfg) for p in ordered])),
            res_mu=np.log(np.maximum(np.array([per_event(p, cfg) for p in ordered]), LOG_FLOOR)),
            res_sigma=np.full((len(ordered), len(RESOURCES)), cfg.resource_sigma),
            log_weight=np.full(len(ordered), -np.log(max(len(ordered), 1))),
            one_off=tuple(_one_offs(p) for p in ordered),
        )
        return PersonaMatcher(vocab, params, cfg)

    # ---- the wt-4 SessionClassifier call shape ---------------------------------------------

    @property
    def keys(self) -> list[str]:
        return list(self.declared.keys)

    @property
    def personas(self) -> list[str]:
        """Code -> name, as the ingest classifier numbers them: 0 = unmatched, k+1 = keys[k]."""
        return [UNMATCHED, *self.declared.keys]

    def classify(self, features: SessionFeatures) -> tuple[IntArray, FloatArray]:
        """(persona code, probability) per session; code 0 = unmatched (see `personas`)."""
        result = self.score(features)
        return np.asarray(result.persona + 1, dtype=np.int64), result.probability

    # ---- scoring ---------------------------------------------------------------------------

    def parameters(self) -> PersonaParameters:
        """Declared parameters, or the learned ones when sessions were observed."""
        return self._in_force

    @cached_property
    def _in_force(self) -> PersonaParameters:
        if self.learned is None:
            return self.declared
        return _learned_parameters(self.declared, self.learned, self.settings)

    def log_likelihood(self, features: SessionFeatures) -> tuple[FloatArray, FloatArray]:
        """(n, K) log p(session | k) and (n, K, 4) resource z-scores."""
        p = self.parameters()
        ll = features.counts() @ p.log_type.T
        ll += p.log_time[:, features.hour_of_week].T
        ll += p.log_region[:, _region_slot(features.region, p.log_region.shape[1])].T
        logx = np.log(np.maximum(features.resource_per_event, LOG_FLOOR))
        z = (logx[:, None, :] - p.res_mu[None, :, :]) / p.res_sigma[None, :, :]
        ll += np.sum(-0.5 * z**2 - np.log(p.res_sigma * np.sqrt(2 * np.pi))[None], axis=2)
        if features.start_s is not None:
            ll += _one_off_bonus(features.start_s, p.one_off, self.settings.peak_boost)
        return ll, z

    def score(self, features: SessionFeatures) -> Classification:
        n, k = len(features), len(self.declared.keys)
        if n == 0 or k == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Classification(
                np.full(n, -1, dtype=np.int64),
                np.full(n, -1, dtype=np.int64) if n else empty,
                np.zeros(n),
                np.zeros(n),
                np.zeros((n, 4)),
                np.zeros((n, k)),
            )
        p = self.parameters()
        ll, logx = self._log_likelihood_fast(p, features)
        joint = ll + p.log_weight[None, :]
        joint -= row_max(joint)[:, None]
        post = np.exp(joint)
        post /= row_sum(post)[:, None]
        best = row_argmax(post)
        rows = np.arange(n)
        per_event_mean, per_event_var, fixed_mean, fixed_var = _moments(p)
        events = features.events()
        mean = events * per_event_mean[best] + fixed_mean[best]
        var = np.maximum(events * per_event_var[best] + fixed_var[best], 1e-9)
        resource_z = (logx - np.take(p.res_mu, best, axis=0)) / np.take(p.res_sigma, best, axis=0)
        outlier = ll[rows, best] + self._unusual_use_forgiven(resource_z) - mean
        outlier /= np.sqrt(var)
        prob = post[rows, best]
        ok = (prob >= self.settings.min_probability) & (outlier >= -self.settings.max_outlier_z)
        return Classification(
            np.where(ok, best, -1).astype(np.int64),
            best.astype(np.int64),
            prob,
            outlier,
            resource_z,
            post,
        )

    def _unusual_use_forgiven(self, z: FloatArray) -> FloatArray:
        """What the resource terms beyond `outlier_resource_cap` take off a session's
        log-likelihood, given back for the outlier test.

        A session that behaves like a persona but uses odd resources is that persona's
        *unusual* session (its resource z-scores flag it), not one that fits no persona: each
        resource counts at most as if it were `outlier_resource_cap` off. Without this, one
        resource 4 learned standard deviations off cost 7.5 nats, about 4.4 of the outlier
        test's standard deviations, and with the learned spreads (about 0.28 in log use on
        the example events, against the declared 0.5) 3x-CPU shoppers went to `unmatched`.
        """
        cap = self.settings.outlier_resource_cap
        capped = np.clip(z, -cap, cap)
        return np.asarray(0.5 * row_sum(z**2 - capped**2))

    def _log_likelihood_fast(
        self, p: PersonaParameters, features: SessionFeatures
    ) -> tuple[FloatArray, FloatArray]:
        """(n, K) log p(session | k) as matrix products (the resource square expanded), and
        (n, 4) log resources: the stream's path, no (n, K, 4) temporaries."""
        ll = features.type_counts @ p.log_type.T
        if features.type_rows is not None:
            ll = ll[features.type_rows]
        ll += np.ascontiguousarray(p.log_time.T)[features.hour_of_week]
        slots = _region_slot(features.region, p.log_region.shape[1])
        ll += np.ascontiguousarray(p.log_region.T)[slots]
        logx = np.log(np.maximum(features.resource_per_event, LOG_FLOOR))
        inv = 1.0 / p.res_sigma**2
        quad = (logx**2) @ inv.T - 2.0 * (logx @ (p.res_mu * inv).T)
        quad += np.sum(p.res_mu**2 * inv, axis=1)[None, :]
        ll += -0.5 * quad - np.sum(np.log(p.res_sigma * np.sqrt(2 * np.pi)), axis=1)[None, :]
        if features.start_s is not None:
            ll += _one_off_bonus(features.start_s, p.one_off, self.settings.peak_boost)
        return ll, logx

    # ---- learning --------------------------------------------------------------------------

    def refine(
        self,
        features: SessionFeatures,
        weights: FloatArray | None = None,
        iterations: int = 3,
        decay: float = 1.0,
    ) -> PersonaMatcher:
        """EM from observed sessions: responsibilities from the current model (unmatched
        sessions get none, so anomalies do not teach the model), then MAP parameters with the
        declared ones as a prior worth `prior_strength` sessions. Online: statistics already
        learned are kept, multiplied by `decay` (< 1 forgets old behaviour)."""
        if len(features) == 0:
            return self
        base = self.learned.scaled(decay) if self.learned is not None else None
        w = np.ones(len(features)) if weights is None else np.asarray(weights, dtype=np.float64)
        current = self
        for _ in range(iterations):
            result = current.score(features)
            resp = result.posterior * (result.persona >= 0)[:, None] * w[:, None]
            batch = _statistics(features, resp, self.declared)
            current = replace(self, learned=batch if base is None else base.plus(batch))
        return current

    def for_versions(self, personas: Sequence[Persona], versions: Sequence[int]) -> PersonaMatcher:
        """A matcher for (possibly) new persona versions, keeping what was learned for every
        persona whose version did not change; a changed persona starts again from its definition."""
        fresh = PersonaMatcher.from_personas(personas, self.settings, versions, self.vocabulary)
        if self.learned is None:
            return fresh
        kept = Statistics.zeros(
            len(fresh.declared.keys),
            fresh.declared.log_type.shape[1],
            fresh.declared.log_region.shape[1],
        )
        old = {
            (k, v): i
            for i, (k, v) in enumerate(zip(self.declared.keys, self.declared.versions, strict=True))
        }
        arrays = [np.array(a, copy=True) for a in _fields(kept)]
        for j, kv in enumerate(zip(fresh.declared.keys, fresh.declared.versions, strict=True)):
            i = old.get(kv)
            if i is not None:
                for target, source in zip(arrays, _fields(self.learned), strict=True):
                    target[j] = source[i]
        return replace(fresh, learned=Statistics(*arrays))


def per_event(persona: Persona, settings: MatcherSettings) -> list[float]:
    """The declared per-session profile in per-event units (see the module docstring)."""
    profile, t = persona.resource_profile, settings.event_seconds
    return [
        profile.cpu_demand * 1000.0 * t,
        profile.memory_demand * t,
        profile.network_bandwidth * 125.0 * t,
        profile.io_operations * t,
    ]


def _fields(s: Statistics) -> list[FloatArray]:
    return [s.sessions, s.type_counts, s.hours, s.regions, s.log_sum, s.log_sq_sum]


def _type_probs(p: Persona, vocab: Vocabulary, cfg: MatcherSettings) -> FloatArray:
    declared = set(p.traffic_pattern.access_types)
    inside = np.array([t in declared for t in vocab.event_types] + [False])
    out = np.where(
        inside, (1 - cfg.type_smoothing) / inside.sum(), cfg.type_smoothing / (~inside).sum()
    )
    return np.asarray(out, dtype=np.float64)


def _region_probs(p: Persona, vocab: Vocabulary, cfg: MatcherSettings) -> FloatArray:
    shares = p.traffic_pattern.geographic_distribution
    raw = np.array([shares.get(r, 0.0) for r in vocab.regions] + [0.0])
    out = (1 - cfg.region_smoothing) * raw + cfg.region_smoothing / raw.shape[0]
    return np.asarray(out / out.sum(), dtype=np.float64)


def _time_probs(p: Persona, cfg: MatcherSettings) -> FloatArray:
    windows = [w for w in p.traffic_pattern.peak_times if isinstance(w, PeakWindow)]
    inside = np.zeros(HOURS_PER_WEEK)
    if windows:
        # the first Monday of the reference year, then every 4th week through the year
        first = datetime(cfg.reference_year, 1, 1, tzinfo=UTC)
        first += timedelta(days=(7 - first.weekday()) % 7)
        weeks = [first + timedelta(weeks=4 * i) for i in range(13)]
        for monday in weeks:
            for h in range(HOURS_PER_WEEK):
                when = monday + timedelta(hours=h, minutes=30)
                if any(_in_window(w, when) for w in windows):
                    inside[h] += 1.0 / len(weeks)
    weights = 1.0 + (cfg.peak_boost - 1.0) * inside
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def _in_window(w: PeakWindow, when: datetime) -> bool:
    local = when.astimezone(ZoneInfo(w.timezone))
    now = local.time()
    inside = w.start <= now < w.end if w.start < w.end else (now >= w.start or now < w.end)
    if w.start > w.end and now < w.end:
        # after midnight of a wrapping window: it belongs to the previous day's window
        day = WEEKDAYS[(local.weekday() - 1) % 7]
    else:
        day = WEEKDAYS[local.weekday()]
    return inside and day in w.days


def _one_offs(p: Persona) -> tuple[tuple[float, float], ...]:
    return tuple(
        (w.start.timestamp(), w.end.timestamp())
        for w in p.traffic_pattern.peak_times
        if isinstance(w, OneOffPeak)
    )


def _one_off_bonus(
    start_s: FloatArray, one_off: tuple[tuple[tuple[float, float], ...], ...], boost: float
) -> FloatArray:
    bonus = np.zeros((start_s.shape[0], len(one_off)))
    for k, windows in enumerate(one_off):
        for a, b in windows:
            bonus[:, k] = np.where((start_s >= a) & (start_s < b), np.log(boost), bonus[:, k])
    return bonus


def _region_slot(region: IntArray, slots: int) -> IntArray:
    return np.asarray(np.where(region < 0, slots - 1, region), dtype=np.int64)


def _moments(p: PersonaParameters) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per persona: mean and variance of log p(session | k) for sessions drawn from k itself,
    as (per event mean, per event variance, fixed mean, fixed variance)."""

    def moments(logp: FloatArray) -> tuple[FloatArray, FloatArray]:
        prob = np.exp(logp)
        m1 = np.sum(prob * logp, axis=1)
        return m1, np.sum(prob * logp**2, axis=1) - m1**2

    t_mean, t_var = moments(p.log_type)
    h_mean, h_var = moments(p.log_time)
    r_mean, r_var = moments(p.log_region)
    res_mean = np.sum(-0.5 - np.log(p.res_sigma * np.sqrt(2 * np.pi)), axis=1)
    res_var = np.full(res_mean.shape, 0.5 * p.res_sigma.shape[1])
    return t_mean, t_var, h_mean + r_mean + res_mean, h_var + r_var + res_var


def _statistics(
    features: SessionFeatures, resp: FloatArray, declared: PersonaParameters
) -> Statistics:
    k, hours_n = resp.shape[1], HOURS_PER_WEEK
    slots = declared.log_region.shape[1]
    logx = np.log(np.maximum(features.resource_per_event, LOG_FLOOR))
    hours = np.zeros((k, hours_n))
    regions = np.zeros((k, slots))
    for j in range(k):
        hours[j] = np.bincount(features.hour_of_week, weights=resp[:, j], minlength=hours_n)
        regions[j] = np.bincount(
            _region_slot(features.region, slots), weights=resp[:, j], minlength=slots
        )
    return Statistics(
        resp.sum(axis=0),
        resp.T @ features.counts(),
        hours,
        regions,
        resp.T @ logx,
        resp.T @ logx**2,
    )


def _learned_parameters(
    d: PersonaParameters, s: Statistics, cfg: MatcherSettings
) -> PersonaParameters:
    """MAP estimates: declared parameters act as `prior_strength` pseudo-sessions."""
    a = cfg.prior_strength
    events_per_session = np.where(
        s.sessions > 0, s.type_counts.sum(axis=1) / np.maximum(s.sessions, 1e-12), 1.0
    )
    type_mass = a * events_per_session
    log_type = np.log(
        (np.exp(d.log_type) * type_mass[:, None] + s.type_counts)
        / (type_mass + s.type_counts.sum(axis=1))[:, None]
    )
    log_time = np.log((np.exp(d.log_time) * a + s.hours) / (a + s.hours.sum(axis=1))[:, None])
    log_region = np.log(
        (np.exp(d.log_region) * a + s.regions) / (a + s.regions.sum(axis=1))[:, None]
    )
    n = s.sessions[:, None]
    mu = (d.res_mu * a + s.log_sum) / (a + n)
    second = (a * (d.res_sigma**2 + d.res_mu**2) + s.log_sq_sum) / (a + n)
    sigma = np.sqrt(np.maximum(second - mu**2, 0.05**2))
    weight = (a + s.sessions) / (a + s.sessions).sum()
    return replace(
        d,
        log_type=log_type,
        log_time=log_time,
        log_region=log_region,
        res_mu=mu,
        res_sigma=sigma,
        log_weight=np.log(weight),
    )


def learned_rows(matcher: PersonaMatcher) -> dict[tuple[str, int], dict[str, list[Any]]]:
    """What was learned, per (persona key, version), as plain lists (for a store to persist).

    The vocabulary is part of each row, so rows read back under a different vocabulary are
    re-indexed by name rather than misread."""
    if matcher.learned is None:
        return {}
    s, vocab = matcher.learned, matcher.vocabulary
    out = {}
    for k, key in enumerate(matcher.declared.keys):
        out[(key, matcher.declared.versions[k])] = {
            "sessions": [float(s.sessions[k])],
            "type_names": list(vocab.event_types),
            "type_counts": s.type_counts[k].tolist(),
            "hours": s.hours[k].tolist(),
            "region_names": list(vocab.regions),
            "regions": s.regions[k].tolist(),
            "log_sum": s.log_sum[k].tolist(),
            "log_sq_sum": s.log_sq_sum[k].tolist(),
        }
    return out


def with_learned_rows(
    matcher: PersonaMatcher, rows: dict[tuple[str, int], dict[str, list[Any]]]
) -> PersonaMatcher:
    """The matcher with stored statistics restored for the (key, version)s it has; rows of other
    versions are ignored (a changed persona starts from its definition)."""
    d, vocab = matcher.declared, matcher.vocabulary
    k, v, r = len(d.keys), d.log_type.shape[1], d.log_region.shape[1]
    s = Statistics.zeros(k, v, r)
    arrays = [np.array(a, copy=True) for a in _fields(s)]
    sessions, types, hours, regions, log_sum, log_sq = arrays
    for j, key in enumerate(d.keys):
        row = rows.get((key, d.versions[j]))
        if row is None:
            continue
        sessions[j] = row["sessions"][0]
        types[j] = _reindex(row["type_names"], row["type_counts"], vocab.event_types, v)
        hours[j] = row["hours"]
        regions[j] = _reindex(row["region_names"], row["regions"], vocab.regions, r)
        log_sum[j] = row["log_sum"]
        log_sq[j] = row["log_sq_sum"]
    return replace(matcher, learned=Statistics(*arrays))


def _reindex(
    names: Sequence[object], values: Sequence[float], target: Sequence[str], slots: int
) -> FloatArray:
    out = np.zeros(slots)
    lookup = {name: i for i, name in enumerate(target)}
    for i, value in enumerate(values):
        name = names[i] if i < len(names) else None
        out[lookup.get(str(name), slots - 1) if name is not None else slots - 1] += value
    return out


def session_statistics(
    matcher: PersonaMatcher,
    features: SessionFeatures,
    classification: Classification,
    teach: npt.NDArray[np.bool_],
) -> Statistics:
    """One online-EM step: the sufficient statistics of the sessions marked `teach`, each
    spread over personas by its posterior under the parameters in force."""
    resp = classification.posterior * teach[:, None]
    return _statistics(features, resp, matcher.declared)


LearnedRow = dict[str, list[Any]]


def add_learned_rows(a: LearnedRow, b: LearnedRow) -> LearnedRow:
    """Two rows of `learned_rows` for one persona version, summed; types and regions are added
    by name (the rows may come from matchers with different vocabularies)."""

    def by_name(names_key: str, values_key: str) -> tuple[list[Any], list[float]]:
        total: dict[str, float] = {}
        other = 0.0
        for row in (a, b):
            names, values = row[names_key], row[values_key]
            for i, value in enumerate(values):
                if i < len(names):
                    total[str(names[i])] = total.get(str(names[i]), 0.0) + float(value)
                else:
                    other += float(value)
        ordered = sorted(total)
        return list(ordered), [total[n] for n in ordered] + [other]

    type_names, type_counts = by_name("type_names", "type_counts")
    region_names, regions = by_name("region_names", "regions")
    return {
        "sessions": [float(a["sessions"][0]) + float(b["sessions"][0])],
        "type_names": type_names,
        "type_counts": type_counts,
        "hours": (np.asarray(a["hours"]) + np.asarray(b["hours"])).tolist(),
        "region_names": region_names,
        "regions": regions,
        "log_sum": (np.asarray(a["log_sum"]) + np.asarray(b["log_sum"])).tolist(),
        "log_sq_sum": (np.asarray(a["log_sq_sum"]) + np.asarray(b["log_sq_sum"])).tolist(),
    }
