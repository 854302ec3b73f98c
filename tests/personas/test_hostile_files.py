"""Hostile persona YAML: alias bombs and oversized files are refused on every path that reads them.

Each path is the one a user or the daemon takes: `personas validate` (CI, pre-commit), `personas
sync`, `personas create`, the daemon's personas step, `classify` (empty store: the directory), and
the calendar beside the personas.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.adapters.storage.db import connect
from controller.adapters.storage.persona_store import PersonaStore
from controller.cli import main
from controller.config import load_config
from controller.domain.clock import SystemClock
from controller.domain.errors import InputError
from controller.workflow import steps
from controller.workflow.persona_matching import personas_in_force
from tests.helpers import make_project
from tests.ingest.test_file_ingest import write
from tests.matching.sessions import shopper

# The classic "billion laughs": 9 levels of 9 aliases, 9**9 (387 million) strings once expanded.
ALIAS_BOMB = """\
persona_name: Laughing Shopper
lol: &lol ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
a: &a [*lol, *lol, *lol, *lol, *lol, *lol, *lol, *lol, *lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""
REFUSAL = (
    "YAML anchor &lol: anchors and aliases are not accepted "
    "(a few lines of them can expand to gigabytes); write the value out"
)
MIB = 1024 * 1024


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def personas_dir(project: Path) -> Path:
    return project.parent / "personas"


def fleetctl(project: Path, *args: str) -> int:
    return main(["--config", str(project), *args])


def stored_keys(project: Path) -> list[str]:
    engine = connect(load_config(project).sqlalchemy_url)
    try:
        return [p.key for p in PersonaStore(engine, SystemClock()).list_personas()]
    finally:
        engine.dispose()


def oversized(path: Path, size: int) -> Path:
    """A valid persona padded with a comment to exactly `size` bytes."""
    head = (Path(__file__).parents[2] / "personas" / "api-consumer.yaml").read_bytes()
    path.write_bytes(head + b"#" * (size - len(head) - 1) + b"\n")
    return path


def test_validate_refuses_an_alias_bomb_naming_the_first_anchor(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = personas_dir(project) / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)

    assert fleetctl(project, "personas", "validate") == 1

    assert capsys.readouterr().err.splitlines() == [
        f"{bomb}:2: {REFUSAL}",
        f"1 problem(s) in {personas_dir(project)}",
    ]


def test_an_alias_without_its_anchor_is_refused_naming_the_alias(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = personas_dir(project) / "odd.yaml"
    odd.write_text("persona_name: Odd\nassociated_tags: *tags\n")

    assert fleetctl(project, "personas", "validate") == 1

    assert f"{odd}:2: YAML alias *tags: anchors and aliases" in capsys.readouterr().err


def test_an_alias_bomb_is_refused_within_a_1_gib_address_space(project: Path) -> None:
    """Under the limit an expanding loader dies of MemoryError; a refusing one never allocates."""
    (personas_dir(project) / "bomb.yaml").write_text(ALIAS_BOMB)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    command = ["-m", "controller.cli", "--config", str(project), "personas", "validate"]
    done = subprocess.run(
        [sys.executable, *command],
        preexec_fn=limit_memory,
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not a measurement
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        check=False,
    )

    assert "MemoryError" not in done.stderr
    assert done.returncode == 1
    assert f"bomb.yaml:2: {REFUSAL}" in done.stderr


def test_sync_refuses_an_alias_bomb_and_stores_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (personas_dir(project) / "bomb.yaml").write_text(ALIAS_BOMB)

    assert fleetctl(project, "personas", "sync") == 1

    assert f"bomb.yaml:2: {REFUSAL}" in capsys.readouterr().err
    assert stored_keys(project) == []


def test_the_daemon_step_and_classify_refuse_an_alias_bomb(project: Path) -> None:
    (personas_dir(project) / "bomb.yaml").write_text(ALIAS_BOMB)
    config = load_config(project)
    engine = connect(config.sqlalchemy_url)
    store = PersonaStore(engine, SystemClock())
    readers: list[Callable[[], object]] = [
        lambda: steps.load_personas(config, store),  # the daemon's cycle
        lambda: steps.load_personas(config),  # a cycle without a store
        lambda: personas_in_force(config, store),  # classify and ingest, empty store
    ]
    try:
        for read in readers:
            with pytest.raises(InputError, match=r"bomb\.yaml:2: YAML anchor &lol"):
                read()
        assert store.list_personas() == []
    finally:
        engine.dispose()


def test_classify_refuses_an_alias_bomb(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (personas_dir(project) / "bomb.yaml").write_text(ALIAS_BOMB)
    events = write(tmp_path / "events.ndjson", shopper("alice"))

    out = tmp_path / "sessions.csv"
    assert fleetctl(project, "classify", "--input", str(events), "--out", str(out)) == 1

    assert f"bomb.yaml:2: {REFUSAL}" in capsys.readouterr().err
    assert not out.exists()


def test_a_calendar_with_anchors_is_refused_by_validate_and_the_forecast_step(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calendar = personas_dir(project) / "_calendar.yaml"
    calendar.write_text("campaigns: &all\n  - name: sale\nmaintenance: *all\n")

    assert fleetctl(project, "personas", "validate") == 1
    assert f"{calendar}:1: YAML anchor &all: anchors" in capsys.readouterr().err

    config = load_config(project)
    with pytest.raises(InputError, match=r"_calendar\.yaml:1: YAML anchor &all"):
        steps.persona_calendar(config, steps.load_personas(config))


def test_a_file_over_the_default_1_mib_is_refused_unparsed_and_nothing_is_stored(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = oversized(personas_dir(project) / "big.yaml", MIB + 1)
    # not YAML after the limit: a parser that read past the limit would say so instead
    with big.open("a") as handle:
        handle.write("persona_name: [\n")
    size = big.stat().st_size

    assert fleetctl(project, "personas", "sync") == 1

    assert capsys.readouterr().err.splitlines()[0] == (
        f"{big}: {size} bytes, over the limit of {MIB} (personas.max_file_bytes)"
    )
    assert stored_keys(project) == []


def test_a_file_of_exactly_the_limit_is_accepted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oversized(personas_dir(project) / "api-consumer.yaml", MIB)

    assert fleetctl(project, "personas", "validate") == 0


def test_the_size_limit_is_the_config_key_personas_max_file_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, personas={"max_file_bytes": 2000})
    shopper_file = personas_dir(project) / "peak-hour-shopper.yaml"
    big = oversized(personas_dir(project) / "api-consumer.yaml", 2001)
    calendar = personas_dir(project) / "_calendar.yaml"
    calendar.write_bytes(calendar.read_bytes() + b"#" * 2000 + b"\n")

    assert fleetctl(project, "personas", "validate") == 1
    assert fleetctl(project, "personas", "create", str(big)) == 1

    err = capsys.readouterr().err.splitlines()
    limit = "over the limit of 2000 (personas.max_file_bytes)"
    assert err[:2] == [
        f"{big}: 2001 bytes, {limit}",
        f"{calendar}: {calendar.stat().st_size} bytes, {limit}",
    ]
    assert f"{big}: 2001 bytes, {limit}" in err[-1]
    assert shopper_file.stat().st_size < 2000  # the other files are within it and accepted
    assert stored_keys(project) == []


def test_the_config_file_refuses_anchors_like_the_persona_files(tmp_path: Path) -> None:
    config = tmp_path / "controller.yaml"
    config.write_text("data_dir: &dir state\npersonas_dir: *dir\n")

    with pytest.raises(InputError, match=r"controller\.yaml:1: YAML anchor &dir: anchors"):
        load_config(config)
