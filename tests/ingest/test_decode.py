"""Decoding records: every bad kind becomes a precise dead letter and its neighbours are kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.adapters.event_decode import (
    INVALID_EVENT,
    INVALID_JSON,
    NOT_UTF8,
    OVERSIZE,
    EventDecoder,
    Rejected,
)
from controller.adapters.iso_times import parse_utc_ms


def event(i: int, **change: object) -> bytes:
    doc: dict[str, object] = {
        "user_id": f"u{i}",
        "timestamp": f"2026-11-02T10:{i % 60:02d}:00.250Z",
        "event_type": "browse",
        "resource_consumption": {"cpu_ms": 1.5, "memory_mb": 2, "network_kb": 3.25, "io_ops": 4},
        "session_id": f"s{i}",
        "region": "eu-west-1",
    }
    doc.update(change)
    return json.dumps(doc).encode()


DECODER = EventDecoder(max_event_bytes=4096)


def decode(records: list[bytes]) -> tuple[list[int], list[Rejected]]:
    result = DECODER.decode(records)
    return result.events.records.tolist(), result.rejected


def test_a_clean_batch_becomes_columns_with_exact_values() -> None:
    result = DECODER.decode([event(1), event(2, session_id=None, region=None)])
    cols = result.events
    assert result.rejected == []
    assert cols.ts_ms.tolist() == [1793613660250, 1793613720250]
    assert [cols.keys[k] for k in cols.key_codes] == ["s:s1", "u:u2"]
    assert [cols.regions[r] for r in cols.region_codes] == ["eu-west-1", "unknown"]
    assert cols.resources[0].tolist() == [1500, 2000, 3250, 4000]


def test_invalid_json_is_a_dead_letter_and_its_neighbours_are_kept() -> None:
    kept, rejected = decode(
        [event(1), b'{"user_id": "u0000001", "timestamp": "2026-11-0', event(3)]
    )
    assert kept == [0, 2]
    (letter,) = rejected
    assert (letter.record, letter.kind) == (1, INVALID_JSON)
    assert "truncated" in letter.reason


def test_non_utf8_bytes_are_a_dead_letter_naming_the_byte() -> None:
    bad = event(2).replace(b"browse", b"br\xffwse")
    kept, rejected = decode([event(1), bad, event(3)])
    assert kept == [0, 2]
    assert rejected[0].kind == NOT_UTF8
    where = bad.index(b"\xff")
    assert f"byte {where} is b'\\xff'" in rejected[0].reason


def test_a_missing_field_is_named() -> None:
    kept, rejected = decode(
        [event(1), json.dumps({"user_id": "u2", "event_type": "browse"}).encode()]
    )
    assert kept == [0]
    assert rejected[0].kind == INVALID_EVENT
    assert rejected[0].reason == "timestamp: required field is missing"


def test_a_mistyped_field_is_named_with_its_value() -> None:
    bad = event(
        2, resource_consumption={"cpu_ms": "lots", "memory_mb": 1, "network_kb": 1, "io_ops": 1}
    )
    kept, rejected = decode([bad, event(3)])
    assert kept == [1]
    assert rejected[0].reason == "resource_consumption.cpu_ms: Expected float, got str (got 'lots')"


def test_a_mistyped_field_in_a_record_that_is_not_even_json_is_an_invalid_json_letter() -> None:
    # msgspec reports the type first; the record must still become a dead letter, not a crash
    kept, rejected = decode([b'{"event_type":[01]}', b'{"event_type":[1e999]}', event(3)])
    assert kept == [2]
    assert [(r.kind, r.reason) for r in rejected] == [
        (INVALID_JSON, "invalid JSON: invalid number at byte 16"),
        (INVALID_EVENT, "event_type: Expected str, got array"),
    ]


def test_a_timestamp_without_an_offset_is_rejected() -> None:
    kept, rejected = decode([event(1, timestamp="2026-11-02T10:00:00"), event(2)])
    assert kept == [1]
    assert rejected[0].reason == (
        "timestamp: needs a UTC offset, e.g. 2026-11-27T08:00:00Z (got '2026-11-02T10:00:00')"
    )


def test_an_oversize_payload_is_a_dead_letter_with_its_size() -> None:
    big = event(2, padding="x" * 5000)
    kept, rejected = decode([event(1), big, event(3)])
    assert kept == [0, 2]
    assert rejected[0].kind == OVERSIZE
    assert f"{len(big):,} bytes" in rejected[0].reason


def test_a_json_value_that_is_not_an_object_is_rejected() -> None:
    kept, rejected = decode([b"[1, 2]", event(1)])
    assert kept == [1]
    assert rejected[0].reason == "expected a JSON object, got array"


def test_blank_lines_are_skipped_silently() -> None:
    kept, rejected = decode([event(1), b"", b"   ", event(2)])
    assert kept == [0, 3]
    assert rejected == []


def test_a_pretty_printed_message_is_decoded_on_its_own() -> None:
    pretty = json.dumps(json.loads(event(2)), indent=2).encode()
    kept, rejected = decode([event(1), pretty, event(3)])
    assert (kept, rejected) == ([0, 1, 2], [])


GOOD = st.integers(0, 10_000).map(event)
BAD = st.sampled_from(
    [
        b"{",
        b'{"user_id": "u1", "timestamp": "2026-11-0',
        b'{"user_id":"u1","x":"',
        b'"just a string"',
        b"null",
        event(5).replace(b"browse", b"\xff\xfe"),
        event(6, event_type=7),
        event(7, timestamp="yesterday"),
        event(8, resource_consumption={"cpu_ms": -1, "memory_mb": 0, "network_kb": 0, "io_ops": 0}),
        event(9) + b" trailing",
        event(10) + b"," + event(11),
        b"",
        b"  ",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(GOOD, GOOD, GOOD, BAD), max_size=60))
def test_the_fast_path_agrees_with_decoding_each_record_alone(records: list[bytes]) -> None:
    result = DECODER.decode(records)
    alone = [DECODER.decode_one(r) if r.strip() else None for r in records]
    expected_kept = [
        i for i, r in enumerate(alone) if r is not None and not isinstance(r, Rejected)
    ]
    expected_rejected = [
        (i, r.kind, r.reason) for i, r in enumerate(alone) if isinstance(r, Rejected)
    ]
    assert result.events.records.tolist() == expected_kept
    assert [(r.record, r.kind, r.reason) for r in result.rejected] == expected_rejected
    one_by_one = DECODER.decode([records[i] for i in expected_kept])
    assert np.array_equal(result.events.ts_ms, one_by_one.events.ts_ms)
    assert np.array_equal(result.events.resources, one_by_one.events.resources)


def _iso(when: datetime, spec: str, zulu: bool) -> str:
    text = when.isoformat(timespec=spec)
    return text.replace("+00:00", "Z") if zulu else text


ISO_TIMES = st.builds(
    _iso,
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(ISO_TIMES, st.text(alphabet="0123456789-:TZ.+ ", min_size=18, max_size=30)))
def test_bulk_timestamp_parsing_agrees_with_fromisoformat(text: str) -> None:
    ms, problems = parse_utc_ms([text, "2026-11-02T10:00:00.250Z"])
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        assert 0 in problems
    else:
        assert 0 not in problems
        assert int(ms[0]) == (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert int(ms[1]) == 1793613600250
