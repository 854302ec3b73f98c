"""A Terraform working directory the controller owns: stack copy, variables, plans, state.

Layout under the workdir:
    stack/            copy of the configured stack's *.tf files (refreshed every cycle)
    stack/fleets.auto.tfvars.json
    stack/terraform.tfstate
    plans/<plan_id>.tfplan
    drift/applied.tfvars.json   the last applied variables, for the refresh-only plan
    drift/refresh-only.tfplan
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from controller.adapters.files import write_atomically
from controller.adapters.terraform.plan_json import parse_outputs, parse_plan, parse_refresh_only
from controller.adapters.terraform.runner import (
    TerraformResult,
    TerraformRunner,
    terraform_failure,
)
from controller.domain.errors import PermanentError, TemporaryError
from controller.domain.plan import PlanSummary
from controller.domain.refresh import RefreshOnlyPlan

COMMON = ["-input=false", "-no-color"]


class TerraformWorkspace:
    def __init__(self, runner: TerraformRunner, stack: Path, workdir: Path) -> None:
        self.runner = runner
        self.stack = stack
        self.workdir = workdir
        self.stack_dir = workdir / "stack"
        self.plans_dir = workdir / "plans"
        self._lock_depth = 0
        self._lock_owner: int | None = None  # thread holding the flock (re-entrant for it only)

    def prepare(self) -> None:
        """Copy the stack in (removing files the stack no longer has) and init if it changed."""
        sources = sorted(self.stack.glob("*.tf"))
        if not sources:
            raise PermanentError(f"{self.stack}: no *.tf files (terraform.stack in config)")
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        self.plans_dir.mkdir(parents=True, exist_ok=True)
        wanted = {p.name for p in sources}
        for old in self.stack_dir.glob("*.tf"):
            if old.name not in wanted:
                old.unlink()
        digest = hashlib.sha256()
        for source in sources:
            shutil.copyfile(source, self.stack_dir / source.name)
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
        marker = self.stack_dir / ".terraform" / "controller-stack.sha256"
        if marker.exists() and marker.read_text() == digest.hexdigest():
            return
        self._check("init", self.runner.run(self.stack_dir, "init", [*COMMON, "-backend=true"]))
        marker.parent.mkdir(exist_ok=True)
        marker.write_text(digest.hexdigest())

    def plan(self, plan_id: str) -> PlanSummary:
        planfile = self.plans_dir / f"{plan_id}.tfplan"
        result = self.runner.run(
            self.stack_dir, "plan", [*COMMON, "-detailed-exitcode", f"-out={planfile.resolve()}"]
        )
        if result.exit_code not in (0, 2):
            raise terraform_failure("plan", result)
        shown = self.runner.run(
            self.stack_dir, "show", ["-json", "-no-color", str(planfile.resolve())]
        )
        self._check("show", shown)
        return parse_plan(plan_id, shown.stdout)

    def apply(self, plan_id: str, holder: str = "cycle") -> TerraformResult:
        """Apply exactly the saved plan; Terraform refuses it if the state moved since."""
        planfile = self.plans_dir / f"{plan_id}.tfplan"
        if not planfile.is_file():
            raise PermanentError(f"plan {plan_id} has no saved plan file at {planfile}")
        with self.apply_lock(f"{holder} applying {plan_id}"):
            result = self.runner.run(self.stack_dir, "apply", [*COMMON, str(planfile.resolve())])
        return self._check("apply", result)

    def refresh_only(self, variables: dict[str, Any]) -> RefreshOnlyPlan:
        """`plan -refresh-only -detailed-exitcode` against `variables` (the last applied ones).

        The variables go in a file of their own passed with -var-file, which takes precedence
        over the stack's auto.tfvars: a plan waiting for review never shows up as drift, and the
        rendered variables a cycle is about to plan are never touched. Holds the apply lock, so
        it never reads a state an apply is writing (TemporaryError if one runs).
        """
        drift_dir = self.workdir / "drift"
        drift_dir.mkdir(parents=True, exist_ok=True)
        var_file = drift_dir / "applied.tfvars.json"
        planfile = drift_dir / "refresh-only.tfplan"
        write_atomically(var_file, json.dumps(variables, indent=2, sort_keys=True) + "\n")
        with self.apply_lock("drift check (refresh-only plan)"):
            result = self.runner.run(
                self.stack_dir,
                "plan",
                [
                    *COMMON,
                    "-refresh-only",
                    "-detailed-exitcode",
                    f"-var-file={var_file.resolve()}",
                    f"-out={planfile.resolve()}",
                ],
            )
            if result.exit_code not in (0, 2):
                raise terraform_failure("plan -refresh-only", result)
            shown = self.runner.run(
                self.stack_dir, "show", ["-json", "-no-color", str(planfile.resolve())]
            )
        self._check("show", shown)
        return parse_refresh_only(result.exit_code, shown.stdout)

    def outputs(self) -> dict[str, Any]:
        """The stack's root outputs from its state (`terraform output -json`)."""
        result = self.runner.run(self.stack_dir, "output", ["-json", "-no-color"])
        return parse_outputs(self._check("output", result).stdout)

    def prune_plans(self, keep: int = 20) -> None:
        files = sorted(self.plans_dir.glob("*.tfplan"), key=lambda p: p.stat().st_mtime)
        for old in files[:-keep]:
            old.unlink(missing_ok=True)

    @contextmanager
    def apply_lock(self, holder: str) -> Iterator[None]:
        """One apply at a time per working directory (and so per state file).

        An flock on `apply.lock`, released by the kernel if the holder dies; while held the file
        says who holds it and since when, so contention reports holder and age. Re-entrant
        within this workspace object (approve holds it across re-plan and apply).
        """
        if self._lock_depth and self._lock_owner == threading.get_ident():
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        lock_path = self.workdir / "apply.lock"
        with lock_path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise TemporaryError(
                    f"another apply is running ({describe_lock_holder(lock_path)}); "
                    f"lock {lock_path}"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(
                json.dumps(
                    {
                        "holder": holder,
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "since": time.time(),
                    }
                )
            )
            handle.flush()
            self._lock_depth = 1
            self._lock_owner = threading.get_ident()
            try:
                yield
            finally:
                self._lock_depth = 0
                self._lock_owner = None
                handle.seek(0)
                handle.truncate()
                handle.flush()
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _check(command: str, result: TerraformResult) -> TerraformResult:
        if result.exit_code != 0:
            raise terraform_failure(command, result)
        return result


def describe_lock_holder(lock_path: Path, now: float | None = None) -> str:
    """'cycle applying 000003-ab (pid 41, host h) for 12s', from the lock file's content."""
    try:
        info = json.loads(lock_path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        info = {}
    if not info:
        return "holder unknown"
    age = (now if now is not None else time.time()) - float(info.get("since", 0))
    return (
        f"held by {info.get('holder', '?')} (pid {info.get('pid', '?')} on "
        f"{info.get('host', '?')}) for {age:.0f}s"
    )
