"""History filters and keyset paging on SQLite and PostgreSQL, checked against plain Python."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from inspector.core import Defect, StoredInspection, Verdict
from inspector.storage.history import (
    HistoryCursor,
    HistoryFilter,
    count_history,
    history_page,
    iter_history,
)
from inspector.storage.repository import NewRecord, add_inspections
from inspector.storage.reviews import ReviewDecision, add_review
from tests.records import new_record

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Part:
    """What the test stored for one record, to compute expected answers in Python."""

    id: int
    captured_at: datetime
    station: str
    camera_id: str
    verdict: Verdict
    score: float | None
    model_version: str
    kinds: tuple[str, ...]
    reviewed: bool


def _record(i: int) -> NewRecord:
    """A deterministic mix: ties in time and score, unscored parts, two stations and models."""
    verdict = (Verdict.ACCEPT, Verdict.ACCEPT, Verdict.REJECT, Verdict.REVIEW)[i % 4]
    kinds = {2: ("scratch",), 6: ("dent", "scratch"), 10: ("dent",)}.get(i % 12, ())
    if verdict is Verdict.REJECT and not kinds:
        kinds = ("crack",)
    return new_record(
        # Every third part shares its capture time with the next one: ties broken by id.
        captured_at=T0 + timedelta(seconds=10 * (i - i % 3 // 2)),
        station=f"line-{i % 2 + 1}",
        camera_id=f"cam{i % 3}",
        part_id=i,
        verdict=verdict,
        score=None if i % 7 == 5 else round(0.1 + (i % 5) * 0.1, 1),  # many equal scores
        model_version="m-1" if i < 15 else "m-2",
        defects=tuple(Defect(kind=k, confidence=0.9, box=(1, 2, 3, 4), area_px=9) for k in kinds),
    )


@pytest.fixture
def parts(engine: Engine) -> list[Part]:
    records = [_record(i) for i in range(26)]
    ids = add_inspections(engine, records)
    reviewed = {ids[2], ids[3], ids[6], ids[11]}
    for inspection_id in sorted(reviewed):
        add_review(
            engine,
            inspection_id,
            reviewer="qa",
            decision=ReviewDecision.FALSE_REJECT,
            reviewed_at=T0 + timedelta(days=1),
        )
    return [
        Part(
            id=i,
            captured_at=r.captured_at,
            station=r.station,
            camera_id=r.camera_id,
            verdict=r.verdict,
            score=r.score,
            model_version=r.model_version,
            kinds=tuple(d.kind for d in r.defects),
            reviewed=i in reviewed,
        )
        for i, r in zip(ids, records, strict=True)
    ]


def _expected_order(parts: list[Part], sort: str, descending: bool) -> list[int]:
    """Sort order the module promises: key then id; unscored parts last by id."""
    if sort == "captured_at":
        ordered = sorted(parts, key=lambda p: (p.captured_at, p.id), reverse=descending)
        return [p.id for p in ordered]
    scored = sorted(
        (p for p in parts if p.score is not None),
        key=lambda p: (p.score, p.id),
        reverse=descending,
    )
    unscored = sorted((p for p in parts if p.score is None), key=lambda p: p.id, reverse=descending)
    return [p.id for p in scored + unscored]


def _walk(engine: Engine, filt: HistoryFilter, **kwargs: object) -> list[int]:
    ids: list[int] = []
    cursor: HistoryCursor | None = None
    for _ in range(100):
        page = history_page(engine, filt, after=cursor, **kwargs)  # type: ignore[arg-type]
        ids += [row.inspection.id for row in page.rows]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("sort", ["captured_at", "score"])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("limit", [1, 3, 7, 26, 100])
def test_keyset_paging_returns_every_row_exactly_once_in_order(
    engine: Engine, parts: list[Part], sort: str, descending: bool, limit: int
) -> None:
    ids = _walk(engine, HistoryFilter(), sort=sort, descending=descending, limit=limit)
    assert ids == _expected_order(parts, sort, descending)
    assert len(set(ids)) == len(parts)


def test_last_page_has_no_cursor_and_a_full_page_before_it_does(
    engine: Engine, parts: list[Part]
) -> None:
    first = history_page(engine, HistoryFilter(), limit=len(parts) - 1)
    assert first.next_cursor is not None
    last = history_page(engine, HistoryFilter(), limit=len(parts) - 1, after=first.next_cursor)
    assert len(last.rows) == 1
    assert last.next_cursor is None
    assert history_page(engine, HistoryFilter(), limit=len(parts)).next_cursor is None


FILTERS: dict[str, tuple[HistoryFilter, Callable[[Part], bool]]] = {
    "time range": (
        HistoryFilter(start=T0 + timedelta(seconds=40), end=T0 + timedelta(seconds=120)),
        lambda p: T0 + timedelta(seconds=40) <= p.captured_at < T0 + timedelta(seconds=120),
    ),
    "station": (HistoryFilter(station="line-2"), lambda p: p.station == "line-2"),
    "camera": (HistoryFilter(camera_id="cam1"), lambda p: p.camera_id == "cam1"),
    "one verdict": (
        HistoryFilter(verdicts=frozenset({Verdict.REVIEW})),
        lambda p: p.verdict is Verdict.REVIEW,
    ),
    "verdicts as strings": (
        HistoryFilter(verdicts=frozenset({"reject", "review"})),  # type: ignore[arg-type]
        lambda p: p.verdict is not Verdict.ACCEPT,
    ),
    "defect class": (HistoryFilter(defect_class="scratch"), lambda p: "scratch" in p.kinds),
    "model version": (HistoryFilter(model_version="m-2"), lambda p: p.model_version == "m-2"),
    "score range": (
        HistoryFilter(score_min=0.2, score_max=0.4),
        lambda p: p.score is not None and 0.2 <= p.score <= 0.4,
    ),
    # One bound alone: paging by score drops it once past, and unscored parts must
    # still stay out.
    "score at least": (
        HistoryFilter(score_min=0.3),
        lambda p: p.score is not None and p.score >= 0.3,
    ),
    "score at most": (
        HistoryFilter(score_max=0.3),
        lambda p: p.score is not None and p.score <= 0.3,
    ),
    "reviewed": (HistoryFilter(reviewed=True), lambda p: p.reviewed),
    "not reviewed": (HistoryFilter(reviewed=False), lambda p: not p.reviewed),
    "everything at once": (
        HistoryFilter(
            start=T0,
            end=T0 + timedelta(hours=1),
            station="line-1",
            verdicts=frozenset({Verdict.REJECT}),
            defect_class="scratch",
            model_version="m-1",
            score_min=0.1,
            reviewed=False,
        ),
        lambda p: (
            p.station == "line-1"
            and p.verdict is Verdict.REJECT
            and "scratch" in p.kinds
            and p.model_version == "m-1"
            and p.score is not None
            and not p.reviewed
        ),
    ),
}


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("sort", ["captured_at", "score"])
@pytest.mark.parametrize("descending", [True, False])
def test_each_filter_matches_exactly_what_it_says(
    engine: Engine, parts: list[Part], name: str, sort: str, descending: bool
) -> None:
    filt, matches = FILTERS[name]
    order = _expected_order(parts, sort, descending)
    expected = [i for i in order if matches(_by_id(parts, i))]
    assert expected, "the fixture should give every filter something to find"
    assert _walk(engine, filt, sort=sort, descending=descending, limit=2) == expected
    assert count_history(engine, filt) == len(expected)


@pytest.mark.parametrize("sort", ["captured_at", "score"])
def test_a_cursor_kept_across_a_filter_change_still_gives_only_matching_rows(
    engine: Engine, parts: list[Part], sort: str
) -> None:
    # The cursor comes from the top of an unfiltered listing; the new filter's range
    # ends below it, so its own bound must still apply.
    cursor = history_page(engine, HistoryFilter(), sort=sort, limit=1).next_cursor
    narrow = (
        HistoryFilter(end=T0 + timedelta(seconds=60))
        if sort == "captured_at"
        else HistoryFilter(score_max=0.2)
    )
    ids = [r.inspection.id for r in history_page(engine, narrow, sort=sort, after=cursor).rows]
    assert ids == _walk(engine, narrow, sort=sort, limit=100)


def test_rows_are_core_records_with_the_review_that_counts(
    engine: Engine, parts: list[Part]
) -> None:
    reviewed = next(p for p in parts if p.reviewed and p.verdict is Verdict.REJECT)
    add_review(engine, reviewed.id, reviewer="lead", decision="confirm", defect_class="dent")
    page = history_page(engine, HistoryFilter(reviewed=True), limit=100)
    row = next(r for r in page.rows if r.inspection.id == reviewed.id)
    assert isinstance(row.inspection, StoredInspection)
    assert row.inspection.verdict is Verdict.REJECT
    assert [d.kind for d in row.inspection.defects] == list(reviewed.kinds)
    assert row.reviewed
    assert row.review is not None
    assert (row.review.reviewer, row.review.decision) == ("lead", ReviewDecision.CONFIRM)
    unreviewed = history_page(engine, HistoryFilter(reviewed=False), limit=1).rows[0]
    assert unreviewed.review is None
    assert not unreviewed.reviewed


def test_rows_added_while_paging_neither_repeat_nor_hide_older_rows(
    engine: Engine, parts: list[Part]
) -> None:
    first = history_page(engine, HistoryFilter(), limit=5)
    add_inspections(engine, [_record(100), _record(101)])  # newer than everything shown
    rest = _walk_from(engine, first.next_cursor)
    ids = [r.inspection.id for r in first.rows] + rest
    assert ids == _expected_order(parts, "captured_at", True)


def test_iter_history_streams_all_rows_page_by_page(engine: Engine, parts: list[Part]) -> None:
    ids = [row.inspection.id for row in iter_history(engine, HistoryFilter(), page_size=4)]
    assert ids == _expected_order(parts, "captured_at", True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sort": "station"}, "cannot sort history by 'station'"),
        ({"limit": 0}, "limit must be 1 to"),
        ({"limit": 10_001}, "limit must be 1 to"),
        (
            {"sort": "score", "after": HistoryCursor("captured_at", True, T0, 1)},
            "start again from the first page",
        ),
        (
            {"descending": False, "after": HistoryCursor("captured_at", True, T0, 1)},
            "start again from the first page",
        ),
    ],
)
def test_bad_page_requests_say_what_to_do(
    engine: Engine, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        history_page(engine, HistoryFilter(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": datetime(2026, 5, 4)}, "timezone-aware"),
        ({"end": datetime(2026, 5, 4)}, "timezone-aware"),
        ({"start": T0, "end": T0}, "must be before end"),
        ({"score_min": 0.5, "score_max": 0.4}, "above score_max"),
        ({"verdicts": frozenset({"maybe"})}, "use accept, reject, review"),
    ],
)
def test_impossible_filters_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HistoryFilter(**kwargs)  # type: ignore[arg-type]


def test_empty_database_gives_an_empty_last_page(engine: Engine) -> None:
    page = history_page(engine, HistoryFilter())
    assert page.rows == ()
    assert page.next_cursor is None
    assert count_history(engine, HistoryFilter()) == 0


def _walk_from(engine: Engine, cursor: HistoryCursor | None) -> list[int]:
    ids: list[int] = []
    while cursor is not None:
        page = history_page(engine, HistoryFilter(), limit=5, after=cursor)
        ids += [row.inspection.id for row in page.rows]
        cursor = page.next_cursor
    return ids


def _by_id(parts: list[Part], inspection_id: int) -> Part:
    return next(p for p in parts if p.id == inspection_id)
