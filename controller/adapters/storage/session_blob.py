"""A partition's open sessions as bytes, stored beside its position (msgpack + raw arrays).

Type masks are written with the table of type names they refer to, so another process (with
its own bit table) reads them back correctly.
"""

from __future__ import annotations

import msgspec
import numpy as np

from controller.ingest.sessions import SessionState, TypeBits

VERSION = 1


class _Blob(msgspec.Struct):
    v: int
    types: list[str]
    keys: list[str]
    last_ts: bytes
    mask: bytes
    last_bucket: bytes
    counted: bytes


def encode_sessions(state: SessionState, bits: TypeBits) -> bytes:
    return msgspec.msgpack.encode(
        _Blob(
            v=VERSION,
            types=list(bits.names),
            keys=state.keys.tolist(),
            last_ts=state.last_ts.astype("<i8").tobytes(),
            mask=state.mask.astype("<u8").tobytes(),
            last_bucket=state.last_bucket.astype("<i8").tobytes(),
            counted=state.counted.astype("<u8").tobytes(),
        )
    )


def decode_sessions(blob: bytes, bits: TypeBits) -> SessionState:
    if not blob:
        return SessionState.empty()
    data = msgspec.msgpack.decode(blob, type=_Blob)
    if data.v != VERSION:
        raise ValueError(
            f"stored sessions have format version {data.v}; this build reads {VERSION}"
        )
    keys = np.empty(len(data.keys), dtype=object)
    keys[:] = data.keys
    return SessionState(
        keys=keys,
        last_ts=np.frombuffer(data.last_ts, dtype="<i8").astype(np.int64),
        mask=bits.remap(np.frombuffer(data.mask, dtype="<u8").astype(np.uint64), data.types),
        last_bucket=np.frombuffer(data.last_bucket, dtype="<i8").astype(np.int64),
        counted=np.frombuffer(data.counted, dtype="<u8").astype(np.uint64),
    )
