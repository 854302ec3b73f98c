"""The feedback loop's math: how past forecasts fared against what happened. Pure; no I/O."""
