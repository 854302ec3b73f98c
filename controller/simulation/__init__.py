"""Simulated time: a fleet with warm-up, scaling policies, and elasticity metrics. Pure; no I/O."""
