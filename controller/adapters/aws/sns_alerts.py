"""Anomaly alerts to an SNS topic (boto3)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from controller.domain.errors import TemporaryError


class SnsAlerts:
    channel = "sns"

    def __init__(
        self,
        topic_arn: str,
        client: Any | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.topic_arn = topic_arn
        self._client = client
        self._region = region or _region(topic_arn)
        self._endpoint_url = endpoint_url

    @property
    def client(self) -> Any:
        """Built on first use: a controller whose anomalies never alert needs no AWS client."""
        if self._client is None:
            self._client = boto3.client(
                "sns", region_name=self._region, endpoint_url=self._endpoint_url
            )
        return self._client

    def send(self, subject: str, body: str) -> None:
        """Raises TemporaryError when SNS cannot be reached or refuses (retry next cycle)."""
        try:
            self.client.publish(TopicArn=self.topic_arn, Subject=subject, Message=body)
        except (BotoCoreError, ClientError) as exc:
            raise TemporaryError(f"SNS publish to {self.topic_arn} failed: {exc}") from exc


def _region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"
