"""People's judgements of inspected parts: the review queue and the review records.

A review is appended, never updated, and never touches the machine's verdict:
``inspections.verdict`` stays what the line did with the part, and the newest
review beside it is what a person says the part really was. Reports compare
the two (escapes, false rejects); retraining learns from the reviewed parts.

What a decision means depends on the machine's verdict, which is why it is
named from the machine's point of view:

- ``confirm``: the machine was right. A rejected (or REVIEW) part is a defect,
  of ``defect_class``; an accepted part (an audit sample) is good.
- ``false_reject``: the part was rejected (or sent to review) but is good.
- ``reclassify``: the part is a defect of ``defect_class``, which the machine
  named differently or missed (an accepted part: an escape).

Review ids are never reused, so whatever learns from a review later (a model
update from "this is OK", an audit entry) can cite the exact review it used.
A corrected defect region (box, brush mask) is saved by
:mod:`inspector.storage.review_masks`; the reviewed parts become a training set
in :mod:`inspector.storage.review_export`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, exists, func, insert, select, union_all

from inspector.core.record import StoredInspection
from inspector.core.verdict import Verdict
from inspector.storage.audit import append_audit_within
from inspector.storage.engine import change_transaction
from inspector.storage.repository import _load
from inspector.storage.schema import InspectionRow, ReviewRow

_INSPECTIONS = InspectionRow.__table__
_REVIEWS = ReviewRow.__table__
# Class names become folder names in exported datasets: keep them portable.
_CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
GOOD_FOLDER = "good"
_CHUNK = 500  # ids per IN (...) and rows per export query: short reads, few bind parameters


class ReviewDecision(StrEnum):
    """What a reviewer says about the machine's verdict (see the module docstring)."""

    CONFIRM = "confirm"
    FALSE_REJECT = "false_reject"
    RECLASSIFY = "reclassify"


@dataclass(frozen=True, eq=False)
class Review:
    """One stored review, as read back.

    ``box`` is the corrected defect region ``(x, y, w, h)`` in image pixels;
    ``mask_path`` a brush mask (255 = defect) relative to the image store root.
    """

    id: int
    inspection_id: int
    reviewer: str
    reviewed_at: datetime
    decision: ReviewDecision
    defect_class: str | None
    box: tuple[int, int, int, int] | None
    mask_path: str | None
    note: str | None


def part_is_good(verdict: Verdict | str, decision: ReviewDecision | str) -> bool:
    """What the reviewer says the part really is: good (``True``) or a defect."""
    decision = ReviewDecision(decision)
    if decision is ReviewDecision.CONFIRM:
        return Verdict(verdict) is Verdict.ACCEPT
    return decision is ReviewDecision.FALSE_REJECT


