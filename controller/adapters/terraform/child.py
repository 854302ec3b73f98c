"""How a Terraform child process starts: in a session of its own, dying with the controller.

A session of its own keeps a terminal's Ctrl-C (sent to the whole foreground process group)
away from a plan or apply the daemon is finishing before it stops. The parent-death signal
makes the kernel kill the child when the controller dies (SIGKILL, OOM), so no orphaned
Terraform keeps the state lock that the restarted controller needs.

`python -m controller.adapters.terraform.child PROGRAM ARGS...` arms that signal and then
becomes PROGRAM (exec keeps it); the embedded worker arms it for itself.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies; a no-op elsewhere.

    If the parent is already gone (it died before this ran), exit at once.
    """
    parent = os.getppid()
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def main() -> None:
    die_with_parent()
    program, *args = sys.argv[1:]
    os.execv(program, [program, *args])


if __name__ == "__main__":
    main()
