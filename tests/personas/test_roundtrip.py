"""Property: any valid persona survives YAML -> model -> YAML unchanged (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.adapters.persona_files import parse_persona, persona_to_yaml
from controller.domain.persona import (
    MAX_SESSION_IOPS,
    MAX_SESSION_MEMORY_MB,
    MAX_SESSION_NETWORK_MBPS,
    WEEKDAYS,
    Persona,
    content_hash,
    persona_slug,
)

PATH = Path("generated.yaml")
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe"]

# Printable text including the strings YAML likes to reinterpret ("yes", "1e3", "~", "<<").
labels = st.one_of(
    st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=30),
    st.sampled_from(["yes", "no", "on", "null", "~", "1e3", "0x1F", "12:00", "<<", "- x", "#"]),
).filter(lambda s: s.strip() != "")
names = labels.filter(lambda s: persona_slug(s) != "")
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


@st.composite
def windows(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.times())
    end = draw(st.times().filter(lambda t: t != start))
    return {
        "days": draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True)),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "timezone": draw(st.sampled_from(ZONES)),
    }


@st.composite
def one_off_peaks(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(
        st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
        )
    )
    length = draw(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=30)))
    return {"start": start.isoformat(), "end": (start + length).isoformat()}


@st.composite
def shares(draw: st.DrawFn) -> dict[str, float]:
    regions = draw(st.lists(labels, min_size=1, max_size=6, unique=True))
    weights = draw(st.lists(st.integers(0, 1000), min_size=len(regions), max_size=len(regions)))
    if not any(weights):
        weights[0] = 1
    total = sum(weights)
    return {region: weight / total for region, weight in zip(regions, weights, strict=True)}


@st.composite
def personas(draw: st.DrawFn) -> Persona:
    return Persona.model_validate(
        {
            "persona_name": draw(names),
            "resource_profile": {
                "cpu_demand": draw(st.floats(0.0, 1.0)),
                "memory_demand": draw(st.integers(0, MAX_SESSION_MEMORY_MB)),
                "network_bandwidth": draw(st.integers(0, MAX_SESSION_NETWORK_MBPS)),
                "io_operations": draw(st.integers(0, MAX_SESSION_IOPS)),
            },
            "traffic_pattern": {
                "peak_times": draw(st.lists(st.one_of(windows(), one_off_peaks()), max_size=4)),
                "geographic_distribution": draw(shares()),
                "access_types": draw(st.lists(labels, min_size=1, max_size=5, unique=True)),
            },
            "associated_tags": draw(st.lists(labels, max_size=4)),
            "fleets": draw(st.lists(labels, min_size=1, max_size=3, unique=True)),
        }
    )


@settings(max_examples=200, deadline=None)
@given(personas())
def test_yaml_to_model_to_yaml_is_lossless(persona: Persona) -> None:
    text = persona_to_yaml(persona)
    parsed = parse_persona(text, PATH)

    assert parsed == persona
    assert content_hash(parsed) == content_hash(persona)
    assert persona_to_yaml(parsed) == text
