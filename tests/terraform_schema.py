"""A static check of terraform/ against the AWS provider schema (no provider download needed).

Every aws_* resource's arguments and nested blocks (including `dynamic` blocks' content) must
exist in the provider schema copied to tests/data/; read-only attributes, `id` and `tags_all`
must not be set; required arguments and blocks must be present. Meta-arguments are allowed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hcl2

DATA = Path(__file__).resolve().parent / "data" / "aws-provider-6.47.0-resources.json"
META_ARGUMENTS = {"count", "for_each", "provider", "depends_on"}
META_BLOCKS = {"lifecycle", "provisioner", "connection"}
NEVER_SET = {"id", "tags_all"}


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(DATA.read_text())
    return schema


def check_tree(root: Path, schema: dict[str, Any] | None = None) -> list[str]:
    schema = schema or load_schema()
    problems = []
    for path in sorted(root.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        problems.extend(check_file(path, schema))
    return problems


def check_file(path: Path, schema: dict[str, Any]) -> list[str]:
    with path.open() as handle:
        document = hcl2.load(handle)
    problems = []
    for group in document.get("resource", []):
        for raw_type, instances in group.items():
            kind = raw_type.strip('"')
            if not kind.startswith("aws_"):
                continue
            for raw_name, body in instances.items():
                where = f"{path}: {kind}.{raw_name.strip(chr(34))}"
                if kind not in schema:
                    problems.append(f"{where}: resource type not in the provider schema")
                    continue
                problems.extend(_check_body(body, schema[kind], where, top=True))
    return problems


def _is_block(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _check_body(body: dict[str, Any], schema: dict[str, Any], where: str, top: bool) -> list[str]:
    problems: list[str] = []
    arguments = set(schema.get("arguments", []))
    blocks: dict[str, Any] = schema.get("blocks", {})
    present_blocks = set()
    for key, value in body.items():
        if key.startswith("__"):
            continue
        if top and (key in META_ARGUMENTS or key in META_BLOCKS):
            continue
        if key == "dynamic":
            for entry in value:
                for label, dynamic in entry.items():
                    name = label.strip('"')
                    present_blocks.add(name)
                    if name not in blocks:
                        problems.append(f"{where}: unknown block dynamic {name!r}")
                        continue
                    for content in dynamic.get("content", []):
                        problems.extend(
                            _check_body(content, blocks[name], f"{where}.{name}", False)
                        )
            continue
        if _is_block(value):
            present_blocks.add(key)
            if key not in blocks:
                kind = "an argument, not a block" if key in arguments else "unknown block"
                problems.append(f"{where}: {key!r} is {kind}")
                continue
            for item in value:
                problems.extend(_check_body(item, blocks[key], f"{where}.{key}", False))
            continue
        if top and key in NEVER_SET:
            problems.append(f"{where}: {key!r} must never be set")
        elif key in schema.get("computed_only_attributes", []):
            problems.append(f"{where}: {key!r} is read-only (computed by the provider)")
        elif key not in arguments:
            kind = "a block, not an argument" if key in blocks else "unknown argument"
            problems.append(f"{where}: {key!r} is {kind}")
    for required in schema.get("required_arguments", []):
        if required not in body:
            problems.append(f"{where}: required argument {required!r} is missing")
    for name, block in blocks.items():
        if (block.get("min_items") or 0) >= 1 and name not in present_blocks:
            problems.append(f"{where}: required block {name!r} is missing")
    return problems
