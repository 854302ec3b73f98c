"""What the feedback loop learned, per persona: model choices (every one, with why and when),
bias corrections (every change; the one in force at a time is the latest before it) and learned
resource profiles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Text,
    select,
    update,
)

from controller.adapters.storage.db import from_epoch, metadata, to_epoch
from controller.feedback.profiles import LearnedProfile
from controller.feedback.reselection import KeptChoice

model_choices = Table(
    "feedback_model_choices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("series_id", String(120), nullable=False, index=True),
    Column("selected_at", BigInteger, nullable=False),
    Column("models", Text, nullable=False),
    Column("weights", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("baseline_mase", Float, nullable=True),
)

bias_corrections = Table(
    "feedback_bias_corrections",
    metadata,
    Column("series_id", String(120), primary_key=True),
    Column("since", BigInteger, primary_key=True),
    Column("factor", Float, nullable=False),
    Column("reason", Text, nullable=False),
)

learned_profiles = Table(
    "feedback_learned_profiles",
    metadata,
    Column("series_id", String(120), primary_key=True),
    Column("learned_at", BigInteger, nullable=False),
    Column("buckets", Integer, nullable=False),
    Column("cpu", Float, nullable=False),
    Column("memory", Float, nullable=False),
    Column("network", Float, nullable=False),
    Column("iops", Float, nullable=False),
)


@dataclass(frozen=True)
class BiasCorrection:
    since: datetime
    factor: float
    reason: str


@dataclass(frozen=True)
class StoredProfile:
    learned_at: datetime
    profile: LearnedProfile


class LearningStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine, tables=[model_choices, bias_corrections, learned_profiles])

    # -- model choices ---------------------------------------------------------------------
    def choice(self, series_id: str) -> KeptChoice | None:
        """The choice in force (the latest)."""
        history = self.choices(series_id, limit=1)
        return history[0] if history else None

    def choices(self, series_id: str, limit: int = 20) -> list[KeptChoice]:
        """Newest first: when and why each choice was made."""
        query = (
            select(model_choices)
            .where(model_choices.c.series_id == series_id)
            .order_by(model_choices.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                KeptChoice(
                    tuple(json.loads(row.models)),
                    tuple(float(w) for w in json.loads(row.weights)),
                    from_epoch(row.selected_at),
                    row.reason,
                    row.baseline_mase,
                )
                for row in conn.execute(query)
            ]

    def choose(self, series_id: str, choice: KeptChoice) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                model_choices.insert().values(
                    series_id=series_id,
                    selected_at=to_epoch(choice.selected_at),
                    models=json.dumps(list(choice.models)),
                    weights=json.dumps(list(choice.weights)),
                    reason=choice.reason,
                    baseline_mase=choice.baseline_mase,
                )
            )

    def set_baseline(self, series_id: str, mase: float) -> None:
        """The MASE the choice in force had when its forecasts were first scored."""
        latest = (
            select(model_choices.c.id)
            .where(model_choices.c.series_id == series_id)
            .order_by(model_choices.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(model_choices).where(model_choices.c.id == latest).values(baseline_mase=mase)
            )

    # -- bias corrections ------------------------------------------------------------------
    def corrections(self, series_id: str) -> list[BiasCorrection]:
        """Every change of the correction, oldest first."""
        query = (
            select(bias_corrections)
            .where(bias_corrections.c.series_id == series_id)
            .order_by(bias_corrections.c.since)
        )
        with self.engine.connect() as conn:
            return [
                BiasCorrection(from_epoch(row.since), float(row.factor), row.reason)
                for row in conn.execute(query)
            ]

    def correct(self, series_id: str, correction: BiasCorrection) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                bias_corrections.delete().where(
                    bias_corrections.c.series_id == series_id,
                    bias_corrections.c.since == to_epoch(correction.since),
                )
            )
            conn.execute(
                bias_corrections.insert().values(
                    series_id=series_id,
                    since=to_epoch(correction.since),
                    factor=correction.factor,
                    reason=correction.reason,
                )
            )

    # -- learned resource profiles ---------------------------------------------------------
    def profiles(self) -> dict[str, StoredProfile]:
        with self.engine.connect() as conn:
            return {
                row.series_id: StoredProfile(
                    from_epoch(row.learned_at),
                    LearnedProfile(row.cpu, row.memory, row.network, row.iops, row.buckets),
                )
                for row in conn.execute(select(learned_profiles))
            }

    def learn_profile(self, series_id: str, learned_at: datetime, profile: LearnedProfile) -> None:
        with self.engine.begin() as conn:
            conn.execute(learned_profiles.delete().where(learned_profiles.c.series_id == series_id))
            conn.execute(
                learned_profiles.insert().values(
                    series_id=series_id,
                    learned_at=to_epoch(learned_at),
                    buckets=profile.buckets,
                    cpu=profile.cpu,
                    memory=profile.memory,
                    network=profile.network,
                    iops=profile.iops,
                )
            )


def factor_at(corrections: list[BiasCorrection], when: datetime) -> float:
    """The correction in force at `when` (1.0 before the first)."""
    factor = 1.0
    for correction in corrections:
        if correction.since > when:
            break
        factor = correction.factor
    return factor
