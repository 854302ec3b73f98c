"""YAML files read with line numbers, so every error can say `path:line: field: message`.

Anchors and aliases are refused: nothing we read needs them, and a dozen lines of nested aliases
("billion laughs") expand to billions of nodes when the document is walked or validated, which
once took 207 s and 19 GB in `fleetctl personas validate`. The refusal happens while composing,
at the first anchor, before anything is expanded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from controller.adapters.files import ByteLimit, read_input_text
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


def load_yaml(path: Path, limit: ByteLimit | None = None) -> YamlDocument:
    """Parse one YAML file; syntax errors, duplicate keys, anchors and aliases raise InputError
    naming the line, and a file over `limit` is refused before it is parsed."""
    return parse_yaml(read_input_text(path, limit=limit), path)


def parse_yaml(text: str, path: Path) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=_AnchorFreeLoader)
    except _AnchorFound as found:
        raise InputError(f"{path}:{found.line}: {found.describe()}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        raise InputError(f"{path}:{line}: invalid YAML: {exc.problem}") from None
    except RecursionError:
        raise InputError(f"{path}:1: invalid YAML: nested too deeply") from None
    if node is None:
        return YamlDocument(path, None, {})
    lines: dict[Loc, int] = {}
    _index(node, (), lines, path)
    data = yaml.SafeLoader(text).construct_document(node)
    return YamlDocument(path, data, lines)


class _AnchorFound(Exception):
    def __init__(self, kind: str, name: str, line: int) -> None:
        super().__init__(kind, name, line)
        self.kind, self.name, self.line = kind, name, line

    def describe(self) -> str:
        sigil = "&" if self.kind == "anchor" else "*"
        return (
            f"YAML {self.kind} {sigil}{self.name}: anchors and aliases are not accepted "
            "(a few lines of them can expand to gigabytes); write the value out"
        )


class _AnchorFreeLoader(yaml.SafeLoader):
    """SafeLoader's composer, stopping at the first anchor or alias instead of resolving it."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped stub
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            raise _AnchorFound("alias", str(event.anchor), line)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _AnchorFound("anchor", str(anchor), line)
        return super().compose_node(parent, index)


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
