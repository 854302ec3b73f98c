"""`fleetctl metrics export`: every stored bucket as CSV."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from controller.commands.common import Subparsers, cli_config
from controller.commands.output import notes_for, out_file, to_stdout

if TYPE_CHECKING:
    from controller.adapters.storage.metric_store import MetricRow

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
    parser = sub.add_parser(
        "metrics",
        help="look at the stored per-persona metrics",
        description="The per-persona metrics ingestion stored (one row per bucket, persona and "
        "region). Action: export.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="every stored bucket as CSV: " + ",".join(COLUMNS),
        description="Writes one row per stored (bucket, persona, region), oldest first; bucket "
        "in ISO 8601 UTC, resource sums exact to a thousandth of their unit. Reads the store "
        "only: a store that does not exist is reported, not created.",
    )
    export.add_argument(
        "--out",
        type=out_file,
        required=True,
        metavar="F.csv",
        help="CSV file to write (whole or not at all), or - for standard output",
    )
    export.set_defaults(handler=run_export)
    parser.set_defaults(handler=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run_export(args: argparse.Namespace) -> int:
    from controller.adapters.storage.db import connect_existing
    from controller.adapters.storage.metric_store import MetricStore

    out: Path = args.out
    engine = connect_existing(cli_config(args).sqlalchemy_url)
    try:
        rows = MetricStore(engine).rows()
        count = _write_rows(sys.stdout, rows) if to_stdout(out) else _write_file(out, rows)
    finally:
        engine.dispose()
    print(f"wrote {count:,} rows to {out}", file=notes_for(out))
    return 0


def _write_file(out: Path, rows: Iterable[MetricRow]) -> int:
    # Written beside the target and renamed into place: never a half-written CSV.
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            count = _write_rows(handle, rows)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def _write_rows(handle: TextIO, rows: Iterable[MetricRow]) -> int:
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
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
        count += 1
    return count


def thousandths(value: int) -> str:
    """An integer count of thousandths as an exact decimal: 1500 -> '1.5', 2000 -> '2'."""
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 1000)
    return f"{sign}{whole}" if part == 0 else f"{sign}{whole}.{part:03d}".rstrip("0")
