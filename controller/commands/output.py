"""Where a command's output goes: a file written whole, or standard output for `--out -`.

An output file's directory must exist already: a typo in it is refused before any work is done,
instead of creating a tree of directories somewhere unexpected (`/nonexistent/...`). With
`--out -` the data goes to standard output and the command's own notes to standard error, so a
pipe receives only the data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

STDOUT = Path("-")


def file_to_write(text: str) -> Path:
    """An argparse type: a file the command will create or replace, in an existing directory."""
    if text == "-":
        raise argparse.ArgumentTypeError("- (standard output) is not possible here; give a file")
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; expected a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"directory {path.parent} does not exist (for {text}); create it first"
        )
    return path


def out_file(text: str) -> Path:
    """An argparse type: `file_to_write`, or '-' for standard output."""
    return STDOUT if text == "-" else file_to_write(text)


def to_stdout(path: Path) -> bool:
    return path == STDOUT


def notes_for(path: Path) -> TextIO:
    """Where the command's summary lines go: standard error when the data has standard output."""
    return sys.stderr if to_stdout(path) else sys.stdout


def write_text(path: Path, text: str) -> None:
    """The whole text to standard output, or to `path` atomically (old file or new, never half)."""
    if to_stdout(path):
        sys.stdout.write(text)
        return
    from controller.adapters.files import write_atomically

    write_atomically(path, text)
