"""CSV of the filtered history: one line per part, for spreadsheets and the quality file.

Rows are streamed page by page (:func:`inspector.storage.history.iter_history`),
so exporting a year of records needs the memory of one page and never holds a
read transaction open against the line's writer.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine

from inspector.storage.history import HistoryFilter, HistoryRow, SortKey, iter_history

COLUMNS = (
    "id",
    "captured_at",
    "station",
    "camera_id",
    "part_id",
    "serial",
    "verdict",
    "score",
    "threshold",
    "model_version",
    "rules_version",
    "inference_ms",
    "latency_ms",
    "error",
    "image_path",
    "defect_count",
    "defect_classes",
    "review_decision",
    "review_class",
    "reviewer",
    "reviewed_at",
    "review_note",
    "grey_mean",
    "grey_spread",
)
# A cell starting with one of these is a formula to Excel and LibreOffice: a station
# name or error text must never run as one when QA opens the file ("CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_history_csv(
    engine: Engine,
    filt: HistoryFilter,
    destination: Path | TextIO,
    *,
    sort: SortKey = "captured_at",
    descending: bool = True,
    page_size: int = 1000,
) -> int:
    """Write every record matching ``filt`` as CSV and return how many were written.

    Args:
        engine: From :func:`inspector.storage.engine.open_database`.
        filt: The same filter the history view shows.
        destination: A file path (written as UTF-8 with a byte-order mark, so that
            Excel shows reviewers' names right; replaced only once complete),
            or an open text stream (written as is).
        sort: ``"captured_at"`` or ``"score"``.
        descending: Newest / highest first.
        page_size: Rows read per query (memory use, not the result).

    Times are ISO 8601 in UTC; an unscored part has an empty score.
    """
    rows = iter_history(engine, filt, sort=sort, descending=descending, page_size=page_size)
    if not isinstance(destination, Path):
        return _write(destination, rows)
    destination = destination.absolute()
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with open(partial, "w", newline="", encoding="utf-8-sig") as stream:
            written = _write(stream, rows)
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


def csv_cells(row: HistoryRow) -> list[Any]:
    """One history row as the cells of :data:`COLUMNS`; text cells are made formula-safe.

    Numbers stay numbers (the csv module writes floats exactly, as ``repr``
    does); only text that people or other programs typed is neutralised.
    """
    part = row.inspection
    review = row.review
    text = [
        part.station,
        part.camera_id,
        part.model_version,
        part.rules_version,
        part.error or "",
        part.image_path or "",
        ";".join(dict.fromkeys(d.kind for d in part.defects)),
        "" if review is None else review.defect_class or "",
        "" if review is None else review.reviewer,
        "" if review is None else review.note or "",
        part.serial or "",
    ]
    station, camera, model, rules, error, image, classes, review_class, reviewer, note, serial = (
        _safe(cell) for cell in text
    )
    return [
        part.id,
        part.captured_at.isoformat(),
        station,
        camera,
        part.part_id,
        serial,
        part.verdict.value,
        "" if part.score is None else part.score,
        part.threshold,
        model,
        rules,
        part.inference_ms,
        part.latency_ms,
        error,
        image,
        len(part.defects),
        classes,
        "" if review is None else review.decision.value,
        review_class,
        reviewer,
        "" if review is None else review.reviewed_at.isoformat(),
        note,
        "" if part.grey_mean is None else part.grey_mean,
        "" if part.grey_spread is None else part.grey_spread,
    ]


def _write(stream: TextIO, rows: Iterable[HistoryRow]) -> int:
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    written = 0
    for row in rows:
        writer.writerow(csv_cells(row))
        written += 1
    return written


def _safe(text: str) -> str:
    """Quote a leading formula character with an apostrophe, as OWASP recommends."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text
