"""Shadow-model verdicts beside production's, and the live comparison that decides promotion.

A candidate model in shadow mode scores every part the station decides; its
verdicts are stored here, linked to the part's record, and drive nothing.
:func:`shadow_comparison` counts, in SQL, how often the two agree, in which
direction they disagree, and, on parts a person reviewed (the ground truth,
see :mod:`inspector.storage.reviews`), the escapes and false rejects each
model would have made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from inspector.core.inspection import ShadowVerdict
from inspector.core.verdict import Verdict
from inspector.storage.engine import write_transaction
from inspector.storage.reviews import part_is_good
from inspector.storage.schema import InspectionRow, ReviewRow, ShadowVerdictRow

_SHADOW = ShadowVerdictRow.__table__
_INSPECTIONS = InspectionRow.__table__
_REVIEWS = ReviewRow.__table__


def add_shadow_verdicts(engine: Engine, station: str, verdicts: Sequence[ShadowVerdict]) -> int:
    """Store shadow verdicts in one transaction, each linked to its part's stored record.

    The part is found by what identifies it on the station (camera, part id,
    capture time); its record must have been written first, which the record
    writer guarantees by taking both through one queue.

    Returns:
        How many were stored; a verdict whose part has no record is not.
    """
    c = _INSPECTIONS.c
    stored = 0
    # Reads each part's id, then writes: the write lock first (see storage.engine.writing).
    with write_transaction(engine) as connection:
        for shadow in verdicts:
            frame = shadow.inspection.frame
            inspection_id = connection.execute(
                select(c.id)
                .where(
                    c.station == station,
                    c.captured_at == frame.captured_at,
                    c.camera_id == frame.camera_id,
                    c.part_id == int(frame.part_id),
                )
                .order_by(c.id.desc())
                .limit(1)
            ).scalar()
            if inspection_id is None:
                continue
            connection.execute(
                _SHADOW.insert().values(
                    inspection_id=inspection_id,
                    model_version=shadow.model_version,
                    verdict=None if shadow.verdict is None else Verdict(shadow.verdict).value,
                    score=_number(shadow.score),
                    threshold=_number(shadow.threshold),
                    inference_ms=_number(shadow.inference_ms),
                    error=shadow.error,
                )
            )
            stored += 1
    return stored


@dataclass(frozen=True)
class ShadowComparison:
    """How a shadow model compares with production on the same live parts.

    Attributes:
        station: The station.
        model_version: The shadow model compared.
        parts: Parts the shadow was offered (one per record while it ran).
        not_shadowed: Parts it did not score (it was behind, failed, or had no image).
        production_not_inspected: Scored by the shadow, but production's verdict was
            fail-safe (not the model's), so they are not compared.
        compared: Parts both models decided.
        agreed: Of those, the gate would have done the same with either (accept
            vs. reject / review).
        stricter: The shadow would have rejected what production accepted.
        looser: The shadow would have accepted what production rejected.
        reviewed: Compared parts a person reviewed (the ground truth below).
        reviewed_defective: Of those, parts the reviewer says are defects.
        production_escapes / production_false_rejects: Production's mistakes on them.
        shadow_escapes / shadow_false_rejects: The shadow's would-be mistakes on them.
    """

    station: str
    model_version: str
    parts: int
    not_shadowed: int
    production_not_inspected: int
    compared: int
    agreed: int
    stricter: int
    looser: int
    reviewed: int
    reviewed_defective: int
    production_escapes: int
    production_false_rejects: int
    shadow_escapes: int
    shadow_false_rejects: int

    @property
    def agreement_rate(self) -> float:
        """Share of compared parts on which the gate would act the same (``nan`` if none)."""
        return self.agreed / self.compared if self.compared else math.nan

    @property
    def reviewed_good(self) -> int:
        """Reviewed parts the reviewer says are good."""
        return self.reviewed - self.reviewed_defective


def latest_shadow_version(engine: Engine, station: str) -> str | None:
    """The model version of the station's newest shadow verdict, or ``None``."""
    statement = (
        select(_SHADOW.c.model_version)
        .join(_INSPECTIONS, _INSPECTIONS.c.id == _SHADOW.c.inspection_id)
        .where(_INSPECTIONS.c.station == station)
        .order_by(_SHADOW.c.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        return connection.execute(statement).scalar()


def shadow_comparison(
    engine: Engine,
    station: str,
    model_version: str,
    *,
    since: datetime | None = None,
) -> ShadowComparison:
    """Compare a shadow model with production on the station's parts (captured at/after ``since``).

    Counted in one grouped query (verdicts x latest review), so it costs the
    same whether the shadow ran for an hour or a month of parts.
    """
    latest = (
        select(_REVIEWS.c.inspection_id, func.max(_REVIEWS.c.id).label("review_id"))
        .group_by(_REVIEWS.c.inspection_id)
        .subquery()
    )
    i, s = _INSPECTIONS.c, _SHADOW.c
    production_ok = i.error.is_(None).label("production_ok")
    statement = (
        select(i.verdict, production_ok, s.verdict, _REVIEWS.c.decision, func.count())
        .select_from(_SHADOW)
        .join(_INSPECTIONS, i.id == s.inspection_id)
        .outerjoin(latest, latest.c.inspection_id == i.id)
        .outerjoin(_REVIEWS, _REVIEWS.c.id == latest.c.review_id)
        .where(i.station == station, s.model_version == model_version)
        .group_by(i.verdict, production_ok, s.verdict, _REVIEWS.c.decision)
    )
    if since is not None:
        statement = statement.where(i.captured_at >= since)
    counts = dict.fromkeys(
        (
            "parts",
            "not_shadowed",
            "production_not_inspected",
            "compared",
            "agreed",
            "stricter",
            "looser",
            "reviewed",
            "reviewed_defective",
            "production_escapes",
            "production_false_rejects",
            "shadow_escapes",
            "shadow_false_rejects",
        ),
        0,
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    for production, ok, shadow, decision, n in rows:
        counts["parts"] += n
        if shadow is None:
            counts["not_shadowed"] += n
            continue
        if not ok:
            counts["production_not_inspected"] += n
            continue
        production_passes = production == Verdict.ACCEPT
        shadow_passes = shadow == Verdict.ACCEPT
        counts["compared"] += n
        counts["agreed"] += n if production_passes == shadow_passes else 0
        counts["stricter"] += n if production_passes and not shadow_passes else 0
        counts["looser"] += n if shadow_passes and not production_passes else 0
        if decision is None:
            continue
        good = part_is_good(production, decision)
        counts["reviewed"] += n
        counts["reviewed_defective"] += 0 if good else n
        for who, passes in (("production", production_passes), ("shadow", shadow_passes)):
            if passes and not good:
                counts[f"{who}_escapes"] += n
            if good and not passes:
                counts[f"{who}_false_rejects"] += n
    return ShadowComparison(station=station, model_version=model_version, **counts)


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
