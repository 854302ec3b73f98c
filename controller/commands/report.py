from __future__ import annotations

import argparse
from pathlib import Path

from controller.commands.common import Subparsers, cli_config


def register(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "report",
        help="write an HTML page: forecast vs actual, capacity vs demand, errors, plans, drift",
        description="Writes an HTML report of what the store holds: forecasts against what "
        "happened per persona, capacity against demand per fleet, forecast errors, recent "
        "plans and drift.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="PAGE",
        help="the HTML file to write (a path ending in .html), or a directory that gets "
        "index.html; one self-contained file with the plots inside, nothing written beside it",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from controller.adapters.html_page import page_path
    from controller.adapters.html_report import write_html_report
    from controller.adapters.storage.db import connect_existing
    from controller.workflow.report import gather
    from controller.workflow.wiring import build_controller

    page_path(args.out)  # a bad --out is refused before the stores are opened
    config = cli_config(args)
    connect_existing(config.sqlalchemy_url).dispose()  # a report only reads: no store, no report
    controller = build_controller(config)
    try:
        page = write_html_report(gather(controller), args.out)
    finally:
        controller.close()
    print(f"report: {page}")
    return 0
