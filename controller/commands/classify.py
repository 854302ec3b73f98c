"""`fleetctl classify`: how the sessions of an event file match the personas, as CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.commands.common import Subparsers, cli_config
from controller.commands.output import out_file, write_text

DESCRIPTION = """\
Reads an NDJSON event file (optionally .gz) as a whole, groups its events into sessions the way
ingestion does (session_id, else user_id with events.session_gap of silence ending a session)
and matches each session to a persona with the model ingestion uses: the personas in force in
the store (else personas_dir), with the learned parameters in force.

Writes one row per session, by start time:
  session_id,user_id,start,end,events,persona,probability
session_id is the events' session_id, else USER@START; start and end are ISO 8601 UTC;
persona is empty when the session is unmatched (posterior below anomalies.min_probability, or
far from every persona); probability is the posterior of the most probable persona.

A malformed event stops the command naming its line; nothing is written then."""


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "classify",
        help="match the sessions of an event file to personas (CSV)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input", type=Path, required=True, metavar="EVENTS.ndjson", help="event file"
    )
    parser.add_argument(
        "--out",
        type=out_file,
        required=True,
        metavar="SESSIONS.csv",
        help="CSV file to write (whole or not at all), or - for standard output",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.session_csv import sessions_csv
    from controller.workflow.classify import classify_file

    rows = classify_file(cli_config(args), args.input)
    write_text(args.out, sessions_csv(rows))
    matched = sum(1 for r in rows if r.persona)
    print(
        f"{len(rows)} sessions: {matched} matched, {len(rows) - matched} unmatched -> {args.out}",
        file=sys.stderr,
    )
    return 0
