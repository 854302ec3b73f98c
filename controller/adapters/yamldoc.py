"""YAML files read with line numbers, so every error can say `path:line: field: message`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from controller.adapters.files import read_input_text
from controller.domain.errors import InputError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    path: Path
    data: Any
    _lines: dict[Loc, int]

    def line_of(self, loc: Sequence[str | int]) -> int:
        """Line (1-based) of the deepest part of `loc` that exists in the file."""
        key: Loc = tuple(loc)
        while key and key not in self._lines:
            key = key[:-1]
        return self._lines.get(key, 1)

    def validation_problems(
        self,
        error: ValidationError,
        prefix: Loc = (),
        messages: Mapping[str, str] | None = None,
    ) -> list[str]:
        """One `path:line: field: message (got value)` line per pydantic error.

        `messages` replaces pydantic's wording by error type (e.g. extra_forbidden).
        """
        problems = []
        for item in error.errors(include_url=False):
            loc = prefix + tuple(part for part in item["loc"] if isinstance(part, str | int))
            loc = _drop_union_tags(loc, self)
            field = ".".join(str(part) for part in loc) or "(document)"
            message = item["msg"].removeprefix("Value error, ")
            if messages and item["type"] in messages:
                message = messages[item["type"]]
            got = "" if item["type"] == "missing" else f" (got {_show(item.get('input'))})"
            problems.append(f"{self.path}:{self.line_of(loc)}: {field}: {message}{got}")
        return problems


def load_yaml(path: Path) -> YamlDocument:
    """Parse one YAML file; syntax errors and duplicate keys raise InputError naming the line."""
    return parse_yaml(read_input_text(path), path)


def parse_yaml(text: str, path: Path) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        raise InputError(f"{path}:{line}: invalid YAML: {exc.problem}") from None
    if node is None:
        return YamlDocument(path, None, {})
    lines: dict[Loc, int] = {}
    _index(node, (), lines, path)
    data = yaml.SafeLoader(text).construct_document(node)
    return YamlDocument(path, data, lines)


def _index(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise InputError(
                    f"{path}:{line}: duplicate key {key!r} (first on line {seen[key]})"
                )
            seen[key] = line
            _index(value_node, (*loc, key), lines, path)
            lines[(*loc, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*loc, index), lines, path)


def _drop_union_tags(loc: Loc, doc: YamlDocument) -> Loc:
    """pydantic names union members in locations ('PeakWindow'); the file does not have them."""
    kept: list[str | int] = []
    for part in loc:
        candidate = (*kept, part)
        if isinstance(part, str) and part[:1].isupper() and candidate not in doc._lines:
            continue
        kept.append(part)
    return tuple(kept)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
