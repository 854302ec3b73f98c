from typing import Any

import numpy.typing as npt

_Array = npt.NDArray[Any]

def sessionize(
    inputs: tuple[_Array, ...],
    outputs: tuple[_Array, ...],
    gap_ms: int,
    bucket_ms: int,
    regions: int,
    extras: int,
    /,
) -> tuple[int, int, int, int]: ...
