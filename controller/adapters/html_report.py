"""The HTML report: forecast vs actual per persona, capacity vs demand per fleet, errors, plans,
drift and anomalies. One self-contained file: the matplotlib plots (no pyplot, no display) are
embedded as data: URIs."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from controller.adapters.forecast_plot import persona_forecast_figure
from controller.adapters.html_page import png_data_uri, write_page
from controller.domain.report import FleetPanel, PersonaPanel, ReportData
from controller.domain.state import FleetStateDocument


def write_html_report(data: ReportData, target: Path) -> Path:
    """Write the page to `target` (an .html file, or a directory's index.html); its path."""
    persona_images = [_persona_plot(panel) for panel in data.personas]
    fleet_images = [_fleet_plot(panel) for panel in data.fleets]
    return write_page(target, _page(data, persona_images, fleet_images))


def _times(start: datetime, step: timedelta, count: int) -> np.ndarray:
    naive = start.replace(tzinfo=None)  # all times are UTC; numpy keeps no zone
    return np.array([naive + step * i for i in range(count)], dtype="datetime64[s]")


def _persona_plot(panel: PersonaPanel) -> tuple[str, str]:
    return f"persona {panel.key}", png_data_uri(persona_forecast_figure(panel))


def _fleet_plot(panel: FleetPanel) -> tuple[str, str]:
    figure = Figure(figsize=(11, 3.2), dpi=100)
    axis = figure.subplots()
    if panel.capacity:
        when, count = zip(*panel.capacity, strict=True)
        axis.step(
            when, count, where="post", color="tab:orange", label="desired instances (each plan)"
        )
    axis.set_ylabel("instances")
    if panel.demand is not None:
        other = axis.twinx()
        d = panel.demand
        other.plot(
            _times(d.start, d.step, len(d)), d.values, color="black", linewidth=0.7, label="demand"
        )
        other.set_ylabel("events/s")
        other.legend(loc="upper right", fontsize=8)
    axis.set_title(
        f"fleet {panel.name}: capacity vs demand ({', '.join(panel.personas) or 'no personas'})"
    )
    axis.legend(loc="upper left", fontsize=8)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    return f"fleet {panel.name}", png_data_uri(figure)


def _rows(rows: list[list[str]]) -> str:
    return "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )


def _page(
    data: ReportData, persona_images: list[tuple[str, str]], fleet_images: list[tuple[str, str]]
) -> str:
    state = data.state
    errors = sorted({k.rsplit(".", 1)[0] for k in state.feedback})
    error_rows = [
        [p] + [_fmt(state.feedback.get(f"{p}.{m}")) for m in ("mase", "bias", "coverage")]
        for p in errors
    ]
    plan_rows = [
        [
            p.plan_id,
            p.created_at.strftime("%Y-%m-%d %H:%MZ"),
            p.status,
            p.describe,
        ]
        for p in data.plans
    ]
    fleet_rows = [
        [f.name, f.instance_type, str(f.capacity_now), str(f.desired), str(f.peak_next_horizon)]
        for f in state.fleets
    ]
    drift = (
        "".join(f"<li>{html.escape(str(x))}</li>" for x in state.drift.findings) or "<li>none</li>"
    )
    anomaly_rows = [
        [
            a.kind.replace("_", " "),
            a.persona or "-",
            a.status,
            f"{a.start:%Y-%m-%d %H:%MZ}",
            f"{a.end:%Y-%m-%d %H:%MZ}",
            f"{a.size:.3g}",
            ", ".join(f"{k}={v}" for k, v in sorted(a.evidence.items())),
            "; ".join([", ".join(a.actions), *a.mitigation]),
        ]
        for a in state.anomalies
    ]
    anomalies = (
        "<table><tr><th>kind</th><th>persona</th><th>status</th><th>start</th><th>end</th>"
        f"<th>size</th><th>evidence</th><th>actions / in force</th></tr>{_rows(anomaly_rows)}"
        "</table>"
        if anomaly_rows
        else "<p>none</p>"
    )
    images = "".join(
        f"<img src='{uri}' alt='{html.escape(alt)}'>" for alt, uri in persona_images + fleet_images
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Fleet controller report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px}}img{{max-width:100%;display:block;margin:1em 0}}</style></head><body>
<h1>Fleet controller report</h1>
<p>State version {state.version}, cycle {state.cycle_id}, controller time {state.now:%Y-%m-%d %H:%MZ}
({html.escape(state.clock)} clock). Drift: {html.escape(state.drift.status)}.</p>
<h2>Fleets</h2><table><tr><th>fleet</th><th>type</th><th>applied</th><th>desired</th><th>peak in horizon</th></tr>
{_rows(fleet_rows)}</table>
<h2>Forecast errors (last day of forecasts)</h2>
<table><tr><th>persona</th><th>MASE</th><th>bias</th><th>p05-p95 coverage</th></tr>{_rows(error_rows)}</table>
{_learning_table(state)}
<h2>Plots</h2>{images}
<h2>Recent plans</h2><table><tr><th>plan</th><th>made</th><th>status</th><th>changes</th></tr>{_rows(plan_rows)}</table>
<h2>Drift</h2><ul>{drift}</ul>
<h2>Anomalies</h2>{anomalies}
</body></html>
"""


def _learning_table(state: FleetStateDocument) -> str:
    """What the feedback loop changed per persona (docs/feedback.md)."""
    rows = []
    for learned in state.learning:
        model, bias, bands, profile = (
            learned.model,
            learned.bias,
            learned.intervals,
            learned.profile,
        )
        when = f"{model.selected_at:%Y-%m-%d %H:%MZ}: " if model.selected_at else ""
        network = f"{profile.declared.network_mbps:g} declared"
        if profile.learned is not None:
            network = f"{profile.learned.network_mbps:.3g} learned / " + network
        rows.append(
            [
                learned.persona,
                model.model,
                when + model.reason,
                f"x{bias.factor:g} ({bias.reason})",
                f"{bands.recalibrated_steps}/{bands.horizon_steps} ({bands.rule})",
                f"{profile.in_use}; network Mbps per session {network}",
            ]
        )
    if not rows:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "persona",
            "model",
            "selected",
            "bias correction",
            "bands re-calibrated",
            "profile",
        )
    )
    return f"<h2>What the feedback loop learned</h2><table><tr>{head}</tr>{_rows(rows)}</table>"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.3f}"
