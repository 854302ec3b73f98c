"""Checks for the HTML pages the CLI writes: one self-contained file a person can pass on."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser

URL_ATTRIBUTES = {"src", "href", "srcset", "data", "poster", "action", "formaction"}
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)|@import\s+['\"]([^'\"]+)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in URL_ATTRIBUTES and value]
        self.found += [m[0] or m[1] for m in CSS_URL.findall(dict(attrs).get("style") or "")]

    def handle_data(self, data: str) -> None:
        self.found += [m[0] or m[1] for m in CSS_URL.findall(data)]


def references(page: str) -> list[str]:
    """Every URL the page would load or link: attributes and CSS url()/@import."""
    parser = _References()
    parser.feed(page)
    return parser.found


def outside_references(page: str) -> list[str]:
    """References to anything not inside the page itself (files beside it, other hosts)."""
    return [url for url in references(page) if not url.startswith(("data:", "#"))]


def embedded_pngs(page: str) -> list[bytes]:
    """The PNG images embedded as data: URIs, decoded."""
    prefix = "data:image/png;base64,"
    return [
        base64.b64decode(url[len(prefix) :]) for url in references(page) if url.startswith(prefix)
    ]


@contextmanager
def usual_umask() -> Iterator[None]:
    """Run with umask 022, the common default, so a file's expected mode is known (0644)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)
