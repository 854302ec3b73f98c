"""Which persona a session belongs to: the persona matcher (controller.matching) over sessions.

Every event is classified by its session as of that event (types used so far, resource use per
event so far, start time, region), all sessions of a batch in one numpy pass. A session below the
matcher's thresholds counts for the pseudo-persona "unmatched". A matched session is *unusual*
when its resource use per event is more than `unusual_z` of its persona's (learned or declared)
standard deviations away from the persona's mean in any resource, in log space.

Learning reads complete sessions only: `statistics` is one EM step (responsibilities under the
parameters in force) over the sessions a batch closed; matched, usual sessions teach, unmatched
and unusual ones do not (anomalies must not become the norm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from controller.ingest.columns import BoolArray, IntArray
from controller.ingest.sessions import SessionSoFar, TypeBits
from controller.matching.features import (
    FloatArray,
    SessionFeatures,
    counts_from_type_masks,
    hour_of_week,
)
from controller.matching.model import (
    UNMATCHED,
    Classification,
    PersonaMatcher,
    Statistics,
    session_statistics,
)
from controller.matching.rows import row_max

__all__ = ["UNMATCHED", "SessionClassifier", "SessionMatches"]

DEFAULT_UNUSUAL_Z = 4.0


@dataclass(frozen=True)
class SessionMatches:
    codes: IntArray
    """persona code per session: 0 = unmatched, k + 1 = matcher key k (see `personas`)"""
    probability: FloatArray
    """posterior of the most probable persona"""
    unusual: BoolArray
    """matched, but resource use far outside the persona's profile"""
    classification: Classification


class SessionClassifier:
    """Persona codes for many sessions at once; `personas[code]` names the persona."""

    def __init__(
        self, matcher: PersonaMatcher, bits: TypeBits, unusual_z: float = DEFAULT_UNUSUAL_Z
    ) -> None:
        self.matcher = matcher
        self.bits = bits
        self.unusual_z = unusual_z
        self.personas: list[str] = matcher.personas

    def features(self, sessions: SessionSoFar) -> SessionFeatures:
        vocabulary = self.matcher.vocabulary
        inverse, distinct = pd.factorize(sessions.mask)  # few distinct type mixes
        counts = counts_from_type_masks(
            np.asarray(distinct, dtype=np.uint64), self.bits.names, vocabulary
        )
        per_event = sessions.resources / (1000.0 * np.maximum(sessions.events, 1))[:, None]
        slots = {name: i for i, name in enumerate(vocabulary.regions)}
        region_slot = np.array(
            [slots.get(name, -1) for name in sessions.region_names] or [-1], dtype=np.int64
        )
        start_s = sessions.start_ms / 1000.0
        one_offs = any(self.matcher.declared.one_off)
        return SessionFeatures(
            counts,
            np.asarray(per_event, dtype=np.float64),
            hour_of_week(start_s),
            region_slot[sessions.region] if len(sessions) else np.zeros(0, dtype=np.int64),
            start_s if one_offs else None,
            np.asarray(inverse, dtype=np.int64),
        )

    def classify(self, sessions: SessionSoFar) -> SessionMatches:
        result = self.matcher.score(self.features(sessions))
        matched = result.persona >= 0
        far = row_max(np.abs(result.resource_z)) > self.unusual_z if len(sessions) else matched
        return SessionMatches(
            np.asarray(result.persona + 1, dtype=np.int64),
            result.probability,
            np.asarray(matched & far, dtype=bool),
            result,
        )

    def statistics(self, sessions: SessionSoFar) -> Statistics | None:
        """What the complete `sessions` teach (None when they teach nothing)."""
        if len(sessions) == 0 or not self.matcher.keys:
            return None
        features = self.features(sessions)
        found = self.classify(sessions)
        teach = (found.codes > 0) & ~found.unusual
        if not teach.any():
            return None
        return session_statistics(self.matcher, features, found.classification, teach)
