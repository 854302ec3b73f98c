from __future__ import annotations

import argparse
import json

from controller.commands.common import Subparsers, cli_config, positive_int
from controller.domain.errors import InputError
from controller.domain.state import PersonaLearningState


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "state",
        help="print the FleetStateDocument",
        description="Where everything stands, as the last cycle saved it: fleets (capacity now, "
        "desired, peak), the last plan, monitoring after scaling, drift, anomalies and what the "
        "forecaster learned per persona. Every version is kept; --version N shows an older one. "
        "Reads the store only: a store that does not exist is reported, not created.",
    )
    parser.add_argument("--json", action="store_true", help="the whole document as JSON")
    parser.add_argument(
        "--version",
        dest="doc_version",
        type=positive_int,
        metavar="N",
        help="an older version (1 is the first cycle's)",
    )
    parser.add_argument("--schema", action="store_true", help="print the document's JSON Schema")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.storage.db import connect_existing
    from controller.adapters.storage.state_store import StateStore
    from controller.domain.state import FleetStateDocument

    if args.schema:
        print(json.dumps(FleetStateDocument.model_json_schema(), indent=2))
        return 0
    config = cli_config(args)
    engine = connect_existing(config.sqlalchemy_url)
    try:
        store = StateStore(engine)
        document = store.get(args.doc_version)
        latest = store.latest_version() if document is None else None
    finally:
        engine.dispose()
    if document is None:
        if latest is None:
            raise InputError(f"no state yet in {config.sqlalchemy_url}; run `fleetctl cycle` first")
        raise InputError(
            f"--version {args.doc_version}: there is no such state version; "
            f"expected 1 to {latest} (the latest)"
        )
    if args.json:
        print(document.model_dump_json(indent=2))
        return 0
    print(
        f"state version {document.version} from cycle {document.cycle_id} "
        f"at {document.now:%Y-%m-%d %H:%MZ}"
    )
    for fleet in document.fleets:
        now = "-" if fleet.capacity_now is None else fleet.capacity_now  # never applied yet
        print(
            f"  {fleet.name:<8} now {now}  desired {fleet.desired}  "
            f"peak {fleet.peak_next_horizon}  {fleet.instance_type}"
        )
    if document.last_plan:
        plan = document.last_plan
        print(f"  last plan {plan.plan_id}: {plan.summary} ({plan.status})")
    for health in document.monitor:
        window = "complete" if health.window_complete else "open"
        print(
            f"  monitor  {health.fleet:<8} {health.status}: {health.reason} "
            f"(after {health.plan_id}, window {window})"
        )
    drift = document.drift
    checks = ", ".join(f"{c.view} {c.outcome} {c.checked_at:%H:%MZ}" for c in drift.checks)
    print(f"  drift    {drift.status}" + (f" ({checks})" if checks else ""))
    for finding in drift.findings:
        applied = json.dumps(finding.applied)
        live = json.dumps(finding.live)
        print(
            f"    {finding.classification:<8} {finding.resource} {finding.attribute}: "
            f"applied {applied}, live {live} since {finding.since:%Y-%m-%d %H:%MZ}"
        )
    for anomaly in document.anomalies:
        who = f" {anomaly.persona}" if anomaly.persona else ""
        print(
            f"  anomaly  {anomaly.kind}{who} {anomaly.status}, size {anomaly.size:.3g}, "
            f"{anomaly.start:%Y-%m-%d %H:%MZ} to {anomaly.end:%H:%MZ}"
            + "".join(f"; {m}" for m in anomaly.mitigation)
        )
    for learned in document.learning:
        _print_learning(learned, profiles_learned=config.feedback.profiles.enabled)
    return 0


def _print_learning(learned: PersonaLearningState, profiles_learned: bool) -> None:
    model, bias, bands, profile = learned.model, learned.bias, learned.intervals, learned.profile
    when = f" {model.selected_at:%Y-%m-%d %H:%MZ}" if model.selected_at else ""
    print(f"  learning {learned.persona}: model {model.model} ({model.reason}{when})")
    print(
        f"    bias x{bias.factor:g} ({bias.reason}); bands: {bands.recalibrated_steps}/"
        f"{bands.horizon_steps} steps from realized errors ({bands.rule})"
    )
    d, lp = profile.declared, profile.learned
    if lp:
        shown = (
            f"learned cpu {lp.cpu:g} mem {lp.memory_mb:g} MB net {lp.network_mbps:g} Mbps "
            f"io {lp.iops:g} per session"
        )
    elif not profiles_learned:
        shown = "declared (learning them is off: feedback.profiles.enabled is false)"
    else:
        shown = "declared (not enough measured yet)"
    print(
        f"    profile {shown}; declared cpu {d.cpu:g} mem {d.memory_mb:g} MB "
        f"net {d.network_mbps:g} Mbps io {d.iops:g}"
    )
