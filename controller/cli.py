"""fleetctl: the command line. Parses flags, calls the workflow, prints; no logic of its own."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller import __version__
from controller.config import ControllerConfig, load_config, parse_duration
from controller.domain.errors import FleetError, InputError

DEFAULT_CONFIG = Path("controller.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except FleetError as exc:
        print(f"fleetctl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fleetctl: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleetctl",
        description="Predictive scaling for Terraform-managed web fleets, driven by personas.",
    )
    parser.add_argument("--version", action="version", version=f"fleetctl {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="controller.yaml to use (default: $FLEET_CONFIG, else ./controller.yaml if present, "
        "else built-in defaults)",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    cycle = sub.add_parser("cycle", help="run exactly one full cycle, print its summary, exit")
    cycle.set_defaults(handler=_cycle)

    daemon = sub.add_parser("daemon", help="run cycles on the configured schedule until stopped")
    daemon.add_argument("--max-cycles", type=_positive_int, help="stop after N cycles")
    daemon.add_argument("--interval", type=parse_duration, help="override schedule.interval, e.g. 10s")
    daemon.set_defaults(handler=_daemon)

    state = sub.add_parser("state", help="print the FleetStateDocument")
    state.add_argument("--json", action="store_true", help="the whole document as JSON")
    state.add_argument("--version", dest="doc_version", type=_positive_int, help="an older version")
    state.add_argument("--schema", action="store_true", help="print the document's JSON Schema")
    state.set_defaults(handler=_state)

    runs = sub.add_parser("runs", help="recent cycles with their steps, timings and errors")
    runs.add_argument("--limit", type=_positive_int, default=5)
    runs.set_defaults(handler=_runs)

    personas = sub.add_parser("personas", help="persona definitions (validate, schema)")
    persona_sub = personas.add_subparsers(title="persona commands", metavar="ACTION")
    validate = persona_sub.add_parser("validate", help="check every persona file; all problems, exit 1")
    validate.add_argument("directory", nargs="?", type=Path, help="default: personas_dir from config")
    validate.set_defaults(handler=_personas_validate)
    schema = persona_sub.add_parser("schema", help="print the persona JSON Schema (for editors)")
    schema.set_defaults(handler=_personas_schema)

    demo = sub.add_parser(
        "demo-events", help="build an example event file from a per-minute request trace"
    )
    demo.add_argument("--trace", type=Path, required=True, help="CSV with timestamp,requests")
    demo.add_argument("--out", type=Path, required=True, help="NDJSON output (.gz compresses)")
    demo.add_argument("--personas", type=Path, default=Path("personas"))
    demo.add_argument("--sample", type=float, default=1 / 6, help="share of requests kept as events")
    demo.add_argument(
        "--window", action="append", default=[], metavar="START/END",
        help="ISO 8601 interval(s) of the trace to use, repeatable (default: all)",
    )
    demo.add_argument("--shift", type=parse_duration, default=timedelta(0), help="move times by this")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(handler=_demo_events)
    return parser


def _config(args: argparse.Namespace) -> ControllerConfig:
    path: Path | None = args.config
    if path is None and os.environ.get("FLEET_CONFIG"):
        path = Path(os.environ["FLEET_CONFIG"])
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    return load_config(path)


def _cycle(args: argparse.Namespace) -> int:
    from controller.workflow.cycle import run_cycle
    from controller.workflow.summary import format_outcome
    from controller.workflow.wiring import build_controller

    controller = build_controller(_config(args))
    try:
        outcome = run_cycle(controller)
        print(format_outcome(outcome, controller.clock_mode))
    finally:
        controller.close()
    return 0


def _daemon(args: argparse.Namespace) -> int:
    from controller.daemon import Daemon
    from controller.workflow.wiring import build_controller

    config = _config(args)
    if args.interval is not None:
        config = config.model_copy(
            update={"schedule": config.schedule.model_copy(update={"interval": args.interval})}
        )
    controller = build_controller(config)
    try:
        return Daemon(controller, max_cycles=args.max_cycles).serve()
    finally:
        controller.close()


def _state(args: argparse.Namespace) -> int:
    from controller.adapters.storage.db import connect
    from controller.adapters.storage.state_store import StateStore
    from controller.domain.state import FleetStateDocument

    if args.schema:
        print(json.dumps(FleetStateDocument.model_json_schema(), indent=2))
        return 0
    config = _config(args)
    engine = connect(config.sqlalchemy_url)
    try:
        document = StateStore(engine).get(args.doc_version)
    finally:
        engine.dispose()
    if document is None:
        which = f"version {args.doc_version}" if args.doc_version else "any state yet"
        raise InputError(f"no {which} in {config.sqlalchemy_url}; run `fleetctl cycle` first")
    if args.json:
        print(document.model_dump_json(indent=2))
        return 0
    print(f"state version {document.version} from cycle {document.cycle_id} at {document.now:%Y-%m-%d %H:%MZ}")
    for fleet in document.fleets:
        print(f"  {fleet.name:<8} now {fleet.capacity_now}  desired {fleet.desired}  peak {fleet.peak_next_horizon}  {fleet.instance_type}")
    if document.last_plan:
        print(f"  last plan {document.last_plan.plan_id}: {document.last_plan.summary} ({document.last_plan.status})")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from controller.adapters.storage.db import connect
    from controller.adapters.storage.run_store import RunStore

    engine = connect(_config(args).sqlalchemy_url)
    try:
        records = RunStore(engine).recent(args.limit)
    finally:
        engine.dispose()
    for record in records:
        print(f"cycle {record.cycle_id}  {record.status:<11} clock {record.clock_now:%Y-%m-%d %H:%MZ}")
        for step in record.steps:
            print(f"  {step.step:<11} {step.status:<6} {step.duration_ms:8.0f} ms  {step.error or step.detail or ''}")
        if record.error and not record.steps:
            print(f"  error: {record.error}")
    return 0


def _personas_validate(args: argparse.Namespace) -> int:
    from controller.adapters.persona_files import PersonaDirectoryError, load_persona_directory

    config = _config(args)
    directory = args.directory or config.personas_dir
    try:
        loaded = load_persona_directory(directory, known_fleets={f.name for f in config.fleets})
    except PersonaDirectoryError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    print(f"{len(loaded)} personas OK in {directory}: {', '.join(p.persona.key for p in loaded)}")
    return 0


def _personas_schema(args: argparse.Namespace) -> int:
    from controller.domain.persona import Persona

    print(json.dumps(Persona.model_json_schema(), indent=2))
    return 0


def _demo_events(args: argparse.Namespace) -> int:
    from controller.adapters.demo_events import generate_events, read_trace, write_events
    from controller.adapters.persona_files import load_persona_directory

    if not 0 < args.sample <= 1:
        raise InputError(f"--sample must be in (0, 1], got {args.sample}")
    windows = [_window(text) for text in args.window] or None
    personas = [p.persona for p in load_persona_directory(args.personas)]
    try:
        trace = read_trace(args.trace, windows)
    except (OSError, ValueError) as exc:
        raise InputError(str(exc)) from None
    count = write_events(generate_events(trace, personas, args.sample, args.shift, args.seed), args.out)
    print(f"wrote {count:,} lines to {args.out} from {len(trace):,} trace minutes")
    return 0


def _window(text: str) -> tuple[datetime, datetime]:
    try:
        start, end = (datetime.fromisoformat(part).astimezone(UTC) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--window: expected START/END in ISO 8601, got {text!r}") from None
    return start, end


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
