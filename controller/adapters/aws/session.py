"""boto3 clients for one region: standard retry mode, explicit time-outs, optional endpoint.

Credentials come from boto3's default chain (environment, shared profile, SSO, instance or task
role); nothing here reads, stores or prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config


@dataclass(frozen=True)
class AwsSettings:
    region: str
    endpoint_url: str | None = None
    """one endpoint for every service (moto, LocalStack); None = AWS"""
    max_attempts: int = 3
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 20.0


def make_client(settings: AwsSettings, service: str) -> Any:
    """A boto3 client (thread-safe) from a session of its own (sessions are not)."""
    config = Config(
        region_name=settings.region,
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        user_agent_extra="fleet-persona-controller",
    )
    session = boto3.session.Session()
    return session.client(
        service, region_name=settings.region, endpoint_url=settings.endpoint_url, config=config
    )