def add_review(
    engine: Engine,
    inspection_id: int,
    *,
    reviewer: str,
    decision: ReviewDecision | str,
    defect_class: str | None = None,
    box: tuple[int, int, int, int] | None = None,
    mask_path: str | None = None,
    note: str | None = None,
    reviewed_at: datetime | None = None,
) -> Review:
    """Append a review of one part; the newest review of a part is the one that counts.

    The checks that need the machine's verdict happen here, in the same
    transaction as the insert, so that a review can never contradict it: a
    defect needs a class, a good part has none, and only a part that was not
    accepted can be a false reject. Its audit entry commits with it.

    Args:
        engine: From :func:`inspector.storage.engine.open_database`.
        inspection_id: The reviewed part.
        reviewer: Who reviewed it (user name), stored with the review.
        decision: See :class:`ReviewDecision`.
        defect_class: The defect's class when the part is a defect; ``None`` when good.
        box: Corrected defect region ``(x, y, w, h)``, for defects only.
        mask_path: A brush mask saved in the image store, for defects only.
        note: Free text for the quality file.
        reviewed_at: When (timezone-aware); now by default.

    Raises:
        ValueError: the part does not exist or the review is inconsistent;
            the message says what to change.
        StorageError: the database refused the review (nothing was stored).
    """
    decision = _decision(decision)
    reviewer = reviewer.strip()
    if not reviewer or len(reviewer) > 64:
        msg = f"reviewer must be a user name of 1 to 64 characters, got {reviewer!r}"
        raise ValueError(msg)
    when = datetime.now(UTC) if reviewed_at is None else reviewed_at
    if when.tzinfo is None:
        msg = (
            "reviewed_at must be timezone-aware (e.g. datetime.now(UTC)); naive times are ambiguous"
        )
        raise ValueError(msg)
    # Reads the part, then writes: the write lock first (see storage.engine.writing).
    with change_transaction(engine, f"the review of inspection {inspection_id}") as connection:
        verdict = connection.execute(
            select(_INSPECTIONS.c.verdict).where(_INSPECTIONS.c.id == inspection_id)
        ).scalar_one_or_none()
        if verdict is None:
            msg = (
                f"no inspection with id {inspection_id}; refresh the review queue and pick another"
            )
            raise ValueError(msg)
        good = part_is_good(verdict, decision)
        _check_consistent(decision, Verdict(verdict), good, defect_class, box, mask_path)
        x, y, w, h = (int(v) for v in box) if box is not None else (None, None, None, None)
        review_id = connection.execute(
            insert(_REVIEWS).returning(_REVIEWS.c.id),
            {
                "inspection_id": inspection_id,
                "reviewer": reviewer,
                "reviewed_at": when,
                "decision": decision.value,
                "defect_class": defect_class,
                "box_x": x,
                "box_y": y,
                "box_w": w,
                "box_h": h,
                "mask_path": mask_path,
                "note": note,
            },
        ).scalar_one()
        append_audit_within(
            connection,
            actor=reviewer,
            action="review",
            subject=f"inspection {inspection_id}",
            old_value=verdict,
            new_value=decision.value + (f" {defect_class}" if defect_class else ""),
            reason=note,
        )
    return Review(
        id=review_id,
        inspection_id=inspection_id,
        reviewer=reviewer,
        reviewed_at=when.astimezone(UTC),
        decision=decision,
        defect_class=defect_class,
        box=None if box is None else (x, y, w, h),  # type: ignore[arg-type]
        mask_path=mask_path,
        note=note,
    )


def latest_reviews(engine: Engine, inspection_ids: Iterable[int]) -> dict[int, Review]:
    """The review that counts for each of these parts; parts never reviewed are absent.

    "Latest" is the last one appended (highest id), not the largest
    ``reviewed_at``: a clock set wrong on one workstation cannot reorder history.
    """
    ids = sorted(set(inspection_ids))
    found: dict[int, Review] = {}
    with engine.connect() as connection:
        for start in range(0, len(ids), _CHUNK):
            chunk = _REVIEWS.c.inspection_id.in_(ids[start : start + _CHUNK])
            statement = select(_REVIEWS).where(_REVIEWS.c.id.in_(_latest_ids(chunk)))
            for row in connection.execute(statement).mappings():
                found[row["inspection_id"]] = _to_review(row)
    return found


def review_history(engine: Engine, inspection_id: int) -> list[Review]:
    """Every review of one part, oldest first: who changed their mind, and when."""
    statement = (
        select(_REVIEWS).where(_REVIEWS.c.inspection_id == inspection_id).order_by(_REVIEWS.c.id)
    )
    with engine.connect() as connection:
        return [_to_review(row) for row in connection.execute(statement).mappings()]


def review_queue(
    engine: Engine, limit: int = 50, station: str | None = None
) -> list[StoredInspection]:
    """Rejected and REVIEW parts nobody has reviewed yet, newest first.

    A reviewed part leaves the queue, so calling this again after each batch
    of reviews is how a reviewer moves on; no cursor is needed.
    """
    if limit < 1:
        msg = f"review_queue limit must be at least 1, got {limit}"
        raise ValueError(msg)
    c = _INSPECTIONS.c
    newest_first = (c.captured_at.desc(), c.id.desc())

    def unreviewed(verdict: Verdict) -> Select[Any]:
        statement = select(_INSPECTIONS).where(
            c.verdict == verdict.value,
            ~exists().where(_REVIEWS.c.inspection_id == c.id),
        )
        if station is not None:
            statement = statement.where(c.station == station)
        return select(statement.order_by(*newest_first).limit(limit).subquery())

    # One newest-first index walk per verdict, merged: with "verdict IN (...)" the
    # planner may instead sort every reject ever recorded to find the newest few.
    queue = union_all(unreviewed(Verdict.REJECT), unreviewed(Verdict.REVIEW)).subquery()
    merged = select(queue).order_by(queue.c.captured_at.desc(), queue.c.id.desc()).limit(limit)
    return _load(engine, merged)


