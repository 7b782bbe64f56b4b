"""Reading and writing inspection records: plain functions that speak ``core`` types.

Nothing outside ``inspector.storage`` sees an ORM row or a session: callers get
frozen dataclasses that are safe to pass between threads and to keep after the
connection is gone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, func, insert, select

from inspector.core.inspection import Defect, Inspection
from inspector.core.record import StoredInspection
from inspector.core.verdict import Verdict
from inspector.storage.engine import write_transaction
from inspector.storage.schema import DefectRow, InspectionRow

_INSPECTIONS = InspectionRow.__table__
_DEFECTS = DefectRow.__table__


@dataclass(frozen=True, eq=False)
class NewRecord:
    """One inspection as it is about to be stored: the row, its defects and its image.

    ``score`` is ``None`` for a part that was not scored; ``image_path`` is
    relative to the image store root, or ``None`` when the image was not kept.
    """

    captured_at: datetime
    station: str
    camera_id: str
    part_id: int
    verdict: Verdict
    score: float | None
    threshold: float
    model_version: str
    rules_version: str
    inference_ms: float
    latency_ms: float
    error: str | None
    image_path: str | None
    defects: tuple[Defect, ...] = ()
    serial: str | None = None
    grey_mean: float | None = None
    grey_spread: float | None = None


def record_from_inspection(
    inspection: Inspection, station: str, image_path: str | None
) -> NewRecord:
    """Describe an inspection for storage; a NaN score (not inspected) becomes ``None``."""
    frame = inspection.frame
    score = None if math.isnan(inspection.score) else float(inspection.score)
    grey_mean, grey_spread = inspection.grey_levels or (None, None)
    return NewRecord(
        captured_at=frame.captured_at,
        station=station,
        camera_id=frame.camera_id,
        part_id=int(frame.part_id),
        verdict=Verdict(inspection.verdict),
        score=score,
        threshold=float(inspection.threshold),
        model_version=inspection.model_version,
        rules_version=inspection.rules_version,
        inference_ms=float(inspection.inference_ms),
        latency_ms=float(inspection.latency_ms),
        error=inspection.error,
        image_path=image_path,
        defects=inspection.defects,
        serial=frame.serial,
        grey_mean=grey_mean,
        grey_spread=grey_spread,
    )


def add_inspections(engine: Engine, rows: Sequence[NewRecord]) -> list[int]:
    """Insert records and their defects in one transaction; return the new ids in order.

    One transaction per batch is what makes the writer fast on SQLite (one
    WAL commit instead of one per part) and makes a batch all-or-nothing, so a
    retry after "database is locked" never stores a part twice.
    """
    if not rows:
        return []
    with write_transaction(engine) as connection:
        statement = insert(_INSPECTIONS).returning(_INSPECTIONS.c.id, sort_by_parameter_order=True)
        ids = list(connection.execute(statement, [_inspection_values(r) for r in rows]).scalars())
        defect_values = [
            _defect_values(inspection_id, defect)
            for inspection_id, row in zip(ids, rows, strict=True)
            for defect in row.defects
        ]
        if defect_values:
            connection.execute(insert(_DEFECTS), defect_values)
    return ids


def count_inspections(
    engine: Engine, *, verdict: Verdict | None = None, since: datetime | None = None
) -> int:
    """How many parts were recorded, optionally of one verdict and from ``since`` on."""
    statement = select(func.count()).select_from(_INSPECTIONS)
    if verdict is not None:
        statement = statement.where(_INSPECTIONS.c.verdict == Verdict(verdict).value)
    if since is not None:
        statement = statement.where(_INSPECTIONS.c.captured_at >= since)
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def verdict_counts(engine: Engine) -> dict[Verdict, int]:
    """Parts per verdict over the whole database; every verdict is present, zero if none."""
    statement = select(_INSPECTIONS.c.verdict, func.count()).group_by(_INSPECTIONS.c.verdict)
    counts = dict.fromkeys(Verdict, 0)
    with engine.connect() as connection:
        for verdict, count in connection.execute(statement):
            counts[Verdict(verdict)] = int(count)
    return counts


def recent_inspections(
    engine: Engine, limit: int = 50, *, verdict: Verdict | None = None
) -> list[StoredInspection]:
    """The newest records first, with their defects (two queries, whatever the limit)."""
    statement = (
        select(_INSPECTIONS)
        .order_by(_INSPECTIONS.c.captured_at.desc(), _INSPECTIONS.c.id.desc())
        .limit(limit)
    )
    if verdict is not None:
        statement = statement.where(_INSPECTIONS.c.verdict == Verdict(verdict).value)
    return _load(engine, statement)


def get_inspection(engine: Engine, inspection_id: int) -> StoredInspection | None:
    """One record by id, or ``None`` when there is no such record."""
    found = _load(engine, select(_INSPECTIONS).where(_INSPECTIONS.c.id == inspection_id))
    return found[0] if found else None


def _load(engine: Engine, statement: Select[Any]) -> list[StoredInspection]:
    with engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
        ids = [row["id"] for row in rows]
        defects: dict[int, list[Defect]] = defaultdict(list)
        if ids:
            defect_rows = connection.execute(
                select(_DEFECTS)
                .where(_DEFECTS.c.inspection_id.in_(ids))
                .order_by(_DEFECTS.c.inspection_id, _DEFECTS.c.id)
            ).mappings()
            for defect in defect_rows:
                defects[defect["inspection_id"]].append(_to_defect(defect))
    return [_to_stored(row, tuple(defects[row["id"]])) for row in rows]


def _inspection_values(record: NewRecord) -> dict[str, Any]:
    return {
        "captured_at": record.captured_at,
        "station": record.station,
        "camera_id": record.camera_id,
        "part_id": record.part_id,
        "verdict": Verdict(record.verdict).value,
        "score": record.score,
        "threshold": record.threshold,
        "model_version": record.model_version,
        "rules_version": record.rules_version,
        "inference_ms": record.inference_ms,
        "latency_ms": record.latency_ms,
        "error": record.error,
        "image_path": record.image_path,
        "serial": record.serial,
        "grey_mean": record.grey_mean,
        "grey_spread": record.grey_spread,
    }


def _defect_values(inspection_id: int, defect: Defect) -> dict[str, Any]:
    x, y, w, h = (int(v) for v in defect.box)
    return {
        "inspection_id": inspection_id,
        "kind": defect.kind,
        "confidence": float(defect.confidence),
        "x": x,
        "y": y,
        "w": w,
        "h": h,
        "area_px": int(defect.area_px),
    }


def _to_defect(row: Mapping[str, Any]) -> Defect:
    return Defect(
        kind=row["kind"],
        confidence=row["confidence"],
        box=(row["x"], row["y"], row["w"], row["h"]),
        area_px=row["area_px"],
    )


def _to_stored(row: Mapping[str, Any], defects: tuple[Defect, ...]) -> StoredInspection:
    return StoredInspection(
        id=row["id"],
        captured_at=row["captured_at"],
        station=row["station"],
        camera_id=row["camera_id"],
        part_id=row["part_id"],
        verdict=Verdict(row["verdict"]),
        score=row["score"],
        threshold=row["threshold"],
        model_version=row["model_version"],
        rules_version=row["rules_version"],
        inference_ms=row["inference_ms"],
        latency_ms=row["latency_ms"],
        error=row["error"],
        image_path=row["image_path"],
        defects=defects,
        serial=row["serial"],
        grey_mean=row["grey_mean"],
        grey_spread=row["grey_spread"],
    )
