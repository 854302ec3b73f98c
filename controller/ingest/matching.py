"""Which persona a session belongs to, from the event types it used.

Until a learned matcher exists, a session's persona is the one whose `access_types` cover the
most of its event types; ties go to the persona with the fewest other types (the tighter fit),
then to the key. A session using no type any persona declares is unmatched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

UNMATCHED = "unmatched"


class AccessTypeMatcher:
    def __init__(self, access_types: Mapping[str, Iterable[str]]) -> None:
        self._types = {key: frozenset(types) for key, types in sorted(access_types.items())}

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
