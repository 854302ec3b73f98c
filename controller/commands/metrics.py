"""`fleetctl metrics export`: every stored bucket as CSV."""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from controller.commands.common import Subparsers, cli_config
from controller.domain.errors import InputError

COLUMNS = (
    "bucket",
    "persona",
    "region",
    "events",
    "sessions",
    "cpu_ms",
    "memory_mb",
    "network_kb",
    "io_ops",
)


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("metrics", help="look at the stored per-persona metrics")
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="every stored bucket as CSV: " + ",".join(COLUMNS),
        description="Writes one row per stored (bucket, persona, region), oldest first; bucket "
        "in ISO 8601 UTC, resource sums exact to a thousandth of their unit.",
    )
    export.add_argument("--out", type=Path, required=True, help="CSV file to write")
    export.set_defaults(handler=run_export)
    parser.set_defaults(handler=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_export(args: argparse.Namespace) -> int:
    from controller.adapters.storage.db import connect
    from controller.adapters.storage.metric_store import MetricStore

    out: Path = args.out
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: directory {out.parent} does not exist")
    engine = connect(cli_config(args).sqlalchemy_url)
    rows = 0
    # Written beside the target and renamed into place: never a half-written CSV.
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            for row in MetricStore(engine).rows():
                writer.writerow(
                    (
                        row.bucket.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        row.persona,
                        row.region,
                        row.events,
                        row.sessions,
                        thousandths(row.cpu_ms_milli),
                        thousandths(row.memory_mb_milli),
                        thousandths(row.network_kb_milli),
                        thousandths(row.io_ops_milli),
                    )
                )
                rows += 1
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    print(f"wrote {rows:,} rows to {out}")
    return 0


def thousandths(value: int) -> str:
    """An integer count of thousandths as an exact decimal: 1500 -> '1.5', 2000 -> '2'."""
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 1000)
    return f"{sign}{whole}" if part == 0 else f"{sign}{whole}.{part:03d}".rstrip("0")
