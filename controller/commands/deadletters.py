"""`fleetctl deadletters`: what ingestion set aside, where it was and why; a count by reason."""

from __future__ import annotations

import argparse
import base64
import json
from datetime import UTC, datetime

from controller.commands.common import Subparsers, cli_config, positive_int

PREVIEW = 80


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "deadletters",
        help="events set aside by ingestion, with source position and reason",
        description="Events ingestion set aside (malformed, too late, too far ahead, too big), "
        "each with where it was in its source, why, and the start of its raw bytes; then a count "
        "by reason. Reads the store only: a store that does not exist is reported, not created.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--limit", type=positive_int, metavar="N", help="show at most N dead letters"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.storage.db import connect_existing
    from controller.adapters.storage.ingest_store import IngestStore

    engine = connect_existing(cli_config(args).sqlalchemy_url)
    try:
        store = IngestStore(engine)
        letters = store.dead_letters(args.limit)
        counts = store.dead_letter_counts()
    finally:
        engine.dispose()
    if args.json:
        print(
            json.dumps(
                {
                    "total": sum(counts.values()),
                    "counts": counts,
                    "dead_letters": [
                        {
                            "id": letter.id,
                            "source": letter.source,
                            "position": letter.position,
                            "received_at": _iso(letter.received_at),
                            "kind": letter.kind,
                            "reason": letter.reason,
                            "raw": letter.raw.decode("utf-8", errors="backslashreplace"),
                            "raw_base64": base64.b64encode(letter.raw).decode("ascii"),
                        }
                        for letter in letters
                    ],
                },
                indent=2,
            )
        )
        return 0
    total = sum(counts.values())
    if not total:
        print("no dead letters")
        return 0
    for letter in letters:
        raw = letter.raw.decode("utf-8", errors="backslashreplace")
        raw = raw if len(raw) <= PREVIEW else raw[: PREVIEW - 3] + "..."
        print(f"#{letter.id} [{letter.kind}] {letter.position}")
        print(f"    {letter.reason}")
        print(f"    raw: {raw}")
    shown = f" (showing {len(letters):,})" if len(letters) < total else ""
    print(f"{total:,} dead letters{shown}, by reason:")
    for kind, count in counts.items():
        print(f"  {kind:<16} {count:>10,}")
    return 0


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
