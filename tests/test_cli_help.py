"""What `--help` and the docs tell a user: every command described, every option explained."""

from __future__ import annotations

import re

import pytest

from controller.cli import build_parser
from controller.commands.common import command_parsers, options
from controller.domain.event import Event, ResourceConsumption
from tests.helpers import ROOT

PARSERS = {p.prog: p for p in command_parsers(build_parser())}


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_every_command_has_a_description(prog: str) -> None:
    assert (PARSERS[prog].description or "").strip(), f"{prog} has no description"


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_every_option_of_every_command_has_help(prog: str) -> None:
    unexplained = [
        "/".join(action.option_strings) or action.dest
        for action in options(PARSERS[prog])
        if not (action.help or "").strip()
    ]
    assert unexplained == [], f"{prog}: no help for {unexplained}"


def test_the_readme_shows_metrics_export_with_its_out_flag() -> None:
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^\s+metrics export --out (F\.csv|-)", readme, re.MULTILINE)


def test_the_ingestion_doc_lists_every_event_field_with_whether_it_is_required() -> None:
    doc = (ROOT / "docs" / "ingestion.md").read_text()
    table = doc[doc.index("## Event fields") :]
    fields = [(name, f) for name, f in Event.model_fields.items()] + [
        (f"resource_consumption.{name}", f) for name, f in ResourceConsumption.model_fields.items()
    ]
    for name, field in fields:
        row = re.search(rf"^\| `{re.escape(name)}` \|.*$", table, re.MULTILINE)
        assert row, f"docs/ingestion.md: no row for {name}"
        required = "| required |" in row.group(0)
        assert required == field.is_required(), row.group(0)


def test_the_documented_example_event_is_one_ingestion_accepts() -> None:
    from controller.adapters.event_decode import EventDecoder

    doc = (ROOT / "docs" / "ingestion.md").read_text()
    table = doc[doc.index("## Event fields") :]
    example = re.search(r"```json\n(.*?)\n```", table, re.DOTALL)
    assert example
    decoded = EventDecoder(64 * 1024).decode([example.group(1).encode()])
    assert decoded.rejected == [] and len(decoded.events) == 1
