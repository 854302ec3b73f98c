"""The persona matcher on the example personas: clear cases, the unmatched path, learning, drift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from controller.adapters.persona_files import load_persona_directory
from controller.domain.persona import Persona
from controller.matching.drift import drift
from controller.matching.features import SessionFeatures, counts_from_type_masks, hour_of_week
from controller.matching.model import (
    UNMATCHED,
    PersonaMatcher,
    learned_rows,
    with_learned_rows,
)
from controller.matching.synthetic import GeneratorSettings, generate

PERSONAS = Path(__file__).resolve().parents[2] / "personas"


@pytest.fixture(scope="module")
def personas() -> list[Persona]:
    found = [f.persona for f in load_persona_directory(PERSONAS)]
    return sorted(found, key=lambda p: p.key)


@pytest.fixture(scope="module")
def matcher(personas: list[Persona]) -> PersonaMatcher:
    return PersonaMatcher.from_personas(personas)


def _session(
    m: PersonaMatcher, types: dict[str, int], resources: list[float], region: str, hour: int = 40
) -> SessionFeatures:
    counts = m.vocabulary.type_counts([[t for t, n in types.items() for _ in range(n)]])
    return SessionFeatures(
        counts,
        np.array([resources], dtype=float),
        np.array([hour]),
        m.vocabulary.region_index([region]),
    )


def test_a_shopping_session_is_matched_to_the_shopper_with_high_probability(
    matcher: PersonaMatcher,
) -> None:
    session = _session(
        matcher, {"browse": 4, "search": 2, "purchase": 1}, [50, 64, 250, 5], "eu-west-1"
    )
    codes, probability = matcher.classify(session)
    assert matcher.personas[int(codes[0])] == "peak-hour-shopper"
    assert probability[0] > 0.99


def test_a_publishing_session_is_matched_to_the_publisher(matcher: PersonaMatcher) -> None:
    session = _session(matcher, {"upload": 2, "edit": 3}, [200, 256, 1250, 40], "us-east-1")
    codes, _ = matcher.classify(session)
    assert matcher.personas[int(codes[0])] == "content-publisher"


def test_a_session_of_unknown_event_types_is_unmatched(matcher: PersonaMatcher) -> None:
    session = _session(matcher, {"export": 6, "admin": 4}, [50, 64, 250, 5], "us-east-1")
    codes, _ = matcher.classify(session)
    assert matcher.personas[int(codes[0])] == UNMATCHED
    assert matcher.score(session).outlier_z[0] < -6


def test_a_session_torn_between_two_personas_is_unmatched(matcher: PersonaMatcher) -> None:
    # one type of each, resources midway: no persona is >= 0.6 likely
    session = _session(matcher, {"browse": 1, "upload": 1}, [100, 128, 560, 14], "us-east-1")
    result = matcher.score(session)
    assert result.persona[0] == -1
    assert result.probability[0] < 0.6


def test_type_masks_become_presence_counts_over_the_vocabulary(matcher: PersonaMatcher) -> None:
    bit_names = ["browse", "export", "purchase"]
    masks = np.array([0b101, 0b010], dtype=np.uint64)
    counts = counts_from_type_masks(masks, bit_names, matcher.vocabulary)
    vocab = matcher.vocabulary.event_types
    assert counts[0, vocab.index("browse")] == 1 and counts[0, vocab.index("purchase")] == 1
    assert counts[1, -1] == 1 and counts[1].sum() == 1


def test_hour_of_week_counts_from_monday_midnight_utc() -> None:
    monday = 1767571200  # 2026-01-05T00:00Z, a Monday
    assert hour_of_week(np.array([monday, monday + 3600 * 30])).tolist() == [0, 30]


def test_generated_default_mix_is_matched_with_macro_f1_above_0_9(
    personas: list[Persona], matcher: PersonaMatcher
) -> None:
    data = generate(personas, matcher.vocabulary, GeneratorSettings(sessions=3000))
    predicted = matcher.score(data.features).persona
    f1 = []
    for k in range(len(personas)):
        tp = np.sum((predicted == k) & (data.labels == k))
        precision = tp / max(np.sum(predicted == k), 1)
        recall = tp / max(np.sum(data.labels == k), 1)
        f1.append(2 * precision * recall / max(precision + recall, 1e-9))
    assert np.mean(f1) >= 0.9


def test_learning_moves_resource_and_type_parameters_toward_the_data(
    personas: list[Persona], matcher: PersonaMatcher
) -> None:
    shopper = matcher.keys.index("peak-hour-shopper")
    # shoppers that really use twice the declared CPU per event and mostly search
    n = 400
    counts = matcher.vocabulary.type_counts([["search"] * 4 + ["browse"]] * n)
    features = SessionFeatures(
        counts,
        np.tile([100.0, 64, 250, 5], (n, 1)),
        np.full(n, 40),
        matcher.vocabulary.region_index(["us-east-1"] * n),
    )
    learned = matcher.refine(features)
    before, after = matcher.parameters(), learned.parameters()
    declared_cpu, learned_cpu = np.exp(before.res_mu[shopper, 0]), np.exp(after.res_mu[shopper, 0])
    assert declared_cpu == pytest.approx(50.0)
    assert 80.0 < learned_cpu < 100.0
    search = matcher.vocabulary.event_types.index("search")
    assert after.log_type[shopper, search] > before.log_type[shopper, search]

    report = {d.persona: d for d in drift(learned)}["peak-hour-shopper"]
    assert report.sessions == pytest.approx(n, rel=0.01)
    assert report.resources["cpu_ms"][1] > report.resources["cpu_ms"][0]
    assert "search" in report.event_types
    assert report.type_distance > 0.2


def test_unmatched_sessions_do_not_teach_the_model(matcher: PersonaMatcher) -> None:
    n = 200
    features = SessionFeatures(
        matcher.vocabulary.type_counts([["export"] * 8] * n),
        np.tile([5000.0, 4096, 90000, 900], (n, 1)),
        np.full(n, 40),
        matcher.vocabulary.region_index(["us-east-1"] * n),
    )
    learned = matcher.refine(features)
    assert learned.learned is not None
    assert learned.learned.sessions.sum() == 0
    assert np.allclose(learned.parameters().res_mu, matcher.parameters().res_mu)


def test_a_new_persona_version_forgets_what_was_learned_for_the_old_one(
    personas: list[Persona], matcher: PersonaMatcher
) -> None:
    data = generate(personas, matcher.vocabulary, GeneratorSettings(sessions=500))
    learned = matcher.refine(data.features)
    assert learned.learned is not None
    bumped = learned.for_versions(personas, [1, 2, 1])  # content-publisher changed
    assert bumped.learned is not None
    publisher = bumped.keys.index("content-publisher")
    assert bumped.learned.sessions[publisher] == 0
    shopper = bumped.keys.index("peak-hour-shopper")
    assert bumped.learned.sessions[shopper] == learned.learned.sessions[shopper] > 0


def test_learned_statistics_survive_a_round_trip_through_plain_rows(
    personas: list[Persona], matcher: PersonaMatcher
) -> None:
    data = generate(personas, matcher.vocabulary, GeneratorSettings(sessions=500))
    learned = matcher.refine(data.features)
    rows = json.loads(
        json.dumps({f"{k}@{v}": row for (k, v), row in learned_rows(learned).items()})
    )
    restored = with_learned_rows(
        matcher, {(k.split("@")[0], int(k.split("@")[1])): row for k, row in rows.items()}
    )
    assert np.allclose(restored.parameters().res_mu, learned.parameters().res_mu)
    assert np.allclose(restored.parameters().log_type, learned.parameters().log_type)
    # rows of another version are ignored
    stale = with_learned_rows(
        PersonaMatcher.from_personas(personas, versions=[2, 2, 2]), learned_rows(learned)
    )
    assert stale.learned is not None and stale.learned.sessions.sum() == 0


def test_a_session_inside_a_declared_peak_window_is_likelier_for_that_persona(
    matcher: PersonaMatcher,
) -> None:
    shopper = matcher.keys.index("peak-hour-shopper")
    times = matcher.parameters().log_time[shopper]
    # Wednesday 12:30 New York is 17:30 UTC in winter, 16:30 in summer: both partly boosted
    wednesday_lunch_utc = 2 * 24 + 17
    wednesday_night_utc = 2 * 24 + 8
    assert times[wednesday_lunch_utc] > times[wednesday_night_utc] + np.log(2)


def test_a_session_inside_a_one_off_peak_gets_that_personas_boost(
    matcher: PersonaMatcher,
) -> None:
    black_friday = 1795760400.0  # 2026-11-27T06:20Z, inside the API consumer's partner sync
    session = _session(matcher, {"api_read": 1}, [20, 16, 125, 2], "us-east-1")
    inside = SessionFeatures(
        session.type_counts,
        session.resource_per_event,
        session.hour_of_week,
        session.region,
        np.array([black_friday]),
    )
    api = matcher.keys.index("api-consumer")
    with_peak, _ = matcher.log_likelihood(inside)
    without, _ = matcher.log_likelihood(session)
    assert with_peak[0, api] - without[0, api] == pytest.approx(np.log(3.0))


def test_after_learning_a_tight_spread_odd_resource_use_is_unusual_not_unmatched(
    matcher: PersonaMatcher,
) -> None:
    """Learning tightens a persona's resource spread to the data's; a session that shops like
    a shopper but burns 10x the CPU is still the shopper's (and unusual), not 'fits none'."""
    rng = np.random.default_rng(5)
    n = 2000
    noise = rng.lognormal(0.0, 0.3, size=(n, 1))
    learned = matcher.refine(
        SessionFeatures(
            matcher.vocabulary.type_counts([["browse", "search", "purchase"]] * n),
            np.array([[50.0, 64, 250, 5]]) * noise,
            np.full(n, 40),
            matcher.vocabulary.region_index(["us-east-1"] * n),
        )
    )
    shopper = learned.keys.index("peak-hour-shopper")
    assert learned.parameters().res_sigma[shopper, 0] < 0.4
    heavy = _session(
        learned, {"browse": 2, "search": 1, "purchase": 1}, [500, 64, 250, 5], "us-east-1"
    )
    result = learned.score(heavy)
    assert learned.personas[int(result.persona[0]) + 1] == "peak-hour-shopper"
    assert abs(result.resource_z[0, 0]) > learned.settings.resource_z  # unusual
