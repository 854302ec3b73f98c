"""The bundled instance catalog: every figure matches its cited source, prices are cited."""

from __future__ import annotations

from controller.allocation.catalog import load_catalog
from tests.aws.fleet_factory import AwsAccount


def test_every_capacity_figure_matches_describe_instance_types(aws: AwsAccount) -> None:
    """Checked through EC2's public API (moto serves AWS's captured DescribeInstanceTypes)."""
    catalog = load_catalog()
    pages = aws.ec2.get_paginator("describe_instance_types").paginate(
        InstanceTypes=sorted(catalog.types)
    )
    described = {t["InstanceType"]: t for page in pages for t in page["InstanceTypes"]}
    assert set(described) == set(catalog.types)
    for kind in catalog.types.values():
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
