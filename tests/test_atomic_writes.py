"""write_atomically: the one way files are written, whole or not at all, readable by others."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from controller.adapters.files import write_atomically


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_written_file_has_the_mode_the_umask_gives_new_files(
    tmp_path: Path, umask: int, expected: int
) -> None:
    previous = os.umask(umask)
    try:
        write_atomically(tmp_path / "new.txt", "fresh")
        (tmp_path / "old.txt").write_text("before")
        os.chmod(tmp_path / "old.txt", 0o600)  # written by an older version of the controller
        write_atomically(tmp_path / "old.txt", b"replaced")
    finally:
        os.umask(previous)
    assert (mode(tmp_path / "new.txt"), mode(tmp_path / "old.txt")) == (expected, expected)
    assert (tmp_path / "old.txt").read_bytes() == b"replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt", "old.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "half \ud800")  # a lone surrogate cannot be UTF-8
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
