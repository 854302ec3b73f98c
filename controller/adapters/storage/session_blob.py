"""A partition's open sessions as bytes, stored beside its position (msgpack + raw arrays).

Type masks are written with the table of type names they refer to, so another process (with
its own bit table) reads them back correctly.
"""

from __future__ import annotations

import msgspec
import numpy as np
import pandas as pd

from controller.ingest.sessions import SessionState, TypeBits

VERSION = 2
"""2: sessions carry what the matcher reads (start, events, resource sums, region)"""


class _Version(msgspec.Struct):
    v: int


class _Blob(msgspec.Struct):
    v: int
    types: list[str]
    keys: list[str]
    last_ts: bytes
    mask: bytes
    last_bucket: bytes
    counted: bytes
    start_ts: bytes
    events: bytes
    resources: bytes
    region_names: list[str]
    region_codes: bytes


def encode_sessions(state: SessionState, bits: TypeBits) -> bytes:
    codes, names = pd.factorize(state.region)  # a few regions, many sessions
    return msgspec.msgpack.encode(
        _Blob(
            v=VERSION,
            types=list(bits.names),
            keys=state.keys.tolist(),
            last_ts=state.last_ts.astype("<i8").tobytes(),
            mask=state.mask.astype("<u8").tobytes(),
            last_bucket=state.last_bucket.astype("<i8").tobytes(),
            counted=state.counted.astype("<u8").tobytes(),
            start_ts=state.start_ts.astype("<i8").tobytes(),
            events=state.events.astype("<i8").tobytes(),
            resources=state.resources.astype("<i8").tobytes(),
            region_names=[str(n) for n in names],
            region_codes=np.asarray(codes, dtype="<i4").tobytes(),
        )
    )


def decode_sessions(blob: bytes, bits: TypeBits) -> SessionState:
    if not blob:
        return SessionState.empty()
    version = msgspec.msgpack.decode(blob, type=_Version).v
    if version != VERSION:
        raise ValueError(
            f"stored sessions have format version {version}; this build reads {VERSION} "
            "(move the database away and ingest again)"
        )
    data = msgspec.msgpack.decode(blob, type=_Blob)
    if data.v != VERSION:
        raise ValueError(
            f"stored sessions have format version {data.v}; this build reads {VERSION}"
        )
    keys = np.empty(len(data.keys), dtype=object)
    keys[:] = data.keys
    names = np.empty(len(data.region_names), dtype=object)
    names[:] = data.region_names
    regions = names[np.frombuffer(data.region_codes, dtype="<i4").astype(np.int64)]
    return SessionState(
        keys=keys,
        last_ts=np.frombuffer(data.last_ts, dtype="<i8").astype(np.int64),
        mask=bits.remap(np.frombuffer(data.mask, dtype="<u8").astype(np.uint64), data.types),
        last_bucket=np.frombuffer(data.last_bucket, dtype="<i8").astype(np.int64),
        counted=np.frombuffer(data.counted, dtype="<u8").astype(np.uint64),
        start_ts=np.frombuffer(data.start_ts, dtype="<i8").astype(np.int64),
        events=np.frombuffer(data.events, dtype="<i8").astype(np.int64),
        resources=np.frombuffer(data.resources, dtype="<i8").astype(np.int64).reshape(-1, 4),
        region=regions,
    )
