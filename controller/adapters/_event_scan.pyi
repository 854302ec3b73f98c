from typing import Any

import numpy.typing as npt
from typing_extensions import Buffer

_Array = npt.NDArray[Any]

def scan(
    buffer: Buffer,
    starts: _Array,
    ends: _Array,
    status: _Array,
    ts_ms: _Array,
    resources: _Array,
    key_codes: _Array,
    type_codes: _Array,
    region_codes: _Array,
    /,
) -> tuple[int, list[str], list[str], list[str], list[str]]: ...
def newlines(buffer: Buffer, start: int, end: int, out: _Array, /) -> int: ...
