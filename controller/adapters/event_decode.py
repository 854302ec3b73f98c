"""Raw records (NDJSON lines, Kafka messages, Kinesis records) -> event columns + dead letters.

The fastest path is C (`_event_scan.c`): it turns a clean run of records straight into columns
without holding the GIL, so another thread can work meanwhile. It accepts an exactly defined
subset of what msgspec accepts (plain ASCII, the usual timestamp shapes, ...) and hands back the
records outside it, which the msgspec path decodes (or rejects with a reason); the two are merged
in record order. Without a C compiler the extension is not built, and the msgspec
path below does everything.

The msgspec path hands a whole run of records to msgspec's C decoder in one call
(`decode_lines`), validating every field on the way; Python then touches each field once to
build numpy columns. A run that fails is split at the record the error names, the bad record is
decoded alone to say exactly what is wrong with it, and its neighbours go on by the fast path.
So a dirty stream costs little more than a clean one, and every bad record gets a precise reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Annotated, Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd
from msgspec.structs import astuple

from controller.adapters.event_source import RecordView
from controller.adapters.iso_times import parse_one, parse_utc_ms
from controller.ingest.columns import MILLI, UNKNOWN_REGION, EventColumns, IntArray

try:
    from controller.adapters import _event_scan
except ImportError:  # built without a C compiler: the msgspec path decodes everything
    _event_scan = None  # type: ignore[assignment]

MAX_VALUE = 1e12
"""Resource figures above this (per event) are a broken producer, and would overflow sums."""

NOT_UTF8 = "not-utf8"
INVALID_JSON = "invalid-json"
INVALID_EVENT = "invalid-event"
OVERSIZE = "oversize"
TOO_LATE = "too-late"
TOO_FAR_AHEAD = "too-far-ahead"
KINDS = (NOT_UTF8, INVALID_JSON, INVALID_EVENT, OVERSIZE, TOO_LATE, TOO_FAR_AHEAD)

Amount = Annotated[float, msgspec.Meta(ge=0, le=MAX_VALUE)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class _Use(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    cpu_ms: Amount
    memory_mb: Amount
    network_kb: Amount
    io_ops: Amount


class _Event(msgspec.Struct, gc=False):
    # Unknown top-level fields are ignored: producers add fields, old controllers keep reading.
    user_id: Text
    timestamp: Short
    """ISO 8601 with offset; parsed in bulk afterwards (see iso_times), faster than per event"""
    event_type: Short
    resource_consumption: _Use
    session_id: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    region: Short | None = None


@dataclass(frozen=True)
class Rejected:
    record: int
    kind: str
    reason: str


@dataclass
class Decoded:
    events: EventColumns
    rejected: list[Rejected] = field(default_factory=list)


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_BYTE = re.compile(r"\(byte (\d+)\)")
_INDEX = re.compile(r"^\[(\d+)\]")
_GIVE_UP_AFTER = 64
"""Errors in one run after which the rest of it is decoded record by record."""


class EventDecoder:
    def __init__(self, max_event_bytes: int, fast: bool = True) -> None:
        self.max_event_bytes = max_event_bytes
        self.fast = fast and _event_scan is not None
        """use the C path where it applies (False: msgspec only, as the tests' reference)"""
        self._many = msgspec.json.Decoder(_Event)
        self._loose = msgspec.json.Decoder()
        self._types = _Vocabulary(absent="")
        self._regions = _Vocabulary(absent=UNKNOWN_REGION)

    def decode(
        self,
        records: Sequence[bytes],
        joined: bytes | memoryview | None = None,
        oversize: Mapping[int, int] | None = None,
        lengths: IntArray | None = None,
    ) -> Decoded:
        """Decode `records`; `joined`, if given, starts with b"\\n".join(records) (files have
        it), and `lengths` are the records' lengths if known.

        `oversize` names records the source already cut short: index -> full length in bytes.
        Empty records (blank lines) are skipped silently.
        """
        n = len(records)
        if lengths is None:
            lengths = np.fromiter(map(len, records), dtype=np.int64, count=n)
        if self.fast and not oversize and n and int(lengths.max()) <= self.max_event_bytes:
            vocabularies = (self._types.generation, self._regions.generation)
            taken, slow = _scan(records, joined, lengths, self._types, self._regions)
            if slow.shape[0] == 0:
                return Decoded(taken)
            if 2 * slow.shape[0] <= n:  # mostly clean: msgspec decodes only the rest
                rest = self._decode_msgspec([records[i] for i in slow.tolist()], lengths[slow])
                if vocabularies == (self._types.generation, self._regions.generation):
                    return self._merge(taken, rest, slow)
        return self._decode_msgspec(records, lengths, joined, oversize)

    def _decode_msgspec(
        self,
        records: Sequence[bytes],
        lengths: IntArray,
        joined: bytes | memoryview | None = None,
        oversize: Mapping[int, int] | None = None,
    ) -> Decoded:
        n = len(records)
        cut_short = oversize or {}
        rejected = [self._oversize(index, full) for index, full in cut_short.items()]
        too_big = lengths > self.max_event_bytes
        for index in np.flatnonzero(too_big):
            if int(index) not in cut_short:
                rejected.append(self._oversize(int(index), int(lengths[index])))
        too_big[list(cut_short)] = True
        alone = np.zeros(n, dtype=bool)
        if joined is None:
            joined = b"\n".join(records)
            if joined.count(b"\n") != max(n - 1, 0):
                # A record with newlines of its own (pretty-printed JSON) is decoded alone.
                alone[[i for i, record in enumerate(records) if b"\n" in record]] = True
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths + 1, out=starts[1:])
        run = _Run(self, records, joined, starts, lengths, rejected)
        begin = 0
        for special in np.flatnonzero(too_big | alone).tolist():
            run.many(begin, special)
            if not too_big[special]:
                run.one(special)
            begin = special + 1
        run.many(begin, n)
        events = _columns(
            run.events,
            np.array(run.indices, dtype=np.int64),
            rejected,
            self._types,
            self._regions,
        )
        rejected.sort(key=lambda r: r.record)
        return Decoded(events, rejected)

    def _merge(self, taken: EventColumns, rest: Decoded, slow: IntArray) -> Decoded:
        """The C path's events and those msgspec decoded from the records it handed back
        (`slow`: their indices), in record order, with one table of session keys."""
        other = rest.events
        index = {key: i for i, key in enumerate(taken.keys)}
        remap = np.array([index.setdefault(key, len(index)) for key in other.keys] or [0])
        records = np.concatenate([taken.records, slow[other.records]])
        order = np.argsort(records, kind="stable")
        events = EventColumns(
            ts_ms=np.concatenate([taken.ts_ms, other.ts_ms])[order],
            key_codes=np.concatenate([taken.key_codes, remap[other.key_codes]])[order],
            keys=list(index),
            type_codes=np.concatenate([taken.type_codes, other.type_codes])[order],
            types=list(self._types.names),
            region_codes=np.concatenate([taken.region_codes, other.region_codes])[order],
            regions=list(self._regions.names),
            resources=np.concatenate([taken.resources, other.resources])[order],
            records=records[order],
        )
        rejected = [Rejected(int(slow[r.record]), r.kind, r.reason) for r in rest.rejected]
        return Decoded(events, rejected)

    def decode_one(self, record: bytes) -> _Event | Rejected:
        """One record alone: the event, or exactly why it is not one (record index -1)."""
        if len(record) > self.max_event_bytes:
            return self._oversize(-1, len(record))
        try:
            record.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejected(
                -1,
                NOT_UTF8,
                f"not UTF-8: byte {exc.start} is {record[exc.start : exc.start + 1]!r}",
            )
        try:
            event = self._many.decode(record)
        except msgspec.ValidationError as exc:
            # msgspec stops at the first field of the wrong type; the rest of the record may
            # not even be JSON, and then that is what it is.
            try:
                document = self._loose.decode(record)
            except msgspec.ValidationError:  # valid JSON, but a number beyond any float
                document = _UNREADABLE
            except msgspec.DecodeError as malformed:
                return _invalid_json(malformed)
            return Rejected(-1, INVALID_EVENT, self._explain(document, str(exc)))
        except msgspec.DecodeError as exc:
            return _invalid_json(exc)
        when = parse_one(event.timestamp)
        return Rejected(-1, INVALID_EVENT, when) if isinstance(when, str) else event

    def _explain(self, document: Any, message: str) -> str:
        match = _AT.match(message)
        assert match is not None
        msg, path = match.group("msg"), (match.group("path") or "").lstrip(".")
        missing = re.match(r"Object missing required field `(\w+)`", msg)
        if missing:
            where = f"{path}.{missing.group(1)}" if path else missing.group(1)
            return f"{where}: required field is missing"
        if not path:
            got = re.search(r"got `(\w+)`", msg)
            return f"expected a JSON object, got {got.group(1) if got else 'something else'}"
        if document is _UNREADABLE:
            return f"{path}: {msg.replace('`', '')}"
        value = _at(document, path)
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return f"{path}: {msg.replace('`', '')} (got {shown})"

    def _oversize(self, index: int, full: int) -> Rejected:
        return Rejected(
            index,
            OVERSIZE,
            f"record of {full:,} bytes exceeds the limit of {self.max_event_bytes:,}",
        )


