"""personas/_calendar.yaml: loading, and problems reported as path:line: field: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.adapters.calendar_file import CALENDAR_FILE, load_calendar, validate_calendar
from controller.adapters.persona_files import load_persona_directory
from controller.domain.errors import InputError

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
campaigns:
  - name: sale
    persona: shop
    start: 2026-11-27T00:00:00-05:00
    end: 2026-11-30T00:00:00-05:00
    uplift: 2.5
maintenance:
  - name: db
    start: 2026-11-10T02:00:00Z
    end: 2026-11-10T04:00:00Z
history_cutoffs:
  - since: 2026-10-01T00:00:00Z
    reason: new client
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / CALENDAR_FILE
    path.write_text(text)
    return path


def test_a_valid_calendar_loads_into_windows_and_cutoffs(tmp_path: Path) -> None:
    calendar = load_calendar(write(tmp_path, GOOD), known_personas={"shop"})
    kinds = [(w.name, w.kind, w.uplift, w.personas) for w in calendar.windows]
    assert kinds == [("sale", "campaign", 2.5, ("shop",)), ("db", "maintenance", 1.0, ())]
    assert calendar.history_start("anyone") is not None


def test_the_example_calendar_is_valid_for_the_example_personas() -> None:
    keys = {f.persona.key for f in load_persona_directory(ROOT / "personas")}
    assert validate_calendar(ROOT / "personas" / CALENDAR_FILE, keys) == []


def test_a_missing_calendar_is_an_empty_one(tmp_path: Path) -> None:
    assert validate_calendar(tmp_path / CALENDAR_FILE) == []
    assert load_calendar(tmp_path / CALENDAR_FILE).windows == ()


def test_end_before_start_names_line_field_and_value(tmp_path: Path) -> None:
    path = write(
        tmp_path, GOOD.replace("end: 2026-11-30T00:00:00-05:00", "end: 2026-11-20T00:00:00-05:00")
    )
    [problem] = validate_calendar(path)
    assert problem.startswith(
        f"{path}:2: campaigns.0: end 2026-11-20T00:00:00-05:00 is not after start"
    )


def test_a_negative_uplift_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("uplift: 2.5", "uplift: -1"))
    [problem] = validate_calendar(path)
    assert problem.startswith(f"{path}:6: campaigns.0.uplift: ") and "(got -1)" in problem


def test_times_without_offset_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, GOOD.replace("since: 2026-10-01T00:00:00Z", "since: 2026-10-01T00:00:00")
    )
    [problem] = validate_calendar(path)
    assert f"{path}:12: history_cutoffs.0: " in problem and "UTC offset" in problem


def test_an_unknown_persona_is_reported_with_the_known_ones(tmp_path: Path) -> None:
    [problem] = validate_calendar(write(tmp_path, GOOD), known_personas={"api", "web"})
    assert ":3: campaigns.0.persona: unknown persona (got 'shop'; known: api, web)" in problem


def test_unknown_keys_and_bad_yaml_are_problems_too(tmp_path: Path) -> None:
    typo = validate_calendar(write(tmp_path, GOOD.replace("uplift: 2.5", "uplfit: 2.5")))
    assert any(":6: campaigns.0.uplfit: Extra inputs are not permitted" in p for p in typo)
    assert any("campaigns.0.uplift: Field required" in p for p in typo)
    [syntax] = validate_calendar(write(tmp_path, "campaigns: [\n"))
    assert "invalid YAML" in syntax


def test_load_calendar_raises_every_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path, GOOD.replace("uplift: 2.5", "uplift: 0").replace("T02:00:00Z", "T09:00:00Z")
    )
    with pytest.raises(InputError) as caught:
        load_calendar(path)
    assert "2 problem(s)" in str(caught.value)
