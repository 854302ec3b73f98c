"""Synthetic series with known answers for the forecasting tests."""

from __future__ import annotations

import numpy as np

from controller.domain.series import FloatArray

DAY = 48  # half-hour steps: small seasons keep the tests fast
WEEK = 7 * DAY


def daily_wave(days: float, level: float = 10.0, swing: float = 0.5, phase: int = 0) -> FloatArray:
    t = np.arange(int(days * DAY)) + phase
    return level * (1 + swing * np.sin(2 * np.pi * t / DAY))


def noisy(values: FloatArray, sd: float, seed: int = 0) -> FloatArray:
    rng = np.random.default_rng(seed)
    return np.asarray(values + rng.normal(0, sd, values.shape[0]), dtype=np.float64)
