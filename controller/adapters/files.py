"""Reading input files with errors a person can act on; writes that never leave half a file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from controller.domain.errors import InputError

NEW_FILE_MODE = 0o666
"""What the umask trims, as for any file a program creates (0644 under the usual 022): reports,
CSVs and state are read by other people and tools. tempfile.mkstemp would create 0600, which
os.replace then carries over to the finished file. No file written here holds a secret (tokens
and database passwords stay in the environment); one that did would need its own mode."""


def write_atomically(path: Path, content: str | bytes) -> None:
    """Readers see the old file or the new one, never half of one. Text is written as UTF-8."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode() if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, exclusively created hidden file in `path`'s directory (same file system, so the
    rename is atomic), with the mode the umask gives new files."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE), tmp
        except FileExistsError:
            continue


def read_input_text(path: Path, encoding: str = "utf-8") -> str:
    """The whole text of an input file; a missing, unreadable or non-UTF-8 file raises
    InputError naming the path (and the byte that is not UTF-8)."""
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
