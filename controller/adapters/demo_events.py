"""Realistic example events: arrivals follow a real per-minute request trace, spread over personas.

Used to build the replay file shipped for `make run` and small event files in tests. Each request
of the trace becomes an event with probability `sample` (binomial thinning keeps the burstiness).
Events join sessions of a persona (new or continuing); event types, regions and resource use come
from the persona definitions, with noise. A few malformed lines are mixed in on purpose, as a real
stream has them, so that the dead-letter path is exercised from the first cycle.

Resource use: an event reports its session's use over `event_seconds` (the convention the matcher
reads as `events.event_seconds`: cpu_ms = cpu_demand x 1000 x event_seconds, and so on), and a
session sends at most one event in each `event_seconds` window. So a session active in a window
used exactly its persona's declared `resource_profile` there (times noise of mean 1), which is
what the learned profile measures when the windows are the metric buckets. Before, an event
reported one second while a session sent about one a minute: the example replay showed 1/55 of
the declared use per session, and learned profiles held the fleets at their minimum.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from controller.domain.persona import WEEKDAYS, OneOffPeak, Persona
from controller.matching.model import MatcherSettings, per_event

# A persona inside one of its declared peak windows gets this many times its usual share.
PEAK_BOOST = 3.0
MALFORMED_SHARE = 0.0003
SESSION_IDLE = timedelta(minutes=20)
NEW_SESSION_PROBABILITY = 0.25
NOISE_SIGMA = 0.35
"""log-normal spread of one event's resource use; its mean is 1, so sessions average as declared"""


@dataclass(frozen=True)
class TraceMinute:
    start: datetime
    requests: int


def read_trace(
    path: Path, windows: Sequence[tuple[datetime, datetime]] | None = None
) -> list[TraceMinute]:
    """`timestamp,requests` rows (ISO 8601 with offset), optionally only those inside `windows`."""
    minutes = []
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().strip()
        if header != "timestamp,requests":
            raise ValueError(f"{path}:1: expected header 'timestamp,requests', got {header!r}")
        for line_number, line in enumerate(handle, start=2):
            stamp, _, count = line.strip().partition(",")
            when = datetime.fromisoformat(stamp).astimezone(UTC)
            if windows is None or any(a <= when < b for a, b in windows):
                try:
                    minutes.append(TraceMinute(when, int(count)))
                except ValueError:
                    raise ValueError(
                        f"{path}:{line_number}: requests: not an integer ({count!r})"
                    ) from None
    return minutes


