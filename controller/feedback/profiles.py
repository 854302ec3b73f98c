"""A persona's per-session resource profile, measured from the metric store.

Events carry resource use; by convention one event is one second of one active session's use
(docs/anomalies.md: cpu_ms = cpu_demand x 1000, memory_mb = memory_demand, network_kb = Mbps x 125,
io_ops = IOPS). So in a bucket of B seconds with S active sessions the average use per session is
    cpu (vCPU) = cpu_ms / 1000 / B / S     memory (MB) = memory_mb / B / S
    network (Mbps) = network_kb / 125 / B / S     io (IOPS) = io_ops / B / S
The profile is the median over the buckets with at least `min_sessions` sessions (robust to a burst
or a stuck client), and only once `min_buckets` such buckets exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from controller.domain.series import FloatArray


@dataclass(frozen=True)
class MeasuredUse:
    """Per bucket (aligned arrays; NaN = gap): active sessions and summed resource use."""

    bucket_seconds: float
    sessions: FloatArray
    cpu_ms: FloatArray
    memory_mb: FloatArray
    network_kb: FloatArray
    io_ops: FloatArray


@dataclass(frozen=True)
class LearnedProfile:
    cpu: float
    """vCPU per active session"""
    memory: float
    """MB"""
    network: float
    """Mbps"""
    iops: float
    buckets: int
    """buckets the medians were taken over"""


def learn_profile(use: MeasuredUse, min_buckets: int, min_sessions: int) -> LearnedProfile | None:
    """The median per-session use, or None while fewer than `min_buckets` buckets qualify."""
    columns = np.vstack([use.cpu_ms / 1000, use.memory_mb, use.network_kb / 125, use.io_ops])
    usable = (
        ~np.isnan(use.sessions)
        & (np.nan_to_num(use.sessions) >= min_sessions)
        & np.all(~np.isnan(columns), axis=0)
    )
    buckets = int(np.count_nonzero(usable))
    if buckets < min_buckets:
        return None
    per_session = columns[:, usable] / use.bucket_seconds / use.sessions[usable]
    cpu, memory, network, iops = (float(v) for v in np.median(per_session, axis=1))
    return LearnedProfile(cpu, memory, network, iops, buckets)
