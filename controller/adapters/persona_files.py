"""Persona YAML files in a directory: read, validate, and report every problem at once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from controller.adapters.yamldoc import load_yaml
from controller.domain.errors import InputError
from controller.domain.persona import Persona

PERSONA_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class PersonaFile:
    persona: Persona
    path: Path
    content_hash: str


class PersonaDirectoryError(InputError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"invalid personas ({count}):\n  " + "\n  ".join(problems))


def content_hash(persona: Persona) -> str:
    canonical = json.dumps(persona.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def persona_paths(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise InputError(f"{directory}: persona directory does not exist")
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in PERSONA_SUFFIXES and not p.name.startswith("_")
    )


def load_persona_directory(
    directory: Path, known_fleets: set[str] | None = None
) -> list[PersonaFile]:
    """Every persona in `directory`, or PersonaDirectoryError listing all problems found."""
    problems: list[str] = []
    loaded: list[PersonaFile] = []
    first_seen: dict[str, Path] = {}
    for path in persona_paths(directory):
        try:
            doc = load_yaml(path)
        except InputError as exc:
            problems.append(str(exc))
            continue
        if not isinstance(doc.data, dict):
            problems.append(f"{path}:1: expected a persona mapping, got {type(doc.data).__name__}")
            continue
        try:
            persona = Persona.model_validate(doc.data)
        except ValidationError as exc:
            problems.extend(doc.validation_problems(exc))
            continue
        if persona.key in first_seen:
            problems.append(
                f"{path}:{doc.line_of(('persona_name',))}: persona_name: {persona.persona_name!r} "
                f"is also defined in {first_seen[persona.key]}"
            )
            continue
        if known_fleets is not None:
            for index, fleet in enumerate(persona.fleets):
                if fleet not in known_fleets:
                    problems.append(
                        f"{path}:{doc.line_of(('fleets', index))}: fleets.{index}: unknown fleet "
                        f"(got {fleet!r}; configured: {', '.join(sorted(known_fleets))})"
                    )
        first_seen[persona.key] = path
        loaded.append(PersonaFile(persona, path, content_hash(persona)))
    if problems:
        raise PersonaDirectoryError(problems)
    if not loaded:
        raise InputError(f"{directory}: no persona files (*.yaml) found")
    return loaded
