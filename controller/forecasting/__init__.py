"""Forecasting models: numpy in, numpy out, no I/O (STYLE.md: statsforecast's shape)."""
