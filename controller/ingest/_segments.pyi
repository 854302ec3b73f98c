from typing import Any

import numpy.typing as npt

_Array = npt.NDArray[Any]

def running_max(values: _Array, starts: _Array, out: _Array, /) -> None: ...
def running_or(bits: _Array, starts: _Array, initial: _Array, out: _Array, /) -> None: ...
def running_sum(values: _Array, starts: _Array, width: int, out: _Array, /) -> None: ...
def first_of_pairs(a: _Array, b: _Array, out: _Array, /) -> None: ...
def sessionize(
    inputs: tuple[_Array, ...],
    outputs: tuple[_Array, ...],
    gap_ms: int,
    bucket_ms: int,
    regions: int,
    extras: int,
    /,
) -> tuple[int, int, int, int]: ...
