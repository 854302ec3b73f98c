"""The C path of the event decoder computes exactly what the msgspec path computes, or hands
the record back: it never accepts a record msgspec rejects, and never reads one differently."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.adapters import _event_scan, event_file
from controller.adapters.event_decode import EventDecoder
from controller.ingest.columns import EventColumns

OK, SLOW, BLANK = 0, 1, 2

C_PATH = EventDecoder(max_event_bytes=4096)
REFERENCE = EventDecoder(max_event_bytes=4096, fast=False)


def scan(records: list[bytes]) -> list[int]:
    """The C path's verdict per record."""
    n = len(records)
    lengths = np.array([len(r) for r in records], dtype=np.int64)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    status = np.empty(n, dtype=np.uint8)
    _event_scan.scan(
        b"\n".join(records),
        starts,
        starts + lengths,
        status,
        np.empty(n, dtype=np.int64),
        np.empty((n, 4), dtype=np.int64),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
    )
    return [int(s) for s in status]


def rows(events: EventColumns) -> list[tuple[object, ...]]:
    """Each event as plain values (codes resolved to names: code order is internal)."""
    return [
        (
            int(events.records[i]),
            int(events.ts_ms[i]),
            events.keys[events.key_codes[i]],
            events.types[events.type_codes[i]],
            events.regions[events.region_codes[i]],
            tuple(events.resources[i].tolist()),
        )
        for i in range(len(events))
    ]


def event(i: int, **change: object) -> bytes:
    doc: dict[str, object] = {
        "user_id": f"u{i % 7}",
        "timestamp": f"2026-11-02T10:{i % 60:02d}:00.250Z",
        "event_type": ["browse", "purchase", "search"][i % 3],
        "resource_consumption": {"cpu_ms": 1.5, "memory_mb": 2, "network_kb": 3.25, "io_ops": i},
        "region": ["eu-west-1", "us-east-1", None][i % 3],
    }
    if i % 2:
        doc["session_id"] = f"s{i % 5}"
    doc.update(change)
    return json.dumps(doc, separators=(",", ":")).encode()


def test_a_clean_batch_takes_the_c_path_and_matches_the_reference_exactly() -> None:
    records = [event(i) for i in range(40)] + [b"", event(40) + b"\r"]
    assert scan(records) == [OK] * 40 + [BLANK, OK]
    fast, reference = C_PATH.decode(records), REFERENCE.decode(records)
    assert fast.rejected == reference.rejected == []
    assert rows(fast.events) == rows(reference.events)
    assert [fast.events.keys[k] for k in fast.events.key_codes[:4]] == [
        "u:u0",
        "s:s1",
        "u:u2",
        "s:s3",
    ]


def test_a_chunk_mostly_outside_the_c_subset_is_decoded_by_msgspec_whole() -> None:
    records = [event(1), event(2, timestamp="yesterday"), event(3, user_id="Zoë")]
    assert scan(records) == [OK, SLOW, SLOW]
    fast, reference = C_PATH.decode(records), REFERENCE.decode(records)
    assert rows(fast.events) == rows(reference.events)
    assert [(r.record, r.kind, r.reason) for r in fast.rejected] == [
        (r.record, r.kind, r.reason) for r in reference.rejected
    ]
    assert [r.record for r in fast.rejected] == [1]