def generate_events(
    trace: Iterable[TraceMinute],
    personas: Sequence[Persona],
    sample: float,
    shift: timedelta = timedelta(0),
    seed: int = 7,
    mix: dict[str, float] | None = None,
    event_seconds: float = 1.0,
) -> Iterator[str]:
    """One NDJSON line per event (and a rare malformed line), in time order; each event reports
    its session's use over `event_seconds` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    keys = [p.key for p in personas]
    base_mix = np.array([(mix or {}).get(k, 1.0) for k in keys], dtype=float)
    sessions: dict[str, list[_Session]] = {k: [] for k in keys}
    use = {p.key: per_event(p, MatcherSettings(event_seconds=event_seconds)) for p in personas}
    counter = 0
    for minute in trace:
        arrivals = int(rng.binomial(minute.requests, sample))
        if arrivals == 0:
            continue
        start = minute.start + shift
        offsets = np.sort(rng.uniform(0, 60, arrivals))
        shares = _mix(base_mix, personas, start)
        chosen = rng.choice(len(keys), size=arrivals, p=shares)
        for offset, index in zip(offsets, chosen, strict=True):
            when = start + timedelta(seconds=float(offset))
            persona = personas[int(index)]
            counter += 1
            if rng.random() < MALFORMED_SHARE:
                yield _malformed(rng, counter)
                continue
            window = int(when.timestamp() // event_seconds)
            session_id, user_id = _session(
                rng, sessions[persona.key], persona.key, when, window, counter
            )
            event = _event(rng, persona, use[persona.key], when, session_id, user_id)
            yield json.dumps(event, separators=(",", ":"))


def write_events(lines: Iterable[str], path: Path) -> int:
    """Write NDJSON (gzip when the name ends in .gz, with a fixed mtime so builds are reproducible)."""
    count = 0
    buffer = io.BytesIO()
    for line in lines:
        buffer.write(line.encode() + b"\n")
        count += 1
    data = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with (
            path.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as gz,
        ):
            gz.write(data)
    else:
        path.write_bytes(data)
    return count


def _mix(base: np.ndarray, personas: Sequence[Persona], when: datetime) -> np.ndarray:
    """Each persona's share of this minute's arrivals: boosted inside its own peak windows."""
    weights = base.copy()
    for i, persona in enumerate(personas):
        if in_peak(persona, when):
            weights[i] *= PEAK_BOOST
    return np.asarray(weights / weights.sum(), dtype=float)


def in_peak(persona: Persona, when: datetime) -> bool:
    for peak in persona.traffic_pattern.peak_times:
        if isinstance(peak, OneOffPeak):
            if peak.start <= when < peak.end:
                return True
            continue
        local = when.astimezone(ZoneInfo(peak.timezone))
        day, now = WEEKDAYS[local.weekday()], local.time()
        inside = (
            peak.start <= now < peak.end
            if peak.start < peak.end
            else (now >= peak.start or now < peak.end)
        )
        if day in peak.days and inside:
            return True
    return False


@dataclass
class _Session:
    session_id: str
    user_id: str
    last: datetime
    window: int
    """the `event_seconds` window of its last event: it sends at most one event per window"""


def _session(
    rng: np.random.Generator,
    active: list[_Session],
    key: str,
    when: datetime,
    window: int,
    counter: int,
) -> tuple[str, str]:
    active[:] = [s for s in active if when - s.last <= SESSION_IDLE]
    free = [s for s in active if s.window != window]
    if free and rng.random() > NEW_SESSION_PROBABILITY:
        session = free[int(rng.integers(len(free)))]
        session.last, session.window = when, window
        return session.session_id, session.user_id
    session_id = f"{key[:3]}-{counter:08d}"
    user_id = f"u{int(rng.integers(1, 10**7)):07d}"
    active.append(_Session(session_id, user_id, when, window))
    return session_id, user_id


def _event(
    rng: np.random.Generator,
    persona: Persona,
    use: list[float],
    when: datetime,
    session_id: str,
    user_id: str,
) -> dict[str, object]:
    types = persona.traffic_pattern.access_types
    weights = np.linspace(2.0, 1.0, len(types))
    regions = list(persona.traffic_pattern.geographic_distribution)
    shares = np.array(list(persona.traffic_pattern.geographic_distribution.values()))
    noise = float(rng.lognormal(-(NOISE_SIGMA**2) / 2, NOISE_SIGMA))
    cpu_ms, memory_mb, network_kb, io_ops = (value * noise for value in use)
    event: dict[str, object] = {
        "user_id": user_id,
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "event_type": types[int(rng.choice(len(types), p=weights / weights.sum()))],
        "resource_consumption": {
            "cpu_ms": _rounded(cpu_ms),
            "memory_mb": _rounded(memory_mb),
            "network_kb": _rounded(network_kb),
            "io_ops": round(io_ops),
        },
        "region": regions[int(rng.choice(len(regions), p=shares / shares.sum()))],
    }
    if rng.random() < 0.85:
        event["session_id"] = session_id
    return event


def _rounded(value: float) -> float | int:
    """A tenth below 100, whole numbers above: noise is +-35%, and digits cost file size."""
    return round(value, 1) if value < 100 else round(value)


def _malformed(rng: np.random.Generator, counter: int) -> str:
    kind = int(rng.integers(3))
    if kind == 0:
        return '{"user_id": "u0000001", "timestamp": "2026-11-0'  # truncated write
    if kind == 1:
        return json.dumps({"user_id": f"u{counter}", "event_type": "browse"})  # fields missing
    return json.dumps(
        {
            "user_id": f"u{counter}",
            "timestamp": "yesterday",
            "event_type": "browse",
            "resource_consumption": {"cpu_ms": 1, "memory_mb": 1, "network_kb": 1, "io_ops": 1},
        }
    )


def bulk_events(
    count: int,
    personas: Sequence[Persona],
    start: datetime,
    events_per_minute: float,
    seed: int = 11,
    session_id_share: float = 0.85,
    events_per_session: float = 6.0,
) -> list[bytes]:
    """`count` NDJSON lines (no newline) in time order, generated with numpy (about 1 s per
    million): sessions of the personas with their event types, regions and noisy resource use.

    For benchmarks and large tests; `generate_events` is the slower, trace-driven generator.
    """
    rng = np.random.default_rng(seed)
    span_s = count / events_per_minute * 60
    sessions = int(count / events_per_session * 1.2) + 16
    persona_of = rng.integers(len(personas), size=sessions)
    begins = rng.uniform(0, span_s, size=sessions)
    lengths = rng.geometric(1 / events_per_session, size=sessions)
    owner = np.repeat(np.arange(sessions), lengths)
    gaps = rng.exponential(60.0, size=owner.shape[0])
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    within = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first] - gaps[first], lengths)
    times = begins[owner] + within
    order = np.argsort(times, kind="stable")[:count]
    owner, times = owner[order], times[order]
    noise = rng.lognormal(0.0, 0.35, size=owner.shape[0])
    pick = rng.random(owner.shape[0])
    users = rng.integers(1, 10**7, size=sessions)
    has_id = rng.random(sessions) < session_id_share
    regions_of = [list(p.traffic_pattern.geographic_distribution) for p in personas]
    region_pick = rng.random(sessions)
    epoch = start.timestamp()
    lines = []
    for i in range(owner.shape[0]):
        s = int(owner[i])
        persona = personas[int(persona_of[s])]
        types = persona.traffic_pattern.access_types
        profile = persona.resource_profile
        shares = persona.traffic_pattern.geographic_distribution
        region = _pick_region(regions_of[int(persona_of[s])], shares, float(region_pick[s]))
        when = datetime.fromtimestamp(epoch + float(times[i]), UTC)
        k = noise[i]
        session = f',"session_id":"s{s:07d}"' if has_id[s] else ""
        lines.append(
            (
                f'{{"user_id":"u{users[s]:07d}","timestamp":"{when:%Y-%m-%dT%H:%M:%S}.'
                f'{when.microsecond // 1000:03d}Z","event_type":"{types[int(pick[i] * len(types))]}",'
                f'"resource_consumption":{{"cpu_ms":{profile.cpu_demand * 1000 * k:.1f},'
                f'"memory_mb":{profile.memory_demand * k:.1f},'
                f'"network_kb":{profile.network_bandwidth * 125 * k:.1f},'
                f'"io_ops":{round(profile.io_operations * k)}}},"region":"{region}"{session}}}'
            ).encode()
        )
    return lines


def _pick_region(regions: list[str], shares: dict[str, float], u: float) -> str:
    total = 0.0
    for region in regions:
        total += shares[region]
        if u < total:
            return region
    return regions[-1]
