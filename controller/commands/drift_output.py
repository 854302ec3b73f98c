"""`fleetctl personas drift` output: learned vs declared parameters, for people and as JSON."""

from __future__ import annotations

from collections.abc import Sequence

from controller.matching.drift import PersonaDrift
from controller.matching.features import RESOURCES

UNITS = {"cpu_ms": "cpu ms", "memory_mb": "MB", "network_kb": "kB", "io_ops": "IO"}


def drift_json(found: Sequence[PersonaDrift]) -> list[dict[str, object]]:
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
        }
        for d in found
    ]


def drift_lines(found: Sequence[PersonaDrift]) -> list[str]:
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
    return lines


def _pairs(shares: dict[str, tuple[float, float]]) -> dict[str, dict[str, float]]:
    return {name: {"declared": a, "learned": b} for name, (a, b) in shares.items()}
