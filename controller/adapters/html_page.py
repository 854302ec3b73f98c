"""Self-contained HTML pages: one file, its plots inside it, so it can be mailed, attached to a
ticket or opened from an archive without the PNGs that used to lie beside it."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

from controller.adapters.files import write_atomically
from controller.domain.errors import InputError

PAGE_SUFFIXES = (".html", ".htm")
DIRECTORY_PAGE = "index.html"


def page_path(target: Path) -> Path:
    """Where `--out` / `--report` puts the page: a path ending in .html is the page itself; any
    other path is a directory (created if missing) that gets index.html, as before."""
    if target.suffix.lower() in PAGE_SUFFIXES:
        return target
    if target.exists() and not target.is_dir():
        raise InputError(
            f"{target}: exists and is not a directory; name an .html file or a directory"
        )
    return target / DIRECTORY_PAGE


def png_data_uri(figure: Figure) -> str:
    """The figure as a data: URI (base64 PNG) for an <img src>."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def write_page(target: Path, page: str) -> Path:
    """Write the page where page_path says, atomically, readable as any new file; its path."""
    path = page_path(target)
    write_atomically(path, page)
    return path
