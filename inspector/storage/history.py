"""The inspection history: filtered, sorted, paged through millions of records.

Pages are found by seeking (keyset pagination), never by ``OFFSET``: a page
starts right after the sort key and id of the last row of the page before, so
it costs one index seek however deep it is, and a row inserted meanwhile
neither repeats nor hides a row. The price is that pages are walked in order
(the GUI fetches the next page as the view scrolls) rather than jumped to.

Each filter has an index that lets the newest matching rows be read in order
(revision 0002); filters that match a tiny fraction of a long period (a rare
class in a year of records) read more of the index before a page is full.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, exists, func, select, tuple_

from inspector.core.record import StoredInspection
from inspector.core.verdict import Verdict
from inspector.storage.repository import _load
from inspector.storage.reviews import Review, latest_reviews
from inspector.storage.schema import DefectRow, InspectionRow, ReviewRow

_INSPECTIONS = InspectionRow.__table__
_DEFECTS = DefectRow.__table__
_REVIEWS = ReviewRow.__table__

SortKey = Literal["captured_at", "score"]
SORT_KEYS: tuple[str, ...] = ("captured_at", "score")
MAX_PAGE = 10_000


@dataclass(frozen=True)
class HistoryFilter:
    """Which records to show; every criterion left at its default matches everything.

    Attributes:
        start: Captured at or after (timezone-aware).
        end: Captured before (timezone-aware); ``start``/``end`` make a half-open range.
        station: Exactly this station.
        camera_id: Exactly this camera.
        verdicts: Any of these verdicts; empty for all.
        defect_class: Parts with at least one defect of this class (the machine's class).
        model_version: Scored by exactly this model version.
        score_min: Score at least this; unscored parts then never match.
        score_max: Score at most this; unscored parts then never match.
        reviewed: ``True`` only reviewed parts, ``False`` only unreviewed, ``None`` both.
        serial: Exactly this part serial or lot number (traceability).
    """

    start: datetime | None = None
    end: datetime | None = None
    station: str | None = None
    camera_id: str | None = None
    verdicts: frozenset[Verdict] = field(default_factory=frozenset)
    defect_class: str | None = None
    model_version: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    reviewed: bool | None = None
    serial: str | None = None

    def __post_init__(self) -> None:
        """Normalise verdicts and refuse ranges that cannot match or times without a zone."""
        try:
            verdicts = frozenset(Verdict(v) for v in self.verdicts)
        except ValueError as exc:
            msg = f"HistoryFilter.verdicts: {exc}; use {', '.join(v.value for v in Verdict)}"
            raise ValueError(msg) from None
        object.__setattr__(self, "verdicts", verdicts)
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                msg = (
                    f"HistoryFilter.{name} must be timezone-aware (e.g. tzinfo=UTC or the "
                    "plant's ZoneInfo); a naive time is ambiguous"
                )
                raise ValueError(msg)
        if self.start is not None and self.end is not None and self.start >= self.end:
            msg = f"HistoryFilter.start ({self.start}) must be before end ({self.end})"
            raise ValueError(msg)
        if (
            self.score_min is not None
            and self.score_max is not None
            and self.score_min > self.score_max
        ):
            msg = (
                f"HistoryFilter.score_min ({self.score_min}) is above score_max ({self.score_max})"
            )
            raise ValueError(msg)


@dataclass(frozen=True)
class HistoryCursor:
    """Where the next page starts: the sort key and id of the last row shown.

    ``value`` is ``None`` for an unscored part when sorting by score (those
    come after every scored part, in either direction).
    """

    sort: str
    descending: bool
    value: datetime | float | None
    id: int


@dataclass(frozen=True, eq=False)
class HistoryRow:
    """One line of the history: the stored part and the review that counts, if any."""

    inspection: StoredInspection
    review: Review | None

    @property
    def reviewed(self) -> bool:
        """Whether anyone has reviewed the part."""
        return self.review is not None


@dataclass(frozen=True, eq=False)
class HistoryPage:
    """One page of rows; ``next_cursor`` is ``None`` on the last page."""

    rows: tuple[HistoryRow, ...]
    next_cursor: HistoryCursor | None


def history_page(
    engine: Engine,
    filt: HistoryFilter,
    *,
    sort: SortKey = "captured_at",
    descending: bool = True,
    after: HistoryCursor | None = None,
    limit: int = 100,
) -> HistoryPage:
    """One page of matching records, sorted by ``sort`` then id, starting after ``after``.

    Args:
        engine: From :func:`inspector.storage.engine.open_database`.
        filt: Which records.
        sort: ``"captured_at"`` or ``"score"`` (ties broken by id, so the order is total).
        descending: Newest / highest first (the default), else oldest / lowest first.
        after: ``next_cursor`` of the previous page, ``None`` for the first page.
        limit: Rows per page, 1 to 10,000.

    Raises:
        ValueError: an unknown sort key, a bad limit, or a cursor from a
            differently sorted listing (start again with ``after=None``).
    """
    if sort not in SORT_KEYS:
        msg = f"cannot sort history by {sort!r}; use one of {', '.join(SORT_KEYS)}"
        raise ValueError(msg)
    if not 1 <= limit <= MAX_PAGE:
        msg = f"history page limit must be 1 to {MAX_PAGE}, got {limit}"
        raise ValueError(msg)
    if after is not None and (after.sort, after.descending) != (sort, descending):
        msg = (
            f"cursor belongs to a listing sorted by {after.sort} "
            f"({'descending' if after.descending else 'ascending'}); the sort changed, "
            "so start again from the first page (after=None)"
        )
        raise ValueError(msg)
    conditions = _conditions(
        _drop_passed_bound(filt, sort, descending, after), sort_by_score=sort == "score"
    )
    found: list[StoredInspection] = []
    # A score bound can never match a part without a score, whether or not the
    # bound itself was dropped for the seek above.
    scored_only = filt.score_min is not None or filt.score_max is not None
    for segment_where, order in _segments(sort, descending, after, scored_only=scored_only):
        statement = (
            select(_INSPECTIONS)
            .where(*conditions, *segment_where)
            .order_by(*order)
            .limit(limit + 1 - len(found))
        )
        found += _load(engine, statement)
        if len(found) > limit:
            break
    rows = found[:limit]
    reviews = latest_reviews(engine, (row.id for row in rows))
    cursor = None
    if len(found) > limit:
        last = rows[-1]
        value = last.captured_at if sort == "captured_at" else last.score
        cursor = HistoryCursor(sort=sort, descending=descending, value=value, id=last.id)
    return HistoryPage(
        rows=tuple(HistoryRow(inspection=r, review=reviews.get(r.id)) for r in rows),
        next_cursor=cursor,
    )


def iter_history(
    engine: Engine,
    filt: HistoryFilter,
    *,
    sort: SortKey = "captured_at",
    descending: bool = True,
    page_size: int = 1000,
) -> Iterator[HistoryRow]:
    """Every matching row, one page in memory at a time (for exports).

    Each page is its own short read, so a long export never holds a read
    transaction open against the line's writer.
    """
    cursor: HistoryCursor | None = None
    while True:
        page = history_page(
            engine, filt, sort=sort, descending=descending, after=cursor, limit=page_size
        )
        yield from page.rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def count_history(engine: Engine, filt: HistoryFilter) -> int:
    """How many records match (for "1,234 parts" above the table).

    This reads every match in an index, so it takes longer than a page on
    broad filters over long periods; the GUI should show the first page first.
    """
    conditions = _conditions(filt, sort_by_score=True, counting=True)
    statement = select(func.count()).select_from(_INSPECTIONS).where(*conditions)
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def _conditions(
    filt: HistoryFilter, *, sort_by_score: bool, counting: bool = False
) -> list[ColumnElement[bool]]:
    c = _INSPECTIONS.c
    conditions: list[ColumnElement[bool]] = []
    if filt.start is not None:
        conditions.append(c.captured_at >= filt.start)
    if filt.end is not None:
        conditions.append(c.captured_at < filt.end)
    if filt.station is not None:
        conditions.append(c.station == filt.station)
    if filt.camera_id is not None:
        conditions.append(c.camera_id == filt.camera_id)
    if filt.serial is not None:
        conditions.append(c.serial == filt.serial)
    if filt.model_version is not None:
        conditions.append(c.model_version == filt.model_version)
    if filt.verdicts and filt.verdicts != frozenset(Verdict):
        conditions.append(c.verdict.in_(sorted(v.value for v in filt.verdicts)))
    # When pages follow capture time, a score range must not tempt the planner into
    # the score index (then every match is sorted for each page): ``score + 0`` is
    # the same test with no index behind it.
    score = c.score if sort_by_score else c.score + 0
    if filt.score_min is not None:
        conditions.append(score >= filt.score_min)
    if filt.score_max is not None:
        conditions.append(score <= filt.score_max)
    if filt.defect_class is not None:
        # A page reads parts in sort order and probes each for the class until it is
        # full; a count starts from the class's defects instead (ten times faster).
        of_class = _DEFECTS.c.kind == filt.defect_class
        if counting:
            conditions.append(c.id.in_(select(_DEFECTS.c.inspection_id).where(of_class)))
        else:
            conditions.append(exists().where(_DEFECTS.c.inspection_id == c.id, of_class))
    if filt.reviewed is not None:
        reviewed = exists().where(_REVIEWS.c.inspection_id == c.id)
        conditions.append(reviewed if filt.reviewed else ~reviewed)
    return conditions


def _drop_passed_bound(
    filt: HistoryFilter, sort: str, descending: bool, after: HistoryCursor | None
) -> HistoryFilter:
    """Leave out the filter's bound on the sort key once the cursor is past it.

    Given both ``captured_at < end`` and the cursor's ``captured_at <= value``,
    SQLite seeks to the first and reads every row of the earlier pages again,
    so each page would be slower than the one before. The cursor's row matched
    the filter, so its bound implies the filter's; a cursor outside the
    filter's range (the filter changed) keeps both, which is still correct.
    """
    if after is None or after.value is None:
        return filt
    value = after.value
    if sort == "captured_at":
        if descending and filt.end is not None and value < filt.end:
            return replace(filt, end=None)
        if not descending and filt.start is not None and value >= filt.start:
            return replace(filt, start=None)
    elif descending and filt.score_max is not None and value <= filt.score_max:
        return replace(filt, score_max=None)
    elif not descending and filt.score_min is not None and value >= filt.score_min:
        return replace(filt, score_min=None)
    return filt


def _segments(
    sort: str, descending: bool, after: HistoryCursor | None, *, scored_only: bool = False
) -> list[tuple[list[ColumnElement[bool]], list[Any]]]:
    """The queries that, run in turn, list rows in sort order after the cursor.

    Capture time is never NULL: one segment. By score, unscored parts form a
    second segment after the scored ones, ordered by id, because NULL has no
    place in a ``(score, id) < (s, i)`` comparison (and databases disagree on
    where NULLs sort); ``scored_only`` (a filter on the score) leaves it out.
    """
    c = _INSPECTIONS.c

    def seek(key: Any, value: Any) -> list[ColumnElement[bool]]:
        if after is None:
            return []
        if key is None:
            return [c.id < after.id if descending else c.id > after.id]
        # The plain range term is what the index seeks to; the row value settles ties.
        if descending:
            return [key <= value, tuple_(key, c.id) < tuple_(value, after.id)]
        return [key >= value, tuple_(key, c.id) > tuple_(value, after.id)]

    def order(key: Any) -> list[Any]:
        keys = [c.id] if key is None else [key, c.id]
        return [k.desc() if descending else k.asc() for k in keys]

    if sort == "captured_at":
        return [(seek(c.captured_at, after.value if after else None), order(c.captured_at))]
    in_null_segment = after is not None and after.value is None
    segments = []
    if not in_null_segment:
        scored = [c.score.is_not(None), *seek(c.score, after.value if after else None)]
        segments.append((scored, order(c.score)))
    if not scored_only:
        unscored = [c.score.is_(None), *(seek(None, None) if in_null_segment else [])]
        segments.append((unscored, order(None)))
    return segments