class _Run:
    """Decoding state for one call: the events found so far and where they came from."""

    def __init__(
        self,
        decoder: EventDecoder,
        records: Sequence[bytes],
        joined: bytes | memoryview,
        starts: IntArray,
        lengths: IntArray,
        rejected: list[Rejected],
    ) -> None:
        self.d = decoder
        self.records = records
        self.view = memoryview(joined)
        self.starts = starts
        self.lengths = lengths
        self.rejected = rejected
        self.events: list[_Event] = []
        self.indices: list[int] = []

    def one(self, index: int) -> None:
        record = self.records[index]
        if not record.strip():
            return
        result = self.d.decode_one(record)
        if isinstance(result, Rejected):
            self.rejected.append(Rejected(index, result.kind, result.reason))
        else:
            self.events.append(result)
            self.indices.append(index)

    def many(self, a: int, b: int) -> None:
        errors = 0
        while a < b:
            if errors >= _GIVE_UP_AFTER:
                for index in range(a, b):
                    self.one(index)
                return
            blamed = self._try(a, b)
            if blamed is None:
                return
            errors += 1
            if blamed > a and self._try(a, blamed) is not None:
                for index in range(a, blamed):  # the hint misled: take the prefix slowly
                    self.one(index)
            self.one(blamed)
            a = blamed + 1

    def _try(self, a: int, b: int) -> int | None:
        """Decode records [a, b) in one call. None on success, else the record to blame."""
        buffer = self.view[int(self.starts[a]) : int(self.starts[b]) - 1]
        try:
            decoded = self.d._many.decode_lines(buffer)
        except msgspec.ValidationError as exc:
            return self._blame_index(a, b, str(exc))
        except msgspec.DecodeError as exc:
            return self._blame_byte(a, b, str(exc))
        except UnicodeDecodeError:
            try:
                bytes(buffer).decode("utf-8")
            except UnicodeDecodeError as exc:
                return self._record_at(a, b, exc.start)
            return a
        present = [i for i in range(a, b) if self.lengths[i]] if len(decoded) != b - a else None
        if present is not None and len(decoded) != len(present):
            # Whitespace-only records vanish in decode_lines; fall back to be exact.
            for index in range(a, b):
                self.one(index)
            return None
        self.events.extend(decoded)
        self.indices.extend(range(a, b) if present is None else present)
        return None

    def _blame_index(self, a: int, b: int, message: str) -> int:
        match = _AT.match(message)
        path = match.group("path") if match else None
        found = _INDEX.match(path or "")
        if not found:
            return a
        k = int(found.group(1))
        nonblank = np.flatnonzero(self.lengths[a:b] > 0)
        return a + int(nonblank[k]) if k < nonblank.shape[0] else a

    def _blame_byte(self, a: int, b: int, message: str) -> int:
        found = _BYTE.search(message)
        if not found:
            return b - 1  # truncated: the last record ends inside a value
        return self._record_at(a, b, int(found.group(1)))

    def _record_at(self, a: int, b: int, offset: int) -> int:
        absolute = int(self.starts[a]) + offset
        index = int(np.searchsorted(self.starts, absolute, side="right")) - 1
        return min(max(index, a), b - 1)


