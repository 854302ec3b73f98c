"""`fleetctl personas drift` output: learned vs declared parameters, and the personas that
matched no session over the last day of metrics, for people and as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from controller.matching.activity import LastDay
from controller.matching.drift import PersonaDrift
from controller.matching.features import RESOURCES

UNITS = {"cpu_ms": "cpu ms", "memory_mb": "MB", "network_kb": "kB", "io_ops": "IO"}


def drift_json(
    found: Sequence[PersonaDrift], day: LastDay | None = None
) -> list[dict[str, object]]:
    return [
        {
            "persona": d.persona,
            "version": d.version,
            "sessions_learned": round(d.sessions, 2),
            "distance": {
                "event_types": round(d.type_distance, 4),
                "regions": round(d.region_distance, 4),
                "time_of_week": round(d.time_distance, 4),
            },
            "event_types": _pairs(d.event_types),
            "regions": _pairs(d.regions),
            "resources_per_event": {
                name: {"declared": round(a, 4), "learned": round(b, 4)}
                for name, (a, b) in d.resources.items()
            },
            "last_day": _last_day_json(d.persona, day),
        }
        for d in found
    ]


def _last_day_json(persona: str, day: LastDay | None) -> dict[str, object] | None:
    """null while the store holds less than a day of metrics."""
    if day is None:
        return None
    events = day.events.get(persona, 0)
    return {
        "start": day.start.isoformat(),
        "end": day.end.isoformat(),
        "events": events,
        "matched_no_session": events == 0,
    }


def drift_lines(found: Sequence[PersonaDrift], day: LastDay | None = None) -> list[str]:
    if not found:
        return ["no personas"]
    lines = [
        "distances are total variation (0 = as declared, 1 = nothing in common); "
        "resources are medians per event, declared -> learned",
        "",
        f"{'persona':<28} {'version':>7} {'sessions':>9} {'types':>6} {'regions':>7} "
        f"{'time':>6}  resources per event",
    ]
    for d in found:
        moved = "  ".join(
            f"{UNITS[name]} {a:.3g}->{b:.3g}"
            for name in RESOURCES
            for a, b in [d.resources[name]]
            if abs(b - a) > 0.005 * max(abs(a), 1e-9)
        )
        lines.append(
            f"{d.persona:<28} {'v' + str(d.version):>7} {d.sessions:>9.0f} "
            f"{d.type_distance:>6.2f} {d.region_distance:>7.2f} {d.time_distance:>6.2f}  "
            f"{moved or 'as declared'}"
        )
        for label, shares in (("event type", d.event_types), ("region", d.regions)):
            for name, (a, b) in sorted(shares.items(), key=lambda kv: -abs(kv[1][1] - kv[1][0])):
                lines.append(f"    {label} {name}: {a:.1%} -> {b:.1%}")
    return lines + silence_lines(day)


def silence_lines(day: LastDay | None) -> list[str]:
    """A warning per persona that matched no session over the last day of metrics."""
    if day is None:
        return ["", "matched sessions: the store holds less than a day of metrics; not checked"]
    window = f"{day.start:%Y-%m-%d %H:%MZ} - {day.end:%Y-%m-%d %H:%MZ}"
    if not day.silent:
        return ["", f"every persona matched sessions in the last day of metrics ({window})"]
    return [""] + [
        f"warning: {key} matched no session in the last day of metrics ({window}); "
        "check its resource_profile and traffic_pattern against the traffic"
        for key in day.silent
    ]


def _pairs(shares: dict[str, tuple[float, float]]) -> dict[str, dict[str, float]]:
    return {name: {"declared": a, "learned": b} for name, (a, b) in shares.items()}
