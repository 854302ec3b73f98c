"""Which persona a session belongs to, from the event types it used.

Until a learned matcher exists, a session's persona is the one whose `access_types` cover the
most of its event types; ties go to the persona with the fewest other types (the tighter fit),
then to the key. A session using no type any persona declares is unmatched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from controller.ingest.columns import IntArray
from controller.ingest.sessions import TypeBits, UIntArray

UNMATCHED = "unmatched"


class AccessTypeMatcher:
    def __init__(self, access_types: Mapping[str, Iterable[str]]) -> None:
        self._types = {key: frozenset(types) for key, types in sorted(access_types.items())}

    @property
    def keys(self) -> list[str]:
        return list(self._types)

    def match(self, event_types: Iterable[str]) -> str:
        used = set(event_types)
        best, best_score = UNMATCHED, (0.0, 0.0)
        for key, declared in self._types.items():
            covered = len(used & declared)
            if not covered:
                continue
            score = (covered / len(used), covered / len(declared))
            if score > best_score:
                best, best_score = key, score
        return best


class SessionClassifier:
    """Persona codes for many sessions at once, from their event-type masks.

    Sessions share few distinct type sets, so each distinct mask is matched once and cached;
    per event the cost is a table lookup. `personas[code]` names the persona (or UNMATCHED).
    """

    def __init__(self, matcher: AccessTypeMatcher, bits: TypeBits) -> None:
        self.matcher = matcher
        self.bits = bits
        self.personas: list[str] = [UNMATCHED, *matcher.keys]
        self._code = {name: i for i, name in enumerate(self.personas)}
        self._cache: dict[int, int] = {}

    def classify(self, masks: UIntArray) -> IntArray:
        if masks.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        inverse, distinct = pd.factorize(masks)  # hashing: no sort of every event
        codes = np.array([self._match(int(m)) for m in distinct], dtype=np.int64)
        return np.asarray(codes[np.asarray(inverse, dtype=np.int64)], dtype=np.int64)

    def _match(self, mask: int) -> int:
        code = self._cache.get(mask)
        if code is None:
            code = self._code[self.matcher.match(self.bits.names_in(mask))]
            self._cache[mask] = code
        return code
