"""The persona schema: what it accepts, every way it refuses, and the JSON Schema it publishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.adapters.persona_files import check_persona_file, load_persona_directory
from controller.allocation.catalog import load_catalog
from controller.domain.persona import (
    MAX_SESSION_IOPS,
    MAX_SESSION_MEMORY_MB,
    MAX_SESSION_NETWORK_MBPS,
    Persona,
    persona_json_schema,
)
from tests.helpers import ROOT

GOOD = """\
persona_name: Peak Hour Shopper
resource_profile:
  cpu_demand: 0.05
  memory_demand: 64
  network_bandwidth: 2
  io_operations: 5
traffic_pattern:
  peak_times:
    - days: [mon, tue, wed, thu, fri]
      start: "12:00"
      end: "14:00"
      timezone: America/New_York
    - start: "2026-11-27T05:00:00Z"
      end: "2026-11-27T09:00:00Z"
  geographic_distribution:
    us-east-1: 0.7
    eu-west-1: 0.3
  access_types: [browse, purchase]
associated_tags: [retail]
fleets: [web]
"""
FLEETS = {"web", "api"}

# (replace this, with this, the one problem expected after `path:`)
BAD_INPUTS = [
    (
        "cpu_demand: 0.05",
        "cpu_demand: 1.5",
        "3: resource_profile.cpu_demand: Input should be less than or equal to 1 (got 1.5)",
    ),
    (
        "cpu_demand: 0.05",
        "cpu_demand: -0.1",
        "3: resource_profile.cpu_demand: Input should be greater than or equal to 0 (got -0.1)",
    ),
    (
        "cpu_demand: 0.05",
        'cpu_demand: "0.05"',
        "3: resource_profile.cpu_demand: Input should be a valid number (got '0.05')",
    ),
    (
        "memory_demand: 64",
        'memory_demand: "64"',
        "4: resource_profile.memory_demand: Input should be a valid integer (got '64')",
    ),
    (
        "memory_demand: 64",
        "memory_demand: -1",
        "4: resource_profile.memory_demand: Input should be greater than or equal to 0 (got -1)",
    ),
    (
        "network_bandwidth: 2",
        "network_bandwidth: true",
        "5: resource_profile.network_bandwidth: Input should be a valid integer (got True)",
    ),
    (
        "io_operations: 5",
        "io_operations: 2.5",
        "6: resource_profile.io_operations: Input should be a valid integer (got 2.5)",
    ),
    (
        "  io_operations: 5\n",
        "",
        "2: resource_profile.io_operations: Field required",
    ),
    (
        "memory_demand: 64",
        "memory_demand: 100000000000000000000000000000",
        "4: resource_profile.memory_demand: at most 262144 MB: one session cannot use more memory "
        "than the largest instance type in the catalog has (r6i.8xlarge) "
        "(got 100000000000000000000000000000)",
    ),
    (
        "network_bandwidth: 2",
        "network_bandwidth: 15001",
        "5: resource_profile.network_bandwidth: at most 15000 Mbps: one session cannot use more "
        "bandwidth than the largest instance type in the catalog has (c7g.8xlarge) (got 15001)",
    ),
    (
        "io_operations: 5",
        "io_operations: 40001",
        "6: resource_profile.io_operations: at most 40000 IOPS: one session cannot use more I/O "
        "than the largest instance type in the catalog has (c6i.8xlarge) (got 40001)",
    ),
    (
        "  io_operations: 5\n",
        "  io_operations: 5\n  iops: 9\n",
        "7: resource_profile.iops: unknown field (`fleetctl personas schema` lists the fields) "
        "(got 9)",
    ),
    (
        "fleets: [web]\n",
        "fleets: [web]\ncolour: red\n",
        "21: colour: unknown field (`fleetctl personas schema` lists the fields) (got 'red')",
    ),
    (
        "persona_name: Peak Hour Shopper\n",
        "",
        "1: persona_name: Field required",
    ),
    (
        "persona_name: Peak Hour Shopper",
        'persona_name: "!!!"',
        "1: persona_name: '!!!' has no letters or digits to make a key from (got '!!!')",
    ),
    (
        "persona_name: Peak Hour Shopper",
        'persona_name: "  "',
        "1: persona_name: String should match pattern '\\S' (got '  ')",
    ),
    (
        "days: [mon, tue, wed, thu, fri]",
        "days: [mon, funday]",
        "9: traffic_pattern.peak_times.0.days.1: Input should be 'mon', 'tue', 'wed', 'thu', "
        "'fri', 'sat' or 'sun' (got 'funday')",
    ),
    (
        "days: [mon, tue, wed, thu, fri]",
        "days: [mon, mon]",
        "9: traffic_pattern.peak_times.0.days: a day is listed twice in ['mon', 'mon'] "
        "(got ['mon', 'mon'])",
    ),
    (
        "days: [mon, tue, wed, thu, fri]",
        "days: []",
        "9: traffic_pattern.peak_times.0.days: List should have at least 1 item after "
        "validation, not 0 (got [])",
    ),
    (
        'start: "12:00"',
        "start: 12:00",
        '10: traffic_pattern.peak_times.0.start: write clock times in quotes, e.g. "12:00" '
        "(unquoted, YAML reads 12:00 as the number 720) (got 720)",
    ),
    (
        'start: "12:00"',
        'start: "25:00"',
        "10: traffic_pattern.peak_times.0.start: Input should be in a valid time format, hour "
        "value is outside expected range of 0-23 (got '25:00')",
    ),
    (
        'end: "14:00"',
        'end: "12:00"',
        "9: traffic_pattern.peak_times.0: start and end are both 12:00:00: an empty window "
        "(got {'days': ['mon', 'tue', 'wed', 'thu', 'fri'], 'start': '12:00', 'end': '12:00...)",
    ),
    (
        "timezone: America/New_York",
        "timezone: Mars/Olympus_Mons",
        "12: traffic_pattern.peak_times.0.timezone: unknown IANA time zone 'Mars/Olympus_Mons' "
        "(got 'Mars/Olympus_Mons')",
    ),
    (
        'start: "2026-11-27T05:00:00Z"',
        'start: "2026-11-27T05:00:00"',
        "13: traffic_pattern.peak_times.1: one-off peak times need a UTC offset, e.g. "
        "2026-11-27T08:00:00Z (got {'start': '2026-11-27T05:00:00', 'end': "
        "'2026-11-27T09:00:00Z'})",
    ),
    (
        'end: "2026-11-27T09:00:00Z"',
        'end: "2026-11-27T04:00:00Z"',
        "13: traffic_pattern.peak_times.1: end 2026-11-27T04:00:00+00:00 is not after start "
        "2026-11-27T05:00:00+00:00 (got {'start': '2026-11-27T05:00:00Z', 'end': "
        "'2026-11-27T04:00:00Z'})",
    ),
    (
        'end: "2026-11-27T09:00:00Z"',
        'end: "next friday"',
        "14: traffic_pattern.peak_times.1.end: Input should be a valid datetime or date, invalid "
        "character in year (got 'next friday')",
    ),
    (
        "eu-west-1: 0.3",
        "eu-west-1: 0.2",
        "15: traffic_pattern.geographic_distribution: probabilities must sum to 1, they sum to "
        "0.9 (got {'us-east-1': 0.7, 'eu-west-1': 0.2})",
    ),
    (
        "eu-west-1: 0.3",
        "eu-west-1: 0.30001",
        "15: traffic_pattern.geographic_distribution: probabilities must sum to 1, they sum to "
        "1.00001 (got {'us-east-1': 0.7, 'eu-west-1': 0.30001})",
    ),
    (
        "us-east-1: 0.7",
        "us-east-1: 1.7",
        "16: traffic_pattern.geographic_distribution.us-east-1: Input should be less than or "
        "equal to 1 (got 1.7)",
    ),
    (
        "  geographic_distribution:\n    us-east-1: 0.7\n    eu-west-1: 0.3\n",
        "  geographic_distribution: {}\n",
        "15: traffic_pattern.geographic_distribution: needs at least one region (got {})",
    ),
    (
        "access_types: [browse, purchase]",
        "access_types: []",
        "18: traffic_pattern.access_types: List should have at least 1 item after validation, "
        "not 0 (got [])",
    ),
    (
        "access_types: [browse, purchase]",
        "access_types: [browse, browse]",
        "18: traffic_pattern.access_types: duplicate event types in ['browse', 'browse'] "
        "(got ['browse', 'browse'])",
    ),
    (
        "access_types: [browse, purchase]",
        'access_types: [browse, ""]',
        "18: traffic_pattern.access_types.1: String should have at least 1 character (got '')",
    ),
    (
        "fleets: [web]",
        "fleets: []",
        "20: fleets: List should have at least 1 item after validation, not 0 (got [])",
    ),
    (
        "fleets: [web]",
        "fleets: [web, web]",
        "20: fleets: a fleet is listed twice in ['web', 'web'] (got ['web', 'web'])",
    ),
    (
        "fleets: [web]",
        "fleets: [web, batch]",
        "20: fleets.1: unknown fleet; configured fleets: api, web (got 'batch')",
    ),
    ("access_types: [browse, purchase]", "access_types: [browse, purchase", "19: invalid YAML"),
    (
        "associated_tags: [retail]",
        "associated_tags: [retail]\npersona_name: Again",
        "20: duplicate key 'persona_name' (first on line 1)",
    ),
    (GOOD, "", "1: (document): empty file; expected a persona mapping"),
    (GOOD, "- just\n- a list\n", "1: (document): expected a persona mapping (got a list)"),
]


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "shopper.yaml"
    path.write_text(text)
    _, problems = check_persona_file(path, FLEETS)
    return problems


def test_the_good_definition_has_no_problems(tmp_path: Path) -> None:
    assert _problems(tmp_path, GOOD) == []


@pytest.mark.parametrize(("old", "new", "expected"), BAD_INPUTS, ids=[c[1] for c in BAD_INPUTS])
def test_bad_input_is_reported_as_path_line_field_message_and_value(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    problems = _problems(tmp_path, GOOD.replace(old, new, 1))

    assert len(problems) == 1, problems
    if expected.endswith("invalid YAML"):
        assert problems[0].startswith(f"{tmp_path / 'shopper.yaml'}:{expected}")
    else:
        assert problems[0] == f"{tmp_path / 'shopper.yaml'}:{expected}"


def test_every_problem_in_a_file_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = (
        GOOD.replace("cpu_demand: 0.05", "cpu_demand: 2")
        .replace("memory_demand: 64", "memory_demand: lots")
        .replace("eu-west-1: 0.3", "eu-west-1: 0.1")
        .replace("fleets: [web]", "fleets: [web, batch]")
    )
    fields = [problem.split(": ")[1] for problem in _problems(tmp_path, text)]

    assert fields == [
        "resource_profile.cpu_demand",
        "resource_profile.memory_demand",
        "traffic_pattern.geographic_distribution",
        "fleets.1",
    ]


def test_resource_figures_up_to_the_largest_catalog_instance_are_accepted(
    tmp_path: Path,
) -> None:
    text = (
        GOOD.replace("memory_demand: 64", f"memory_demand: {MAX_SESSION_MEMORY_MB}")
        .replace("network_bandwidth: 2", f"network_bandwidth: {MAX_SESSION_NETWORK_MBPS}")
        .replace("io_operations: 5", f"io_operations: {MAX_SESSION_IOPS}")
    )

    assert _problems(tmp_path, text) == []


def test_the_resource_bounds_are_the_largest_figures_of_the_instance_catalog() -> None:
    types = load_catalog().types.values()

    assert max(t.memory_mib for t in types) == MAX_SESSION_MEMORY_MB
    assert max(t.network_mbps for t in types) == MAX_SESSION_NETWORK_MBPS
    assert max(t.ebs_iops for t in types) == MAX_SESSION_IOPS
    largest = {"memory_demand": "r6i.8xlarge", "network_bandwidth": "c7g.8xlarge"}
    profile = persona_json_schema()["$defs"]["ResourceProfile"]["properties"]
    assert profile["memory_demand"]["maximum"] == MAX_SESSION_MEMORY_MB
    assert profile["network_bandwidth"]["maximum"] == MAX_SESSION_NETWORK_MBPS
    assert profile["io_operations"]["maximum"] == MAX_SESSION_IOPS
    for field, name in largest.items():
        assert name in profile[field]["description"]


def test_geographic_shares_may_miss_one_by_rounding_up_to_a_millionth(tmp_path: Path) -> None:
    thirds = "    us-east-1: 0.333333\n    eu-west-1: 0.333333\n    ap-south-1: 0.3333335\n"
    text = GOOD.replace("    us-east-1: 0.7\n    eu-west-1: 0.3\n", thirds)

    assert _problems(tmp_path, text) == []


def test_a_window_ending_before_it_starts_wraps_midnight(tmp_path: Path) -> None:
    text = GOOD.replace('start: "12:00"', 'start: "22:00"').replace('end: "14:00"', 'end: "02:00"')

    assert _problems(tmp_path, text) == []


def test_peak_times_and_tags_are_optional(tmp_path: Path) -> None:
    start = GOOD.index("  peak_times:")
    end = GOOD.index("  geographic_distribution:")
    text = (GOOD[:start] + GOOD[end:]).replace("associated_tags: [retail]\n", "")

    assert _problems(tmp_path, text) == []


def test_the_example_personas_are_valid_and_point_editors_at_the_schema() -> None:
    examples = load_persona_directory(ROOT / "personas", known_fleets={"web", "api"})

    assert {e.persona.persona_name for e in examples} == {
        "Peak Hour Shopper",
        "Content Publisher",
        "API Consumer",
    }
    for example in examples:
        first_line = example.path.read_text().splitlines()[0]
        assert first_line == "# yaml-language-server: $schema=../docs/persona.schema.json"


def test_the_committed_json_schema_is_the_models_schema() -> None:
    committed = json.loads((ROOT / "docs" / "persona.schema.json").read_text())

    assert committed == persona_json_schema(), (
        "docs/persona.schema.json is stale: run `fleetctl personas schema > docs/persona.schema.json`"
    )


def test_the_json_schema_refuses_unknown_fields_like_the_model() -> None:
    schema = persona_json_schema()

    assert schema["additionalProperties"] is False
    assert all(d["additionalProperties"] is False for d in schema["$defs"].values())
    assert set(schema["required"]) == {
        name for name, field in Persona.model_fields.items() if field.is_required()
    }
