"""The ``config`` subcommand of ``inspector``: check a station file without starting a line.

An engineer who edits the file by hand (or on another PC) learns of every
problem before the line refuses it at start; the checks and messages are the
ones ``inspector run --config`` and the window's Station tab use.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_OK = 0


def add_config_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``config check`` to the ``inspector`` parser's subcommands."""
    config = subparsers.add_parser("config", help="station configuration files")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser(
        "check",
        help="validate a station file and print what the line would run",
        description="Validate a station TOML file as `inspector run --config` does: every "
        "problem is listed with its key, value and what was expected (exit 1). A valid file "
        "is summarised: station, cameras, model, threshold and zones.",
    )
    check.add_argument("file", type=Path, help="station TOML file")
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    """``inspector config check FILE``: the summary, or ``ConfigError`` with every problem."""
    from inspector.pipeline.station_config import load_station_config

    config = load_station_config(args.file)
    decision = config.decision
    threshold = "the model's" if decision.threshold is None else f"{decision.threshold:g}"
    print(f"{args.file}: valid")
    print(f"  station {config.station.name!r}, camera {config.camera.source!r}")
    print(f"  model {config.model.path} ({config.model.backend}, {config.model.device})")
    print(
        f"  threshold {threshold}, review margin {decision.review_margin:g}, "
        f"min defect area {decision.min_defect_area_px} px, fail-safe {decision.fail_safe.value}"
    )
    for zone in decision.zones:
        rule = "ignored" if zone.ignore else _own_rules(zone)
        box = ", ".join(f"{v:g}" for v in zone.box)
        print(f"  zone {zone.name!r} [{box}]: {rule}")
    return EXIT_OK


def _own_rules(zone) -> str:  # noqa: ANN001 - pipeline.station_config.ZoneSection
    rules = []
    if zone.threshold is not None:
        rules.append(f"threshold {zone.threshold:g}")
    if zone.min_defect_area_px is not None:
        rules.append(f"min defect area {zone.min_defect_area_px} px")
    return ", ".join(rules) or "the station's rules"