def test_a_mostly_clean_chunk_sends_only_its_odd_records_to_msgspec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [event(i) for i in range(30)]
    records[3] = event(3, timestamp="yesterday")  # a dead letter
    records[9] = event(9, user_id="Zoë")  # valid, but not plain ASCII
    records[20] = b'{"event_type":[01]}'  # not even JSON
    decoder = EventDecoder(max_event_bytes=4096)
    sizes: list[int] = []
    msgspec_path = decoder._decode_msgspec

    def watched(chunk: list[bytes], *args: object) -> object:
        sizes.append(len(chunk))
        return msgspec_path(chunk, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(decoder, "_decode_msgspec", watched)
    fast, reference = decoder.decode(records), REFERENCE.decode(records)
    assert sizes == [3]
    assert rows(fast.events) == rows(reference.events)
    assert [(r.record, r.kind, r.reason) for r in fast.rejected] == [
        (r.record, r.kind, r.reason) for r in reference.rejected
    ]
    assert [r.record for r in fast.rejected] == [3, 20]


def test_codes_stay_consistent_when_batches_alternate_between_the_paths() -> None:
    decoder = EventDecoder(max_event_bytes=4096)
    first = decoder.decode([event(i) for i in range(6)])
    second = decoder.decode([event(6, event_type="Zoë"), event(7)])  # msgspec path
    third = decoder.decode([event(i) for i in range(8, 14)])
    expected = [
        REFERENCE.decode([event(i) for i in range(6)]),
        REFERENCE.decode([event(6, event_type="Zoë"), event(7)]),
        REFERENCE.decode([event(i) for i in range(8, 14)]),
    ]
    for got, want in zip([first, second, third], expected, strict=True):
        assert rows(got.events) == rows(want.events)


# -- generated records: near the accepted subset, on both sides of its edges ---------------------

NUMBERS = st.one_of(
    st.from_regex(r"-?(0|[1-9][0-9]{0,16})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
    st.sampled_from(
        ["1e12", "1000000000000.0", "1000000000000.5", "-0", "-0.0", "0.0005", "0.0015"]
    ),
    st.floats(min_value=0, max_value=2e12, allow_nan=False).map(repr),
    st.sampled_from(["01", "1.", ".5", "+1", "NaN", "Infinity", "1e", "0x10"]),
)
PLAIN_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=70)
ANY_TEXT = st.one_of(PLAIN_TEXT, PLAIN_TEXT, st.text(max_size=8))


def _iso(when: datetime, spec: str, zulu: bool, separator: str) -> str:
    text = when.isoformat(sep=separator, timespec=spec)
    return text.replace("+00:00", "Z") if zulu else text


USUAL_TIMES = st.builds(
    _iso,
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=23))]
        )
    ),
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
    st.booleans(),
    st.sampled_from(["T", "t", " "]),
)
TIMESTAMPS = st.one_of(
    USUAL_TIMES,
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{0,8})?"
        r"(Z|z|[+-][0-9]{2}:?[0-9]{2}|)",
        fullmatch=True,
    ),
    st.text(alphabet="0123456789-:TZ.+ ", min_size=18, max_size=30),
)


def _string(text: str, raw: bool) -> str:
    return json.dumps(text, ensure_ascii=not raw)


STRINGS = st.builds(_string, ANY_TEXT, st.booleans())
JSON_VALUES = st.recursive(
    st.one_of(st.sampled_from(["null", "true", "false"]), NUMBERS, STRINGS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(STRINGS, inner), max_size=3).map(
            lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"
        ),
    ),
    max_leaves=6,
)


def _usage(fields: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields) + "}"


USAGE = st.one_of(
    st.permutations(["cpu_ms", "memory_mb", "network_kb", "io_ops"]).flatmap(
        lambda names: st.tuples(*[st.tuples(st.just(n), NUMBERS) for n in names]).map(
            lambda fields: _usage(list(fields))
        )
    ),
    st.lists(
        st.tuples(st.sampled_from(["cpu_ms", "memory_mb", "network_kb", "io_ops", "gpu"]), NUMBERS),
        max_size=6,
    ).map(_usage),
    JSON_VALUES,
)
TEXT_VALUES = st.one_of(STRINGS, STRINGS, STRINGS, JSON_VALUES)
FIELDS = {
    "user_id": TEXT_VALUES,
    "timestamp": st.one_of(TIMESTAMPS.map(json.dumps), TIMESTAMPS.map(json.dumps), JSON_VALUES),
    "event_type": TEXT_VALUES,
    "resource_consumption": USAGE,
    "session_id": st.one_of(st.just("null"), TEXT_VALUES),
    "region": st.one_of(st.just("null"), TEXT_VALUES),
}
SPACE = st.sampled_from(["", "", "", " ", "  ", "\t", "\r"])


@st.composite
def records(draw: st.DrawFn) -> bytes:
    names = draw(st.permutations(list(FIELDS)))
    present = [n for n in names if draw(st.integers(0, 9)) > 0]  # sometimes one is missing
    members = [(json.dumps(n), draw(FIELDS[n])) for n in present]
    for _ in range(draw(st.integers(0, 2))):  # extra fields, or a repeated one
        key = draw(st.one_of(st.sampled_from(names), ANY_TEXT)).join('""')
        members.insert(draw(st.integers(0, len(members))), (key, draw(JSON_VALUES)))
    body = ",".join(
        f"{draw(SPACE)}{k}{draw(SPACE)}:{draw(SPACE)}{v}{draw(SPACE)}" for k, v in members
    )
    text = (draw(SPACE) + "{" + body + "}" + draw(SPACE)).encode()
    cut = draw(st.integers(0, 30))
    if cut == 1:  # truncated
        text = text[: draw(st.integers(0, len(text)))]
    elif cut == 2:  # a byte changed
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        text = text[:at] + bytes([draw(st.integers(0, 255))]) + text[at + 1 :]
    return text.replace(b"\n", b" ")


