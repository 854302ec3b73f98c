"""Persona YAML files in a directory: read, validate, and report every problem at once.

Every problem is one line `path:line: field: message (got value)`, so CI logs and editors can jump
to it; a directory is only ever accepted whole (sync relies on that to write nothing on any error).
A file over `personas.max_file_bytes` is refused unread: a persona is a page of YAML, and a 24 MB
file was once stored whole.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from controller.adapters.files import ByteLimit
from controller.adapters.yamldoc import YamlDocument, load_yaml, parse_yaml
from controller.domain.errors import InputError
from controller.domain.persona import Persona
from controller.domain.persona import content_hash as _content_hash

PERSONA_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 1024 * 1024
"""default of the config key personas.max_file_bytes (the examples are under 2 kB)"""
_MESSAGES = {"extra_forbidden": "unknown field (`fleetctl personas schema` lists the fields)"}


@dataclass(frozen=True)
class PersonaFile:
    persona: Persona
    path: Path
    content_hash: str
    name_line: int = 1
    """line of `persona_name`, for messages about the name"""


class PersonaDirectoryError(InputError):
    """One or more persona files are invalid; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid personas ({count}):\n  " + "\n  ".join(problems))


def content_hash(persona: Persona) -> str:
    return _content_hash(persona)


def file_limit(max_file_bytes: int) -> ByteLimit:
    """The size limit of persona and calendar files, named by its config key when it refuses."""
    return ByteLimit(max_file_bytes, "personas.max_file_bytes")


def persona_paths(directory: Path) -> list[Path]:
    """The persona files of `directory` (not recursive); `_draft.yaml` and dot-files are skipped."""
    if directory.is_file():
        raise InputError(
            f"{directory} is a file; expected the persona directory (the one holding it is "
            f"{directory.parent})"
        )
    if not directory.is_dir():
        raise InputError(f"{directory}: persona directory does not exist")
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in PERSONA_SUFFIXES and not p.name.startswith(("_", ".")) and p.is_file()
    )


def check_persona_file(
    path: Path, known_fleets: Collection[str] | None = None, max_file_bytes: int = MAX_FILE_BYTES
) -> tuple[PersonaFile | None, list[str]]:
    """The persona in `path` (None if it cannot be read as one) and every problem found in it."""
    try:
        doc = load_yaml(path, file_limit(max_file_bytes))
    except InputError as exc:
        return None, [str(exc)]
    return _check_document(doc, known_fleets)


def parse_persona(text: str, path: Path, known_fleets: Collection[str] | None = None) -> Persona:
    """The persona in YAML `text` (named `path` in messages), or PersonaDirectoryError."""
    try:
        doc = parse_yaml(text, path)
    except InputError as exc:
        raise PersonaDirectoryError([str(exc)]) from None
    found, problems = _check_document(doc, known_fleets)
    if problems or found is None:
        raise PersonaDirectoryError(problems)
    return found.persona


def persona_to_yaml(persona: Persona) -> str:
    """The persona as YAML in schema order, readable back by parse_persona unchanged."""
    return yaml.safe_dump(
        persona.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
    )


def _check_document(
    doc: YamlDocument, known_fleets: Collection[str] | None
) -> tuple[PersonaFile | None, list[str]]:
    path = doc.path
    if doc.data is None:
        return None, [f"{path}:1: (document): empty file; expected a persona mapping"]
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        return None, [f"{path}:1: (document): expected a persona mapping (got a {kind})"]
    # Fleets are checked on the raw document so they are reported even beside schema errors.
    problems = [] if known_fleets is None else _unknown_fleets(doc, known_fleets)
    try:
        persona = Persona.model_validate(doc.data)
    except ValidationError as exc:
        return None, doc.validation_problems(exc, messages=_MESSAGES) + problems
    name_line = doc.line_of(("persona_name",))
    return PersonaFile(persona, path, content_hash(persona), name_line), problems


def _unknown_fleets(doc: YamlDocument, known_fleets: Collection[str]) -> list[str]:
    fleets = doc.data.get("fleets") if isinstance(doc.data, dict) else None
    if not isinstance(fleets, list):
        return []
    configured = ", ".join(sorted(known_fleets))
    return [
        f"{doc.path}:{doc.line_of(('fleets', index))}: fleets.{index}: unknown fleet; "
        f"configured fleets: {configured} (got {fleet!r})"
        for index, fleet in enumerate(fleets)
        if isinstance(fleet, str) and fleet not in known_fleets
    ]


def load_persona_file(
    path: Path, known_fleets: Collection[str] | None = None, max_file_bytes: int = MAX_FILE_BYTES
) -> PersonaFile:
    """The persona in one file, or PersonaDirectoryError listing all its problems."""
    loaded, problems = check_persona_file(path, known_fleets, max_file_bytes)
    if problems or loaded is None:
        raise PersonaDirectoryError(problems)
    return loaded


def load_persona_directory(
    directory: Path,
    known_fleets: Collection[str] | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> list[PersonaFile]:
    """Every persona in `directory`, or PersonaDirectoryError listing all problems found.

    Besides each file's own problems, two files may not define the same key (persona_name slug).
    """
    problems: list[str] = []
    loaded: list[PersonaFile] = []
    first_seen: dict[str, PersonaFile] = {}
    for path in persona_paths(directory):
        found, file_problems = check_persona_file(path, known_fleets, max_file_bytes)
        problems.extend(file_problems)
        if found is None:
            continue
        key = found.persona.key
        if key in first_seen:
            first = first_seen[key]
            problems.append(
                f"{path}:{found.name_line}: persona_name: key {key!r} is already defined in "
                f"{first.path}:{first.name_line} (got {found.persona.persona_name!r})"
            )
            continue
        first_seen[key] = found
        loaded.append(found)
    if problems:
        raise PersonaDirectoryError(problems)
    if not loaded:
        raise InputError(f"{directory}: no persona files (*.yaml, *.yml) found")
    return loaded