def _scan(
    records: Sequence[bytes],
    joined: bytes | memoryview | None,
    lengths: IntArray,
    types: _Vocabulary,
    regions: _Vocabulary,
) -> tuple[EventColumns, IntArray]:
    """The C path over `records`: the events of the records it accepts, and the indices of
    those it hands back (outside its subset: for the msgspec path to decode or reject)."""
    assert _event_scan is not None
    n = len(records)
    if isinstance(records, RecordView):
        buffer: bytes | memoryview = records.buffer
        starts, ends = records.starts, records.ends
    else:
        buffer = joined if joined is not None else b"\n".join(records)
        starts = np.zeros(n, dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        ends = starts + lengths
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    ends = np.ascontiguousarray(ends, dtype=np.int64)
    status = np.empty(n, dtype=np.uint8)
    ts_ms = np.empty(n, dtype=np.int64)
    resources = np.empty((n, 4), dtype=np.int64)
    key_codes = np.empty(n, dtype=np.int64)
    type_codes = np.empty(n, dtype=np.int64)
    region_codes = np.empty(n, dtype=np.int64)
    slow, sessions, users, type_names, region_names = _event_scan.scan(
        buffer, starts, ends, status, ts_ms, resources, key_codes, type_codes, region_codes
    )
    handed_back = np.flatnonzero(status == 1) if slow else np.zeros(0, dtype=np.int64)
    events = np.flatnonzero(status == 0)
    if events.shape[0] == 0:
        return EventColumns.empty(), handed_back
    if events.shape[0] < n:  # blank lines
        ts_ms, resources, key_codes = ts_ms[events], resources[events], key_codes[events]
        type_codes, region_codes = type_codes[events], region_codes[events]
    region_table = regions.table([*region_names, None])  # -1 (none given) is the last
    columns = EventColumns(
        ts_ms=ts_ms,
        key_codes=key_codes,
        keys=[f"s:{s}" for s in sessions] + [f"u:{u}" for u in users],
        type_codes=types.table(type_names)[type_codes],
        types=list(types.names),
        region_codes=region_table[region_codes],
        regions=list(regions.names),
        resources=resources,
        records=events.astype(np.int64),
    )
    return columns, handed_back


class _Vocabulary:
    """Codes for a field with few distinct values (event types, regions), kept across batches:
    one dict lookup per event instead of building an array and hashing it again."""

    LIMIT = 10_000
    """more distinct values than this (a broken producer): start the table afresh"""

    def __init__(self, absent: str) -> None:
        self.absent = absent
        self.known: dict[str | None, int] = {}
        self.names: list[str] = []
        self.generation = 0
        """counts the fresh starts: codes from different generations do not mix"""

    def table(self, values: Sequence[str | None]) -> IntArray:
        """The codes of `values` (each distinct), learning those not yet known."""
        if not all(v in self.known for v in values):
            self._learn(values)
        return np.array([self.known[v] for v in values] or [0], dtype=np.int64)

    def codes(self, events: list[_Event], field: str) -> IntArray:
        n = len(events)
        try:
            return np.fromiter(
                map(self.known.__getitem__, map(attrgetter(field), events)), np.int64, n
            )
        except KeyError:
            self._learn(map(attrgetter(field), events))
            return self.codes(events, field)

    def _learn(self, seen: Iterable[str | None]) -> None:
        values = dict.fromkeys(seen)  # in order of first appearance: codes are deterministic
        if len(self.known) + len(values) > self.LIMIT:
            self.known, self.names = {}, []
            self.generation += 1
        for value in values:
            if value not in self.known:
                name = self.absent if value is None else value
                if name in self.names:  # an explicit "unknown" and a missing one agree
                    self.known[value] = self.names.index(name)
                else:
                    self.known[value] = len(self.names)
                    self.names.append(name)


def _columns(
    events: list[_Event],
    indices: IntArray,
    rejected: list[Rejected],
    types: _Vocabulary,
    regions: _Vocabulary,
) -> EventColumns:
    """Columns of the decoded events; those whose timestamp does not parse join `rejected`."""
    ts_ms, bad_times = parse_utc_ms(list(map(attrgetter("timestamp"), events)))
    if bad_times:
        rejected.extend(
            Rejected(int(indices[i]), INVALID_EVENT, why) for i, why in bad_times.items()
        )
        keep = np.ones(len(events), dtype=bool)
        keep[list(bad_times)] = False
        events = [e for e, k in zip(events, keep.tolist(), strict=True) if k]
        indices, ts_ms = indices[keep], ts_ms[keep]
    n = len(events)
    if n == 0:
        return EventColumns.empty()
    sessions, session_names = _factorize(_objects(events, "session_id", n))
    blank = np.flatnonzero(session_names == "")
    if blank.shape[0]:
        sessions[sessions == blank[0]] = -1
    key_codes = sessions.astype(np.int64)
    keys = [f"s:{s}" for s in session_names]
    anonymous = np.flatnonzero(sessions < 0)
    if anonymous.shape[0]:
        # Only events without a session id are keyed by user: factorize just those.
        users, user_names = _factorize(
            np.fromiter((events[i].user_id for i in anonymous.tolist()), dtype=object)
        )
        key_codes[anonymous] = len(keys) + users
        keys += [f"u:{u}" for u in user_names]
    type_codes = types.codes(events, "event_type")
    region_codes = regions.codes(events, "region")
    use = map(attrgetter("resource_consumption"), events)
    values = np.fromiter(chain.from_iterable(map(astuple, use)), dtype=np.float64, count=4 * n)
    resources = np.rint(values.reshape(n, 4) * MILLI).astype(np.int64)
    return EventColumns(
        ts_ms=ts_ms,
        key_codes=key_codes,
        keys=keys,
        type_codes=type_codes,
        types=list(types.names),
        region_codes=region_codes,
        regions=list(regions.names),
        resources=resources,
        records=indices,
    )


def _factorize(values: npt.NDArray[np.object_]) -> tuple[IntArray, npt.NDArray[np.object_]]:
    """Codes (None -> -1) and the distinct values. An object Series skips pandas' inference
    of a string dtype for the distinct values, which costs more than the hashing."""
    codes, uniques = pd.Series(values, dtype=object, copy=False).factorize()
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _objects(events: list[_Event], name: str, n: int) -> npt.NDArray[np.object_]:
    return np.fromiter(map(attrgetter(name), events), dtype=object, count=n)


_UNREADABLE = object()


def _invalid_json(exc: msgspec.DecodeError) -> Rejected:
    text = str(exc).replace("JSON is malformed: ", "")
    text = _BYTE.sub(lambda m: f"at byte {m.group(1)}", text)
    if text == "Input data was truncated":
        text = "truncated (the record ends inside a value)"
    return Rejected(-1, INVALID_JSON, f"invalid JSON: {text}")


def _at(document: Any, path: str) -> Any:
    value = document
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value
