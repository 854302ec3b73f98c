"""The bundled instance catalog: every figure matches its cited source, prices are cited."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import moto

from controller.allocation.catalog import load_catalog

MOTO_TYPES = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"


def test_every_capacity_figure_matches_describe_instance_types_as_captured_in_moto() -> None:
    with gzip.open(MOTO_TYPES) as handle:
        described = json.loads(handle.read())
    for kind in load_catalog().types.values():
        source = described[kind.name]
        card = source["NetworkInfo"]["NetworkCards"][0]
        assert kind.vcpu == source["VCpuInfo"]["DefaultVCpus"], kind.name
        assert kind.memory_mib == source["MemoryInfo"]["SizeInMiB"], kind.name
        assert kind.network_mbps == round(card["BaselineBandwidthInGbps"] * 1000), kind.name
        assert kind.ebs_iops == source["EbsInfo"]["EbsOptimizedInfo"]["BaselineIops"], kind.name
        assert kind.architecture in source["ProcessorInfo"]["SupportedArchitectures"]


def test_prices_are_cited_dated_and_only_for_regions_the_source_covers() -> None:
    catalog = load_catalog()
    assert "karpenter-provider-aws" in catalog.prices_source and catalog.prices_date == "2026-01-19"
    assert all(set(t.prices) == {"us-east-1"} for t in catalog.types.values())
    assert catalog.types["m6i.large"].price("us-east-1") == 0.096
    assert catalog.types["m6i.large"].price("eu-west-1") is None
