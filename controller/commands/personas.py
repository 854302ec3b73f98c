"""fleetctl personas: the persona store's API on the command line, plus GitOps validate and sync.

Store commands read and write the database named by the config (database_url, else SQLite in
data_dir); validate and sync read a directory (default: personas_dir). Output for people by
default, `--json` for scripts; errors go to stderr with exit 1 and nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from controller.commands.common import Subparsers, cli_config, existing_directory, positive_int
from controller.commands.persona_output import (
    history_lines,
    persona_yaml,
    stored_json,
    sync_json,
    sync_lines,
    version_json,
)

if TYPE_CHECKING:
    from controller.adapters.storage.persona_store import PersonaStore

Parser = argparse.ArgumentParser

EXAMPLES = """\
examples:
  fleetctl personas validate personas/          # CI step / pre-commit hook: every problem, exit 1
  fleetctl personas sync personas/ --dry-run    # what a sync would write
  fleetctl personas sync personas/              # apply the directory in one transaction
  fleetctl personas show peak-hour-shopper --version 2
  fleetctl personas update peak-hour-shopper edited.yaml --expected-version 3
  fleetctl personas drift --json                # learned vs declared, per persona version
"""


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "personas",
        help="persona definitions: validate, sync, and the versioned store",
        description="Personas: YAML files under review in git, synced into a versioned store.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(title="persona commands", metavar="ACTION")

    def action(name: str, help: str, handler: object, json_flag: bool = False) -> Parser:
        command = actions.add_parser(name, help=help, description=help)
        if json_flag:
            command.add_argument("--json", action="store_true", help="machine-readable output")
        command.set_defaults(handler=handler)
        return command

    listing = action("list", "live personas at their current versions", run_list, json_flag=True)
    listing.add_argument("--deleted", action="store_true", help="list deleted personas instead")
    show = action("show", "a persona's definition (YAML, valid as a file)", run_show, True)
    show.add_argument("name", help="persona key or name")
    show.add_argument(
        "--version", dest="persona_version", type=positive_int, metavar="N", help="an older version"
    )
    history = action("history", "every version of a persona, deletions included", run_history, True)
    history.add_argument("name", help="persona key or name")
    diff = action("diff", "field changes between two versions of a persona", run_diff, True)
    diff.add_argument("name", help="persona key or name")
    diff.add_argument("from_version", type=positive_int, metavar="A", help="the older version")
    diff.add_argument("to_version", type=positive_int, metavar="B", help="the newer version")
    create = action("create", "add a persona from a YAML file (version 1)", run_create, True)
    create.add_argument("file", type=Path, help="persona YAML file")
    update = action("update", "write a new version from a YAML file", run_update, True)
    update.add_argument("name", help="persona key or name")
    update.add_argument("file", type=Path, help="persona YAML file")
    update.add_argument(
        "--expected-version",
        type=positive_int,
        metavar="N",
        help="refuse if the persona is no longer at this version (default: the current one)",
    )
    delete = action("delete", "write a tombstone (history is kept)", run_delete, True)
    delete.add_argument("name", help="persona key or name")
    delete.add_argument(
        "--expected-version", type=positive_int, metavar="N", help="refuse if it moved on"
    )
    validate = action("validate", "check every persona file; all problems, exit 1", run_validate)
    validate.add_argument(
        "directory",
        nargs="?",
        type=existing_directory,
        metavar="DIR",
        help="the directory of persona files (default: personas_dir from config)",
    )
    sync = action(
        "sync", "apply a directory to the store in one transaction", run_sync, json_flag=True
    )
    sync.add_argument(
        "directory",
        nargs="?",
        type=existing_directory,
        metavar="DIR",
        help="the directory of persona files (default: personas_dir from config)",
    )
    sync.add_argument("--dry-run", action="store_true", help="show what would be written")
    action("schema", "print the persona JSON Schema (for editors)", run_schema)
    action(
        "drift",
        "how each persona's learned parameters differ from its declared ones",
        run_drift,
        json_flag=True,
    )

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=usage)


@contextmanager
def _store(args: argparse.Namespace, read_only: bool = False) -> Iterator[PersonaStore]:
    from controller.adapters.storage.db import connect, connect_existing
    from controller.adapters.storage.persona_store import PersonaStore
    from controller.domain.clock import SystemClock

    # reading never creates a store: a wrong data_dir is reported, not filled with an empty one
    engine = (connect_existing if read_only else connect)(cli_config(args).sqlalchemy_url)
    try:
        yield PersonaStore(engine, SystemClock())
    finally:
        engine.dispose()


def _emit(args: argparse.Namespace, data: object, lines: list[str]) -> int:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(lines))
    return 0


def run_list(args: argparse.Namespace) -> int:
    with _store(args, read_only=True) as store:
        if args.deleted:
            gone = store.deleted_personas()
            lines = [
                f"{v.key:<32} deleted in v{v.version}  {v.created_at:%Y-%m-%d %H:%MZ}" for v in gone
            ]
            return _emit(args, [version_json(v) for v in gone], lines or ["no deleted personas"])
        live = store.list_personas()
    lines = [
        f"{p.key:<32} v{p.version:<4} {p.created_at:%Y-%m-%d %H:%MZ}  {p.source.describe()}"
        for p in live
    ]
    return _emit(args, [stored_json(p) for p in live], lines or ["no personas in the store"])


def run_show(args: argparse.Namespace) -> int:
    with _store(args, read_only=True) as store:
        found = store.get_persona(args.name, args.persona_version)
    return _emit(args, stored_json(found), [persona_yaml(found)])


def run_history(args: argparse.Namespace) -> int:
    with _store(args, read_only=True) as store:
        versions = store.persona_history(args.name)
    return _emit(args, [version_json(v) for v in versions], history_lines(versions))


def run_diff(args: argparse.Namespace) -> int:
    with _store(args, read_only=True) as store:
        diff = store.diff_versions(args.name, args.from_version, args.to_version)
    data = {
        "key": diff.key,
        "from_version": diff.from_version,
        "to_version": diff.to_version,
        "changes": [
            {"field": c.field, "kind": c.kind, "before": c.before, "after": c.after}
            for c in diff.changes
        ],
    }
    header = f"{diff.key}: v{diff.from_version} -> v{diff.to_version}"
    lines = [header] + ([f"  {c.describe()}" for c in diff.changes] or ["  no differences"])
    return _emit(args, data, lines)


def run_create(args: argparse.Namespace) -> int:
    from controller.adapters.persona_files import load_persona_file

    config = cli_config(args)
    fleets = {f.name for f in config.fleets}
    loaded = load_persona_file(args.file, fleets, config.personas.max_file_bytes)
    with _store(args) as store:
        created = store.create_persona(loaded.persona)
    return _emit(args, stored_json(created), [f"created {created.key} version {created.version}"])


def run_update(args: argparse.Namespace) -> int:
    from controller.adapters.persona_files import load_persona_file

    config = cli_config(args)
    fleets = {f.name for f in config.fleets}
    loaded = load_persona_file(args.file, fleets, config.personas.max_file_bytes)
    with _store(args) as store:
        expected = args.expected_version or store.get_persona(args.name).version
        updated = store.update_persona(args.name, loaded.persona, expected)
    verb = "unchanged at" if updated.version == expected else "updated to"
    return _emit(args, stored_json(updated), [f"{updated.key} {verb} version {updated.version}"])


def run_delete(args: argparse.Namespace) -> int:
    with _store(args) as store:
        tombstone = store.delete_persona(args.name, args.expected_version)
    line = f"deleted {tombstone.key} (tombstone version {tombstone.version}; history kept)"
    return _emit(args, version_json(tombstone), [line])


def run_validate(args: argparse.Namespace) -> int:
    from controller.adapters.calendar_file import CALENDAR_FILE, validate_calendar
    from controller.adapters.persona_files import (
        PersonaDirectoryError,
        load_persona_directory,
        persona_paths,
    )

    config = cli_config(args)
    directory = args.directory or config.personas_dir
    problems: list[str] = []
    loaded = []
    try:
        loaded = load_persona_directory(
            directory, {f.name for f in config.fleets}, config.personas.max_file_bytes
        )
    except PersonaDirectoryError as exc:
        problems.extend(exc.problems)
    # the calendar is checked even when a persona file is broken: every problem, in one run
    keys = {p.persona.key for p in loaded} if loaded else _keys_from_names(persona_paths(directory))
    problems.extend(
        validate_calendar(directory / CALENDAR_FILE, keys, config.personas.max_file_bytes)
    )
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    calendar = f"; {CALENDAR_FILE} OK" if (directory / CALENDAR_FILE).exists() else ""
    keys_text = ", ".join(p.persona.key for p in loaded)
    print(f"{len(loaded)} personas OK in {directory}: {keys_text}{calendar}")
    return 0


def _keys_from_names(paths: list[Path]) -> set[str]:
    """Persona keys guessed from file names, when the files themselves did not parse."""
    return {p.stem for p in paths}


def run_sync(args: argparse.Namespace) -> int:
    from controller.adapters.persona_files import PersonaDirectoryError
    from controller.workflow.persona_sync import sync_personas

    config = cli_config(args)
    directory = args.directory or config.personas_dir
    with _store(args) as store:
        try:
            done = sync_personas(
                store,
                directory,
                {f.name for f in config.fleets},
                dry_run=args.dry_run,
                max_file_bytes=config.personas.max_file_bytes,
            )
        except PersonaDirectoryError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            print(
                f"{len(exc.problems)} problem(s) in {directory}; nothing written", file=sys.stderr
            )
            return 1
    return _emit(args, sync_json(done), sync_lines(done))


def run_schema(_args: argparse.Namespace) -> int:
    from controller.domain.persona import persona_json_schema

    print(json.dumps(persona_json_schema(), indent=2))
    return 0


def run_drift(args: argparse.Namespace) -> int:
    from controller.adapters.storage.db import connect_existing
    from controller.adapters.storage.matcher_store import MatcherStore
    from controller.adapters.storage.metric_store import MetricStore
    from controller.adapters.storage.persona_store import PersonaStore
    from controller.commands.drift_output import drift_json, drift_lines
    from controller.domain.clock import SystemClock
    from controller.matching.drift import drift
    from controller.workflow.persona_matching import (
        last_day_activity,
        matcher_learned,
        personas_in_force,
    )

    config = cli_config(args)
    engine = connect_existing(config.sqlalchemy_url)
    try:
        personas = personas_in_force(config, PersonaStore(engine, SystemClock()))
        found = drift(matcher_learned(config, MatcherStore(engine), personas))
        keys = [p.key for p in personas.personas]
        day = last_day_activity(MetricStore(engine), keys, config.events.bucket)
    finally:
        engine.dispose()
    return _emit(args, drift_json(found, day), drift_lines(found, day))
