"""Delivering alerts: every pending message goes to every sink, and is marked delivered once all
sinks took it. The default sink is a log line; another module adds its own (pager, chat) by
passing `alert_sinks` to build_controller."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from controller.domain.alert import Alert, AlertEvent
from controller.workflow.wiring import Controller

log = logging.getLogger("controller.alerts")


class LogAlertSink:
    """One WARNING line per opened alert, one INFO line per resolution."""

    def deliver(self, alert: Alert, event: AlertEvent) -> None:
        level = logging.WARNING if event == "opened" else logging.INFO
        log.log(level, "alert %s: %s", alert.alert_id, alert.message(event))


def dispatch_alerts(controller: Controller, now: datetime) -> list[tuple[Alert, AlertEvent]]:
    """Offer every undelivered message to the sinks; returns what was delivered now.

    A sink that raises leaves the message pending (it is offered again next time); the error is
    logged, never raised: alerting must not stop a drift check.
    """
    delivered = []
    for alert in controller.alert_store.pending():
        event = alert.pending
        if event is None:
            continue
        try:
            for sink in controller.alert_sinks:
                sink.deliver(alert, event)
        except Exception as exc:
            log.error("alert %s not delivered (%s); will retry: %s", alert.alert_id, event, exc)
            continue
        controller.alert_store.mark_delivered(alert.alert_id, event, now)
        delivered.append((alert, event))
        if event == "opened" and alert.resolved_at is not None:
            # opened and resolved between two dispatches: deliver the resolution right after
            refreshed = replace(alert, opened_sent_at=now)
            try:
                for sink in controller.alert_sinks:
                    sink.deliver(refreshed, "resolved")
            except Exception as exc:
                log.error("alert %s resolution not delivered; will retry: %s", alert.alert_id, exc)
                continue
            controller.alert_store.mark_delivered(alert.alert_id, "resolved", now)
            delivered.append((refreshed, "resolved"))
    return delivered
