"""`sessionize` alone: the numpy version against the one-pass C version, same data, same run.

Decodes an event file (or, without one, 300,000 generated events as bench/ingest_file.py makes
them) in batches as ingestion does (screen stream time, sessionize carrying the state, expire),
times only the `sessionize` calls, and checks on every batch that both versions return the same
arrays. Each version runs twice per batch size, interleaved; the better run is reported.

Usage: python bench/sessionize.py [--file EVENTS.ndjson] [--events N] [--batch 50000 500]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from controller.adapters.event_decode import EventDecoder  # noqa: E402
from controller.config import ControllerConfig  # noqa: E402
from controller.ingest.columns import EventColumns  # noqa: E402
from controller.ingest.segments import COMPILED  # noqa: E402
from controller.ingest.sessions import Sessionized, SessionState, TypeBits, sessionize  # noqa: E402
from controller.ingest.stream_time import screen  # noqa: E402


def batches(lines: list[bytes], size: int) -> list[EventColumns]:
    decoder = EventDecoder(ControllerConfig().events.max_event_bytes)
    return [decoder.decode(lines[i : i + size]).events for i in range(0, len(lines), size)]


def run(parts: list[EventColumns], compiled: bool) -> tuple[float, list[Sessionized]]:
    events = ControllerConfig().events
    ms = lambda d: int(d.total_seconds() * 1000)  # noqa: E731
    gap, bucket, late = ms(events.session_gap), ms(events.bucket), ms(events.allowed_lateness)
    bits = TypeBits()
    state, watermark, spent, out = SessionState.empty(), None, 0.0, []
    for part in parts:
        screened = screen(part.ts_ms, watermark, late, ms(events.max_ahead))
        kept = part.take(screened.accepted)
        type_bits = bits.bits(kept.types)[kept.type_codes]
        began = time.perf_counter()
        result = sessionize(
            kept.ts_ms,
            kept.key_codes,
            kept.keys,
            type_bits,
            state,
            gap,
            bucket,
            kept.resources,
            kept.region_codes,
            kept.regions,
            compiled=compiled,
        )
        spent += time.perf_counter() - began
        out.append(result)
        watermark = screened.watermark_ms
        state = result.state
        if watermark is not None:
            state, _ = state.expire(watermark - late - gap)
    return spent, out


def same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if hasattr(a, "__dataclass_fields__"):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))  # type: ignore[arg-type]
    return list(a) == list(b)  # type: ignore[call-overload]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", type=Path)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[50_000, 500])
    args = parser.parse_args()
    if args.file:
        lines = [line for line in args.file.read_bytes().split(b"\n") if line]
    else:
        from controller.adapters.demo_events import bulk_events
        from controller.adapters.persona_files import load_persona_directory

        personas = [p.persona for p in load_persona_directory(ROOT / "personas")]
        start = datetime(2026, 11, 2, tzinfo=UTC)
        lines = bulk_events(args.events, personas, start, 2000.0, seed=4)
    print(f"{len(lines):,} events; C version built: {COMPILED}")
    for size in args.batch:
        parts = batches(lines, size)
        n = sum(len(p) for p in parts)
        best = {False: float("inf"), True: float("inf")}
        found: dict[bool, list[Sessionized]] = {}
        for _ in range(2):
            for compiled in (False, True):
                spent, found[compiled] = run(parts, compiled)
                best[compiled] = min(best[compiled], spent)
            if not all(map(same, found[True], found[False])):
                print("DIFFERENT RESULTS")
                return 1
        numpy_us, c_us = best[False] / n * 1e6, best[True] / n * 1e6
        print(
            f"batches of {size:>6,}: numpy {numpy_us:.3f} us/event, C {c_us:.3f} us/event "
            f"({numpy_us / c_us:.1f}x); same results on all {len(parts)} batches"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
