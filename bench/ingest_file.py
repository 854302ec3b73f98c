"""File ingestion benchmark: our full path against pyarrow.json.read_json on the same file.

Generates 1,000,000 realistic events (controller.adapters.demo_events.bulk_events: sessions of
the example personas, their event types, regions and noisy resource use), then measures, in the
same run and on the same file (read once beforehand, so both find it in the page cache):

- pyarrow.json.read_json(file): parsing only, multi-threaded C++; the anchor.
- `fleetctl ingest`'s full path: read, decode and validate, screen stream time, sessionize,
  classify, aggregate and commit to SQLite (in a child process, timed from its first read).

Each is run twice, interleaved, and the better run of each is reported: the machine is shared,
and the best run is the one least disturbed. Peak RSS of the full path for 250k and for 1M
events shows memory does not grow with the input.

Usage: python bench/ingest_file.py [--events N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL = 0.5


def generate(path: Path, count: int) -> float:
    from controller.adapters.demo_events import bulk_events
    from controller.adapters.persona_files import load_persona_directory

    personas = [p.persona for p in load_persona_directory(ROOT / "personas")]
    lines = bulk_events(count, personas, datetime(2026, 11, 2, tzinfo=UTC), 2000.0, seed=4)
    with path.open("wb") as out:
        for line in lines:
            out.write(line + b"\n")
    return path.stat().st_size / count


def pyarrow_rate(path: Path, threads: bool = True) -> float:
    import pyarrow.json as pj

    began = time.perf_counter()
    table = pj.read_json(path, read_options=pj.ReadOptions(use_threads=threads))
    elapsed = time.perf_counter() - began
    return table.num_rows / elapsed


def ours(path: Path, count: int, workdir: Path) -> dict[str, float]:
    """The full path in a child process: its rate, and its peak RSS."""
    store = Path(tempfile.mkdtemp(dir=workdir))
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(path), str(store), str(count)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def child(path: Path, store: Path, count: int) -> None:
    from controller.config import ControllerConfig
    from controller.workflow.ingestion import open_ingestion

    config = ControllerConfig(data_dir=store, personas_dir=ROOT / "personas")
    ingestion = open_ingestion(config, f"file://{path}")
    began = time.perf_counter()
    totals = ingestion.ingestor.run(max_records=count)
    elapsed = time.perf_counter() - began
    stored = ingestion.store.totals(ingestion.source.key).events
    ingestion.close()
    assert stored == totals.events == count, (stored, totals.events, count)
    peak_mb = peak_rss_mb()
    print(json.dumps({"rate": count / elapsed, "seconds": elapsed, "peak_rss_mb": peak_mb}))


def peak_rss_mb() -> float:
    """This process's peak resident set since exec (VmHWM). Not ru_maxrss: on Linux that also
    counts the parent's pages at fork, and the parent holds the generated events."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="generate into (and reuse) this directory")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / f"events-{args.events}.ndjson"
        began = time.perf_counter()
        if not path.exists():
            size = generate(path, args.events)
        else:
            size = path.stat().st_size / args.events
        print(
            f"file: {args.events:,} events, {size:.0f} bytes each on average "
            f"({path.stat().st_size / 1e6:.0f} MB), made in {time.perf_counter() - began:.1f}s"
        )
        path.read_bytes()  # into the page cache for both contenders

        anchor, full, runs = [], [], []
        for _ in range(2):
            anchor.append(pyarrow_rate(path))
            run = ours(path, args.events, workdir)
            runs.append(run)
            full.append(run["rate"])
        small = ours(path, args.events // 4, workdir)
        one_core = max(pyarrow_rate(path, threads=False) for _ in range(2))

        best_anchor, best_full = max(anchor), max(full)
        ratio = best_full / best_anchor
        print(
            f"pyarrow.json.read_json (parse only): {best_anchor:>12,.0f} events/s  (runs: {_list(anchor)})"
        )
        print(
            f"fleetctl ingest full path:           {best_full:>12,.0f} events/s  (runs: {_list(full)})"
        )
        print(
            f"ratio full path / pyarrow parse: {ratio:.2f}x (goal >= {GOAL}x: "
            f"{'met' if ratio >= GOAL else 'NOT met'})"
        )
        print(
            f"  for context: pyarrow on one thread (ours reads on one thread, processes on another) {one_core:,.0f} "
            f"events/s; ratio to that {best_full / one_core:.2f}x"
        )
        big = max(r["peak_rss_mb"] for r in runs)
        print(
            f"peak RSS of the full path: {small['peak_rss_mb']:.0f} MB for {args.events // 4:,} "
            f"events, {big:.0f} MB for {args.events:,} ({big / small['peak_rss_mb']:.2f}x for 4x the input)"
        )
    return 0


def _list(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


if __name__ == "__main__":
    sys.exit(main())