def review_counts(
    engine: Engine,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    station: str | None = None,
) -> dict[tuple[Verdict, ReviewDecision], int]:
    """How many parts captured in ``[start, end)`` got each decision, by machine verdict.

    Only the review that counts is counted, once per part: the material of the
    escape / false-reject report (``inspector.reports.quality.review_confusion``).
    """
    statement = (
        select(_INSPECTIONS.c.verdict, _REVIEWS.c.decision, func.count())
        .join(_INSPECTIONS, _INSPECTIONS.c.id == _REVIEWS.c.inspection_id)
        .where(_REVIEWS.c.id.in_(_latest_ids()))
        .group_by(_INSPECTIONS.c.verdict, _REVIEWS.c.decision)
    )
    if start is not None:
        statement = statement.where(_INSPECTIONS.c.captured_at >= start)
    if end is not None:
        statement = statement.where(_INSPECTIONS.c.captured_at < end)
    if station is not None:
        statement = statement.where(_INSPECTIONS.c.station == station)
    with engine.connect() as connection:
        return {
            (Verdict(verdict), ReviewDecision(decision)): int(count)
            for verdict, decision, count in connection.execute(statement)
        }


def _latest_ids(*where: ColumnElement[bool]) -> Select[Any]:
    """Ids of the reviews that count: the last one appended for each reviewed part.

    Written as ``id IN (SELECT max(id) ... GROUP BY inspection_id)`` so that the
    database starts from the (few) reviews rather than from the (many) parts.
    """
    return select(func.max(_REVIEWS.c.id)).where(*where).group_by(_REVIEWS.c.inspection_id)


def _decision(decision: ReviewDecision | str) -> ReviewDecision:
    try:
        return ReviewDecision(decision)
    except ValueError:
        choices = ", ".join(d.value for d in ReviewDecision)
        msg = f"unknown review decision {decision!r}; use one of {choices}"
        raise ValueError(msg) from None


def _check_consistent(
    decision: ReviewDecision,
    verdict: Verdict,
    good: bool,
    defect_class: str | None,
    box: tuple[int, int, int, int] | None,
    mask_path: str | None,
) -> None:
    if decision is ReviewDecision.FALSE_REJECT and verdict is Verdict.ACCEPT:
        msg = (
            "an accepted part cannot be a false reject; use 'confirm' (it is good) "
            "or 'reclassify' with a defect class (it is an escape)"
        )
        raise ValueError(msg)
    if good and (defect_class is not None or box is not None or mask_path is not None):
        msg = "a part judged good has no defect class, box or mask; leave them out"
        raise ValueError(msg)
    if not good and defect_class is None:
        msg = f"a '{decision.value}' review of a {verdict.value} part needs a defect_class"
        raise ValueError(msg)
    if defect_class is not None and (
        not _CLASS_NAME.fullmatch(defect_class) or defect_class.lower() == GOOD_FOLDER
    ):
        msg = (
            f"defect class {defect_class!r} must be 1 to 64 letters, digits, '_' or '-' "
            f"(starting with a letter or digit) and not {GOOD_FOLDER!r}"
        )
        raise ValueError(msg)
    if box is not None:
        if len(box) != 4 or box[0] < 0 or box[1] < 0 or box[2] <= 0 or box[3] <= 0:
            msg = f"box must be (x, y, w, h) with x, y >= 0 and w, h > 0, got {box!r}"
            raise ValueError(msg)
    if mask_path is not None:
        path = PurePosixPath(mask_path)
        if path.is_absolute() or ".." in path.parts or "\\" in mask_path:
            msg = f"mask_path must be relative to the image store root, got {mask_path!r}"
            raise ValueError(msg)


def _to_review(row: Mapping[str, Any]) -> Review:
    box = (row["box_x"], row["box_y"], row["box_w"], row["box_h"])
    return Review(
        id=row["id"],
        inspection_id=row["inspection_id"],
        reviewer=row["reviewer"],
        reviewed_at=row["reviewed_at"],
        decision=ReviewDecision(row["decision"]),
        defect_class=row["defect_class"],
        box=None if box[0] is None else box,
        mask_path=row["mask_path"],
        note=row["note"],
    )
