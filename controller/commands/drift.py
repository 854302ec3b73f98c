"""`fleetctl drift`: check drift now, print every finding (and, with --json, the typed records)."""

from __future__ import annotations

import argparse
import json

from controller.commands.common import Subparsers, cli_config


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "drift",
        help="check drift now (Terraform refresh-only plan and/or live AWS) and print findings",
        description="Compares what was applied with what is there now: Terraform's refresh-only "
        "plan and/or a live read of the AWS fleets. Each finding is drift, expected (an "
        "autoscaler's own change) or unknown; fleets with drift_policy reconcile are re-planned "
        "with --reconcile. docs/drift.md has the rules.",
    )
    parser.add_argument(
        "--view",
        action="append",
        choices=("terraform", "aws"),
        help="which view to check (repeatable; default: the views enabled in config, else terraform)",
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument(
        "--reconcile",
        action="store_true",
        help="apply fleets' drift_policy: reconcile fleets are re-planned and gate-applied",
    )
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when drift was found (like terraform plan -detailed-exitcode)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.domain.drift import DriftView
    from controller.workflow.drift import enabled_views, run_drift_checks
    from controller.workflow.state_document import drift_state
    from controller.workflow.wiring import build_controller

    config = cli_config(args)
    views: tuple[DriftView, ...] = tuple(dict.fromkeys(args.view or ())) or (
        enabled_views(config) or ("terraform",)
    )
    controller = build_controller(config)
    try:
        reports = run_drift_checks(controller, views, reconcile=args.reconcile)
        state = drift_state(controller)
    finally:
        controller.close()
    drifted = any(r.check.drift for r in reports)
    if args.json:
        document = {
            "status": state.status,
            "checks": [
                {
                    "view": r.check.view,
                    "checked_at": r.check.checked_at.isoformat(),
                    "outcome": r.check.outcome,
                    "detail": r.check.detail,
                }
                for r in reports
            ],
            "findings": [f.model_dump(mode="json") for f in state.findings if f.view in views],
            "reconciled": [
                {
                    "plan_id": r.reconcile.plan_id,
                    "fleets": list(r.reconcile.fleets),
                    "status": r.reconcile.status,
                }
                for r in reports
                if r.reconcile is not None
            ],
        }
        print(json.dumps(document, indent=2))
    else:
        for report in reports:
            print("\n".join(report.lines()))
            for t in report.findings:
                f = t.finding
                label = {"drift": "DRIFT", "expected": "expected", "unknown": "unknown"}
                print(
                    f"  {label[f.classification]:<9} {f.describe()}: {f.reason} "
                    f"(since {t.since:%Y-%m-%d %H:%MZ})"
                )
    return 2 if drifted and args.detailed_exitcode else 0
