"""What an alert says (pure): the text of an anomaly's opening and resolution messages."""

from __future__ import annotations

import json

from controller.anomaly.records import Anomaly


def alert_subject(anomaly: Anomaly) -> str:
    state = "resolved" if anomaly.status == "resolved" else "anomaly"
    return f"[fleet] {state}: {anomaly.subject}"[:100]  # SNS subjects stop at 100 characters


def alert_payload(anomaly: Anomaly) -> dict[str, object]:
    return {
        "id": anomaly.id,
        "kind": anomaly.kind,
        "persona": anomaly.persona,
        "status": anomaly.status,
        "start": anomaly.start.isoformat(),
        "end": anomaly.end.isoformat(),
        "size": anomaly.size,
        "evidence": anomaly.evidence,
    }


def alert_body(anomaly: Anomaly) -> str:
    return json.dumps(alert_payload(anomaly), sort_keys=True)
