from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.commands.common import Subparsers, duration, existing_directory
from controller.commands.output import notes_for, out_file, to_stdout
from controller.domain.errors import InputError, UsageError


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "demo-events",
        help="build an example event file from a per-minute request trace",
        description="Turns a per-minute request count (CSV timestamp,requests) into NDJSON "
        "user events: each request becomes an event with probability --sample, joining a "
        "session of one of the personas in --personas, with that persona's event types, regions "
        "and resource use (plus noise and a few malformed lines, as a real stream has). The "
        "example replay for `make run` is built this way.",
    )
    parser.add_argument(
        "--trace", type=Path, required=True, metavar="CSV", help="CSV with timestamp,requests"
    )
    parser.add_argument(
        "--out",
        type=out_file,
        required=True,
        metavar="F.ndjson[.gz]",
        help="NDJSON output (.gz compresses), or - for standard output (uncompressed)",
    )
    parser.add_argument(
        "--personas",
        type=existing_directory,
        default=Path("personas"),
        metavar="DIR",
        help="directory of the persona YAML files events are made for (default: personas)",
    )
    parser.add_argument(
        "--sample", type=float, default=1.0, help="share of requests kept as events, in (0, 1]"
    )
    parser.add_argument(
        "--window",
        action="append",
        default=[],
        metavar="START/END",
        help="ISO 8601 interval(s) of the trace to use, repeatable (default: all)",
    )
    parser.add_argument(
        "--shift",
        type=duration,
        default=timedelta(0),
        help="move every event later by this, e.g. 11424d (default: 0)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="random seed: the same seed, the same file (default 7)"
    )
    parser.add_argument(
        "--event-seconds",
        type=float,
        default=60.0,
        help="seconds of its session's use each event reports; a session sends at most one "
        "event per such window (set events.event_seconds to the same; default 60: one event "
        "per session-minute, matching 1-minute metric buckets)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.demo_events import generate_events, read_trace, write_events
    from controller.adapters.persona_files import load_persona_directory

    if not 0 < args.sample <= 1:
        raise UsageError(f"--sample must be in (0, 1], got {args.sample}")
    if not args.event_seconds > 0:
        raise UsageError(f"--event-seconds must be positive, got {args.event_seconds}")
    windows = [_window(text) for text in args.window] or None
    personas = [p.persona for p in load_persona_directory(args.personas)]
    try:
        trace = read_trace(args.trace, windows)
    except (OSError, ValueError) as exc:
        raise InputError(str(exc)) from None
    lines = generate_events(
        trace, personas, args.sample, args.shift, args.seed, event_seconds=args.event_seconds
    )
    if to_stdout(args.out):  # plain NDJSON: a pipe's reader can gzip it if it wants
        events = list(lines)  # as write_events does: the whole file is held once anyway
        sys.stdout.writelines(f"{line}\n" for line in events)
        count = len(events)
    else:
        count = write_events(lines, args.out)
    print(
        f"wrote {count:,} lines to {args.out} from {len(trace):,} trace minutes",
        file=notes_for(args.out),
    )
    return 0


def _window(text: str) -> tuple[datetime, datetime]:
    try:
        start, end = (datetime.fromisoformat(part).astimezone(UTC) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--window: expected START/END in ISO 8601, got {text!r}") from None
    return start, end
