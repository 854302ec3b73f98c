"""The bundled catalog of EC2 instance types: capacity per resource and on-demand price.

The figures and their sources live in `data/ec2_catalog.json` (package data); this module only
reads them. Capacity is a vector in the allocator's resource order (RESOURCES).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

from controller.domain.series import FloatArray

RESOURCES = ("cpu", "memory", "network", "iops")
UNITS = {"cpu": "vCPU", "memory": "MiB", "network": "Mbps", "iops": "IOPS"}
PRICE_REFERENCE_REGION = "us-east-1"


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_mib: int
    network_mbps: int
    """baseline (sustained) bandwidth, not the 'up to' burst figure"""
    ebs_iops: int
    """baseline EBS IOPS"""
    architecture: str
    prices: dict[str, float] = field(default_factory=dict)

    @property
    def capacity(self) -> FloatArray:
        return np.array(
            [self.vcpu, self.memory_mib, self.network_mbps, self.ebs_iops], dtype=np.float64
        )

    def price(self, region: str) -> float | None:
        return self.prices.get(region)

    def ranking_price(self, region: str) -> float:
        """The price used to compare types: the region's, else the reference region's."""
        return self.prices.get(region, self.prices.get(PRICE_REFERENCE_REGION, float("inf")))


@dataclass(frozen=True)
class Catalog:
    types: dict[str, InstanceType]
    prices_source: str
    prices_date: str

    def get(self, name: str) -> InstanceType | None:
        return self.types.get(name)

    def names(self, architecture: str | None = None) -> tuple[str, ...]:
        return tuple(
            t.name
            for t in self.types.values()
            if architecture is None or t.architecture == architecture
        )


@cache
def load_catalog() -> Catalog:
    raw = json.loads(
        resources.files("controller.allocation").joinpath("data/ec2_catalog.json").read_text()
    )
    types = {
        t["name"]: InstanceType(
            name=t["name"],
            vcpu=int(t["vcpu"]),
            memory_mib=int(t["memory_mib"]),
            network_mbps=int(t["network_baseline_mbps"]),
            ebs_iops=int(t["ebs_baseline_iops"]),
            architecture=str(t["architecture"]),
            prices={k: float(v) for k, v in t["on_demand_usd_per_hour"].items()},
        )
        for t in raw["types"]
    }
    return Catalog(types, str(raw["prices_source"]), str(raw["prices_date"]))
