"""Invariants of conformal bands on arbitrary error tables (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from controller.forecasting.conformal import ConformalBands

errors = arrays(
    np.float64,
    st.tuples(st.integers(1, 60), st.integers(1, 30)),
    elements=st.one_of(st.floats(-3, 3), st.just(np.nan)),
)


@given(errors, st.integers(1, 50), st.booleans())
@settings(max_examples=60, deadline=None)
def test_quantiles_never_cross_and_stay_non_negative(
    table: np.ndarray, horizon: int, log_scale: bool
) -> None:
    bands = ConformalBands(table, 0.5 if log_scale else None)
    point = np.linspace(1.0, 5.0, horizon)
    q = bands.quantiles(point, [0.025, 0.05, 0.5, 0.95, 0.975])
    stacked = np.vstack([q[0.025], q[0.05], q[0.5], q[0.95], q[0.975]])
    assert np.all(np.isfinite(stacked))
    assert np.all(np.diff(stacked, axis=0) >= -1e-12)
    if log_scale:
        assert np.all(stacked >= 0)


@given(st.floats(0.5, 3.0))
@settings(max_examples=20, deadline=None)
def test_scaling_errors_scales_additive_bands(factor: float) -> None:
    rng = np.random.default_rng(1)
    table = rng.normal(0, 1, (200, 5))
    point = np.zeros(5)
    base = ConformalBands(table, None).quantiles(point, [0.95])[0.95]
    scaled = ConformalBands(table * factor, None).quantiles(point, [0.95])[0.95]
    assert np.allclose(scaled, base * factor)
