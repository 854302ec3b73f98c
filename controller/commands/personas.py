from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from controller.commands.common import Subparsers, cli_config


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("personas", help="persona definitions: validate, schema")
    actions = parser.add_subparsers(title="persona commands", metavar="ACTION")
    validate = actions.add_parser("validate", help="check every persona file; all problems, exit 1")
    validate.add_argument(
        "directory", nargs="?", type=Path, help="default: personas_dir from config"
    )
    validate.set_defaults(handler=run_validate)
    schema = actions.add_parser("schema", help="print the persona JSON Schema (for editors)")
    schema.set_defaults(handler=run_schema)

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=usage)


def run_validate(args: argparse.Namespace) -> int:
    from controller.adapters.persona_files import PersonaDirectoryError, load_persona_directory

    config = cli_config(args)
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


def run_schema(_args: argparse.Namespace) -> int:
    from controller.domain.persona import Persona

    print(json.dumps(Persona.model_json_schema(), indent=2))
    return 0
