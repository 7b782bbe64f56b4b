"""The ``dataset`` subcommands of ``inspector``: import labelled data, check a dataset.

``inspector dataset import --format folder|voc|db SOURCE --out OUT`` brings a
labelled set into the canonical layout with a validation report;
``inspector dataset check DIR`` runs the same checks on a canonical folder.
The main parser calls :func:`add_dataset_commands` and dispatches to the
handler each subparser sets as ``args.handler``. Both print a class table and
every problem found (identical messages grouped), with progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from inspector.training.dataset_checks import DatasetReport, Problem
from inspector.training.dataset_import import (
    DatasetFormat,
    check_dataset,
    import_dataset,
    parse_classes,
)
from inspector.training.dataset_layout import MANIFEST_NAME

EXIT_OK, EXIT_FAILED = 0, 1
SHOWN_PER_GROUP = 5
"""Items listed per group of identical problems; all of them are in the JSON report."""


def add_dataset_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dataset import`` and ``dataset check`` to the ``inspector`` parser."""
    dataset = subparsers.add_parser("dataset", help="import and check labelled datasets")
    commands = dataset.add_subparsers(dest="dataset_command", required=True)
    importer = commands.add_parser(
        "import",
        help="import labelled images (class folders, Pascal VOC, reviewed inspections)",
        description="Import a labelled dataset into OUT/<class>/<stem>.<ext> (+ masks, "
        "'good' = defect-free) with OUT/dataset.json, validating every sample on the way. "
        "Samples with errors are excluded and listed; --strict fails instead.",
    )
    importer.add_argument("source", help="folder (folder, voc) or database file or URL (db)")
    importer.add_argument(
        "--format", dest="fmt", required=True, choices=[f.value for f in DatasetFormat]
    )
    importer.add_argument("--out", required=True, type=Path, help="dataset folder to create")
    importer.add_argument(
        "--classes", help="comma-separated class names; any other class is an error ('good' is ok)"
    )
    importer.add_argument(
        "--strict", action="store_true", help="any error fails the import; nothing is written"
    )
    importer.add_argument(
        "--force", action="store_true", help="replace OUT when it holds an earlier import"
    )
    importer.add_argument(
        "--images", type=Path, help="image store root for db (default: images/ beside the db)"
    )
    importer.add_argument("--report", type=Path, help="also write the full report as JSON")
    importer.set_defaults(handler=run_import)

    check = commands.add_parser(
        "check",
        help="validate a dataset folder in the canonical layout",
        description="Run the import's checks on DIR (and compare it with its dataset.json); "
        "exit code 1 when any error is found.",
    )
    check.add_argument("folder", type=Path, metavar="DIR")
    check.add_argument("--classes", help="comma-separated class names allowed")
    check.add_argument("--report", type=Path, help="also write the full report as JSON")
    check.set_defaults(handler=run_check)


def run_import(args: argparse.Namespace) -> int:
    """``inspector dataset import``: 1 when ``--strict`` found errors (nothing written)."""
    result = import_dataset(
        args.source,
        args.out,
        fmt=args.fmt,
        classes=parse_classes(args.classes),
        strict=args.strict,
        force=args.force,
        images=args.images,
        progress=_progress(),
    )
    report = result.report
    _write_report(args.report, report)
    if result.out_dir is None:
        where = str(args.report) if args.report else "the report of --report FILE"
        print(format_report(report, f"Nothing imported from {report.source}", where))
        print(
            f"error: --strict: {len(report.errors)} error(s) found; nothing was written",
            file=sys.stderr,
        )
        return EXIT_FAILED
    title = f"Imported into {result.out_dir} from {report.source}"
    print(format_report(report, title, str(args.report or result.out_dir / MANIFEST_NAME)))
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    """``inspector dataset check``: 1 when any error was found."""
    report = check_dataset(args.folder, classes=parse_classes(args.classes), progress=_progress())
    _write_report(args.report, report)
    where = str(args.report) if args.report else "the report of --report FILE"
    print(format_report(report, f"Checked {args.folder}", where))
    return EXIT_FAILED if report.errors else EXIT_OK


def format_report(report: DatasetReport, title: str, full_list: str) -> str:
    """The class table and the problems, as printed; ``full_list`` says where all items are."""
    lines = [
        f"{title}: {report.kept} usable image(s) in {len(report.classes)} class(es), "
        f"{report.excluded} excluded, {len(report.errors)} error(s), "
        f"{len(report.warnings)} warning(s)"
    ]
    rows = [("class", "images", "with mask")]
    rows += [(name, str(n), str(report.masks.get(name, 0))) for name, n in report.classes.items()]
    rows.append(("total", str(report.kept), str(sum(report.masks.values()))))
    lines += _table(rows)
    if report.problems:
        lines.append(f"problems (every file concerned is listed in {full_list}):")
        groups = _grouped(report.problems)
        rows = [("severity", "kind", "count", "message")]
        rows += [(sev, kind, str(len(items)), message) for (sev, kind, message), items in groups]
        table = _table(rows)
        lines.append(table[0])
        for line, (_, items) in zip(table[1:], groups, strict=True):
            lines.append(line)
            named = [item for item in items if item]
            if named:
                shown = ", ".join(named[:SHOWN_PER_GROUP])
                more = len(named) - SHOWN_PER_GROUP
                lines.append(f"      {shown}" + (f" (+{more} more)" if more > 0 else ""))
    return "\n".join(lines)


def _grouped(problems: tuple[Problem, ...]) -> list[tuple[tuple[str, str, str], list[str]]]:
    """Identical problems (severity, kind, message) together, with the items they concern."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for p in problems:
        groups.setdefault((p.severity.value, p.kind, p.message), []).append(p.item)
    return list(groups.items())


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns; the last one is not padded (messages can be long)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  " + "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]


def _write_report(path: Path | None, report: DatasetReport) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


def _progress() -> Callable[[str, int, int], None]:
    def report(stage: str, done: int, total: int) -> None:
        if done == total or done % max(1, total // 100) == 0:
            end = "\n" if done >= total else ""
            print(f"\r{stage}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return report