SAFE_TEXT = st.text(
    st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'),
    min_size=1,
    max_size=64,
)
SAFE_NUMBERS = st.one_of(
    st.integers(0, 10**12).map(str),
    st.from_regex(r"(0|[1-9][0-9]{0,11})\.[0-9]{1,9}", fullmatch=True),
    st.floats(min_value=0, max_value=1e12, allow_nan=False).map(repr),
)


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    """A record of the usual shape (random values, field order and spacing), half the time
    with one thing changed: a field missing, repeated, mistyped or extra, a number or a time
    out of range."""
    usage = [(n, draw(SAFE_NUMBERS)) for n in draw(st.permutations(list(USAGE_NAMES)))]
    members = {
        "user_id": json.dumps(draw(SAFE_TEXT)),
        "timestamp": json.dumps(draw(st.one_of(USUAL_TIMES, USUAL_TIMES, TIMESTAMPS))),
        "event_type": json.dumps(draw(SAFE_TEXT)),
        "resource_consumption": _usage(usage),
    }
    for optional in ("session_id", "region"):
        choice = draw(st.integers(0, 3))
        if choice == 1:
            members[optional] = "null"
        elif choice >= 2:
            members[optional] = json.dumps(draw(st.one_of(SAFE_TEXT, st.just(""))))
    pairs = [(json.dumps(k), v) for k, v in members.items()]
    pairs = draw(st.permutations(pairs))
    change = draw(st.integers(0, 11))
    if change == 1 and pairs:
        pairs.pop(draw(st.integers(0, len(pairs) - 1)))
    elif change == 2 and pairs:
        pairs.append(draw(st.sampled_from(pairs)))
    elif change == 3:
        k = draw(st.integers(0, len(pairs) - 1))
        pairs[k] = (pairs[k][0], draw(JSON_VALUES))
    elif change == 4:
        pairs.insert(
            draw(st.integers(0, len(pairs))), (json.dumps(draw(SAFE_TEXT)), draw(JSON_VALUES))
        )
    space = draw(st.sampled_from(["", "", " "]))
    body = ",".join(f"{k}:{space}{v}" for k, v in pairs)
    return ("{" + body + "}").encode()


USAGE_NAMES = ("cpu_ms", "memory_mb", "network_kb", "io_ops")


@settings(max_examples=1500, deadline=None)
@given(st.one_of(near_valid(), near_valid(), records()))
def test_a_record_the_c_path_accepts_is_read_exactly_as_msgspec_reads_it(record: bytes) -> None:
    (verdict,) = scan([record])
    reference = REFERENCE.decode([record])
    if verdict == OK:
        assert reference.rejected == []
        assert rows(C_PATH.decode([record]).events) == rows(reference.events)
        assert len(reference.events) == 1
    elif verdict == BLANK:
        assert (len(reference.events), reference.rejected) == (0, [])
    else:
        assert verdict == SLOW
        assert rows(C_PATH.decode([record]).events) == rows(reference.events)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 50).map(event), near_valid(), records()), max_size=30))
def test_a_mixed_batch_decodes_as_the_reference_does(batch: list[bytes]) -> None:
    fast, reference = C_PATH.decode(batch), REFERENCE.decode(batch)
    assert rows(fast.events) == rows(reference.events)
    assert [(r.record, r.kind, r.reason) for r in fast.rejected] == [
        (r.record, r.kind, r.reason) for r in reference.rejected
    ]


def test_the_c_path_accepts_every_usual_timestamp_shape() -> None:
    """The properties above would pass vacuously if the C path refused everything."""
    accepted = [scan([event(i, timestamp=t)])[0] for i, t in enumerate(SAMPLE_TIMES)]
    assert accepted == [OK] * len(SAMPLE_TIMES)


SAMPLE_TIMES = [
    "2026-11-02T10:00:00Z",
    "2026-11-02T10:00:00.2Z",
    "2026-11-02T10:00:00.25Z",
    "2026-11-02T10:00:00.250Z",
    "2026-11-02T10:00:00.2500Z",
    "2026-11-02T10:00:00.123456Z",
    "2026-11-02t10:00:00+05:30",
    "2026-11-02 10:00:00-23:59",
    "0001-01-01T00:00:00Z",
    "2024-02-29T23:59:59.999999Z",
]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300).map(lambda b: b.replace(b"x", b"\n")), st.data())
def test_the_file_source_finds_the_same_newlines_in_c_as_a_plain_search(
    data: bytes, draw: st.DataObject
) -> None:
    buffer = bytearray(b"x\n" + data)
    start = draw.draw(st.integers(0, len(buffer)))
    end = draw.draw(st.integers(start, len(buffer)))
    limit = draw.draw(st.integers(0, 50))
    plain = [i - start for i in range(start, end) if buffer[i] == 10]
    assert event_file._newline_offsets(buffer, start, end, limit).tolist() == plain[:limit]
    assert event_file._count_newlines(buffer, start, end) == len(plain)
