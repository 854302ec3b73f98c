"""Anomaly alerts: to the log, a webhook (urllib), and whatever else implements `AlertChannel`;
`AlertDispatcher` sends each anomaly's opening once and its resolution once per channel."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from controller.adapters.storage.anomaly_alert_store import AnomalyAlertStore
from controller.anomaly.alerts import alert_body, alert_subject
from controller.anomaly.records import Anomaly
from controller.domain.errors import TemporaryError

log = logging.getLogger("fleet.anomalies")


class AlertChannel(Protocol):
    channel: str

    def send(self, subject: str, body: str) -> None:
        """Deliver one message; raise TemporaryError to have it retried next cycle."""


class LogAlerts:
    channel = "log"

    def send(self, subject: str, body: str) -> None:
        log.warning("%s %s", subject, body)


class WebhookAlerts:
    """POSTs JSON {"subject": ..., "anomaly": {...}} to a URL (Slack-style incoming webhooks
    accept the extra `text` field)."""

    channel = "webhook"

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def send(self, subject: str, body: str) -> None:
        data = json.dumps(
            {"subject": subject, "text": subject, "anomaly": json.loads(body)}
        ).encode()
        request = urllib.request.Request(
            self.url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TemporaryError(f"webhook {self.url} failed: {exc}") from exc


class AlertDispatcher:
    def __init__(self, store: AnomalyAlertStore, channels: Sequence[AlertChannel]) -> None:
        self.store = store
        self.channels = channels

    def dispatch(self, anomalies: Sequence[Anomaly], now: datetime) -> list[str]:
        """Send what has not been sent; returns the problems (one per failed delivery), which
        the caller records without failing the cycle: the next cycle retries them."""
        problems = []
        for anomaly in anomalies:
            for channel in self.channels:
                opened, resolved = self.store.sent(anomaly.id, channel.channel)
                try:
                    if not opened:
                        opening = anomaly if anomaly.status != "resolved" else _as_open(anomaly)
                        channel.send(alert_subject(opening), alert_body(opening))
                        self.store.mark(anomaly.id, channel.channel, "opened", now)
                    if anomaly.status == "resolved" and not resolved:
                        channel.send(alert_subject(anomaly), alert_body(anomaly))
                        self.store.mark(anomaly.id, channel.channel, "resolved", now)
                except TemporaryError as exc:
                    problems.append(f"{channel.channel}: {exc}")
        return problems


def _as_open(anomaly: Anomaly) -> Anomaly:
    return replace(anomaly, status="open")
