"""Typed errors: each says whether retrying can help (kopf's Temporary/Permanent split)."""

from __future__ import annotations


class FleetError(Exception):
    """Base of every error the controller raises on purpose."""

    retryable: bool = False


class InputError(FleetError):
    """Bad input from a user (file, flag, config): the message names where and what."""


class UsageError(InputError):
    """A command-line value is wrong on its own or together with the other flags: knowable
    before any input is read, so it exits 2 with the command's usage, like argparse's errors."""


class ConfigError(InputError):
    """controller.yaml or a FLEET_* variable is invalid."""


class TemporaryError(FleetError):
    """Something outside us failed in a way that may pass (a broker away, a lock held)."""

    retryable = True


class PermanentError(FleetError):
    """Retrying the same step cannot help; a person must act on the message."""


class TerraformError(FleetError):
    """Terraform exited with an error; carries its diagnostics."""

    def __init__(self, command: str, exit_code: int, diagnostics: str) -> None:
        self.command = command
        self.exit_code = exit_code
        self.diagnostics = diagnostics
        super().__init__(f"terraform {command} failed (exit {exit_code}):\n{diagnostics.strip()}")


class TerraformStateLocked(TerraformError, TemporaryError):
    """Terraform could not take its state lock: another plan or apply holds it, which passes.

    Still a TerraformError (it carries the lock holder from Terraform's diagnostics), and
    retryable like every TemporaryError.
    """
