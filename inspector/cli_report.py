"""The ``report`` subcommand of ``inspector``: the PDF (and CSV) quality report, headless.

``inspector report --from 2026-05-01 --to 2026-06-01 --pdf may.pdf`` writes
the same report as the Reports tab's export, for a scheduled job or a server
without a display. Kept apart from :mod:`inspector.cli` like the quality
commands; the handler is set as ``args.handler``. matplotlib is imported in
the handler, so ``inspector --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

EXIT_OK, EXIT_FAILED = 0, 1


def add_report_command(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``inspector`` parser's subcommands."""
    report = subparsers.add_parser(
        "report",
        help="write the quality report of a time range as PDF (and CSV)",
        description="Write the quality report of [--from, --to): summary table, yield, "
        "p-chart, Pareto, score drift and the highest-scoring rejects. Times are ISO 8601; "
        "without a zone they are in the plant's time zone ([reports] timezone of --config, "
        "else this computer's zone).",
    )
    report.add_argument("--from", dest="start", required=True, type=_instant, metavar="ISO")
    report.add_argument("--to", dest="end", required=True, type=_instant, metavar="ISO")
    report.add_argument("--pdf", required=True, type=Path, help="PDF file to write")
    report.add_argument("--csv", type=Path, help="also write every record of the range as CSV")
    report.add_argument(
        "--audit-csv", type=Path, help="also write every audited change of the range as CSV"
    )
    report.add_argument("--db", help="SQLite file or SQLAlchemy URL (default: user data folder)")
    report.add_argument(
        "--config",
        type=Path,
        help="station file: its [reports] time zone and shifts cut the report, and its "
        "[storage] database is the default --db",
    )
    report.add_argument("--station", help="only this station (default: all)")
    report.add_argument(
        "--bucket", default="shift", choices=["hour", "shift", "day"], help="chart resolution"
    )
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """``inspector report``: returns 1 when the database or the files cannot be used."""
    from inspector.core.errors import InspectorError
    from inspector.core.shifts import ShiftCalendar, local_zone
    from inspector.pipeline.station_config import load_station_config
    from inspector.reports.audit_csv import write_audit_csv
    from inspector.reports.csv_export import write_history_csv
    from inspector.reports.pdf_report import write_pdf_report
    from inspector.storage.audit_query import AuditFilter, find_audit_entries
    from inspector.storage.engine import default_database_path, open_database
    from inspector.storage.history import HistoryFilter
    from inspector.storage.image_store import ImageStore

    database = args.db
    try:
        if args.config is not None:
            config = load_station_config(args.config)
            calendar = config.reports.calendar()
            database = database or config.storage.database
        else:
            calendar = ShiftCalendar(tz=local_zone())
        engine = open_database(database or default_database_path())
    except InspectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    # Times written without a zone are the plant's wall-clock times.
    args.start, args.end = (
        t if t.tzinfo else t.replace(tzinfo=calendar.tz) for t in (args.start, args.end)
    )
    images = config.storage.images if args.config is not None else None
    store = ImageStore.for_database(engine, images)
    try:
        report = write_pdf_report(
            engine,
            args.pdf,
            args.start,
            args.end,
            image_store=store,
            bucket=args.bucket,
            calendar=calendar,
            station=args.station,
        )
        written = audited = None
        if args.csv is not None:
            filt = HistoryFilter(start=args.start, end=args.end, station=args.station)
            written = write_history_csv(engine, filt, args.csv)
        if args.audit_csv is not None:
            changes = find_audit_entries(
                engine, AuditFilter(start=args.start, end=args.end), limit=None
            )
            audited = write_audit_csv(reversed(changes), args.audit_csv)
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as exc:  # an empty or reversed range
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        engine.dispose()
    summary = report.summary
    yield_text = "–" if summary.yield_percent is None else f"{summary.yield_percent:.2f} %"
    print(f"{summary.parts:,} parts, yield {yield_text}: report written to {args.pdf}")
    for shift in report.per_shift:
        shift_yield = "–" if shift.yield_percent is None else f"{shift.yield_percent:.2f} %"
        print(f"  {shift.name}: {shift.parts:,} parts, yield {shift_yield}")
    if written is not None:
        print(f"{written:,} records written to {args.csv}")
    if audited is not None:
        print(f"{audited:,} audited changes written to {args.audit_csv}")
    return EXIT_OK


def _instant(text: str) -> datetime:
    """An ISO 8601 date or time; one without a zone is placed in the plant's zone later."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        msg = f"{text!r} is not an ISO 8601 time; use e.g. 2026-05-01 or 2026-05-01T06:00+02:00"
        raise argparse.ArgumentTypeError(msg) from None
    return moment
