"""Repository functions: core types in, core types out, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, text

from inspector.core import Defect, Inspection, StoredInspection, Verdict
from inspector.storage.repository import (
    add_inspections,
    count_inspections,
    get_inspection,
    recent_inspections,
    record_from_inspection,
    verdict_counts,
)

MakeInspection = Callable[..., Inspection]
MakeDefect = Callable[..., Defect]


def test_round_trip_returns_core_types_with_defects(
    engine: Engine, make_inspection: MakeInspection, make_defect: MakeDefect
) -> None:
    inspection = make_inspection(
        7, Verdict.REJECT, score=0.93, defects=(make_defect(x=3), make_defect("dent", x=11))
    )
    [new_id] = add_inspections(
        engine, [record_from_inspection(inspection, "line-1", "2026-05-09/x.jpg")]
    )
    stored = get_inspection(engine, new_id)
    assert isinstance(stored, StoredInspection)
    assert stored.id == new_id
    assert stored.captured_at == inspection.frame.captured_at
    assert stored.captured_at.tzinfo is not None
    assert (stored.station, stored.camera_id, stored.part_id) == ("line-1", "cam0", 7)
    assert stored.verdict is Verdict.REJECT
    assert stored.score == 0.93
    assert (stored.threshold, stored.model_version, stored.rules_version) == (
        0.5,
        "padim-1.2.0",
        "rules-3",
    )
    assert (stored.inference_ms, stored.latency_ms, stored.error) == (4.5, 12.0, None)
    assert stored.image_path == "2026-05-09/x.jpg"
    assert all(isinstance(d, Defect) for d in stored.defects)
    assert [(d.kind, d.confidence, d.box, d.area_px, d.contour) for d in stored.defects] == [
        ("scratch", 0.875, (3, 4, 6, 6), 21, None),
        ("dent", 0.875, (11, 4, 6, 6), 21, None),
    ]


def test_a_parts_lighting_is_stored_and_an_unmeasured_one_is_null(
    engine: Engine, make_inspection: MakeInspection
) -> None:
    from dataclasses import replace

    measured = replace(make_inspection(1), grey_levels=(101.25, 37.5))
    unmeasured = make_inspection(2)
    ids = add_inspections(
        engine, [record_from_inspection(i, "s", None) for i in (measured, unmeasured)]
    )
    first, second = (get_inspection(engine, i) for i in ids)
    assert (first.grey_mean, first.grey_spread) == (101.25, 37.5)
    assert (second.grey_mean, second.grey_spread) == (None, None)


def test_nan_score_is_stored_as_null(engine: Engine, make_inspection: MakeInspection) -> None:
    inspection = make_inspection(1, Verdict.REJECT, score=math.nan, error="deadline missed")
    record = record_from_inspection(inspection, "s", None)
    assert record.score is None
    [new_id] = add_inspections(engine, [record])
    with engine.connect() as connection:
        raw = connection.execute(
            text("SELECT score IS NULL, error FROM inspections WHERE id = :id"), {"id": new_id}
        ).one()
    assert tuple(raw) == (True, "deadline missed")
    stored = get_inspection(engine, new_id)
    assert stored is not None and stored.score is None


def test_add_returns_ids_in_the_order_given(
    engine: Engine, make_inspection: MakeInspection
) -> None:
    records = [record_from_inspection(make_inspection(i), "s", None) for i in range(30)]
    ids = add_inspections(engine, records)
    assert len(set(ids)) == 30
    assert [get_inspection(engine, i).part_id for i in ids] == list(range(30))  # type: ignore[union-attr]
    assert add_inspections(engine, []) == []


def test_a_failing_batch_stores_nothing(
    engine: Engine, make_inspection: MakeInspection, make_defect: MakeDefect
) -> None:
    good = record_from_inspection(make_inspection(1, defects=(make_defect(),)), "s", None)
    bad_defect = Defect(kind="scratch", confidence=0.5, box=(1, 2, 3), area_px=4)  # type: ignore[arg-type]
    bad = record_from_inspection(make_inspection(2, defects=(bad_defect,)), "s", None)
    with pytest.raises(ValueError, match="unpack"):
        add_inspections(engine, [good, bad])
    assert count_inspections(engine) == 0
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM defects").scalar() == 0


def test_counts_by_verdict_and_time(
    engine: Engine, make_inspection: MakeInspection, base_time: datetime
) -> None:
    verdicts = [Verdict.ACCEPT] * 5 + [Verdict.REJECT] * 3 + [Verdict.REVIEW]
    add_inspections(
        engine,
        [record_from_inspection(make_inspection(i, v), "s", None) for i, v in enumerate(verdicts)],
    )
    assert count_inspections(engine) == 9
    assert count_inspections(engine, verdict=Verdict.REJECT) == 3
    # Part i was captured at base_time + i seconds; "since" is inclusive.
    assert count_inspections(engine, since=base_time + timedelta(seconds=6)) == 3
    assert count_inspections(engine, verdict=Verdict.ACCEPT, since=base_time.astimezone(UTC)) == 5
    assert verdict_counts(engine) == {Verdict.ACCEPT: 5, Verdict.REJECT: 3, Verdict.REVIEW: 1}


def test_verdict_counts_of_an_empty_database_are_zero(engine: Engine) -> None:
    assert verdict_counts(engine) == dict.fromkeys(Verdict, 0)


def test_recent_is_newest_first_filtered_and_limited(
    engine: Engine, make_inspection: MakeInspection, make_defect: MakeDefect
) -> None:
    records = [
        record_from_inspection(
            make_inspection(
                i, Verdict.REJECT if i % 2 else Verdict.ACCEPT, defects=(make_defect(),)
            ),
            "s",
            None,
        )
        for i in range(10)
    ]
    add_inspections(engine, records[5:])  # insertion order differs from capture order
    add_inspections(engine, records[:5])
    assert [r.part_id for r in recent_inspections(engine, limit=4)] == [9, 8, 7, 6]
    rejects = recent_inspections(engine, verdict=Verdict.REJECT)
    assert [r.part_id for r in rejects] == [9, 7, 5, 3, 1]
    assert all(len(r.defects) == 1 and r.defects[0].box == (3, 4, 6, 6) for r in rejects)


def test_recent_loads_defects_in_one_query(
    engine: Engine, make_inspection: MakeInspection, make_defect: MakeDefect
) -> None:
    add_inspections(
        engine,
        [
            record_from_inspection(make_inspection(i, defects=(make_defect(),)), "s", None)
            for i in range(20)
        ],
    )
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    result = recent_inspections(engine, limit=20)
    assert len(result) == 20 and all(len(r.defects) == 1 for r in result)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2


def test_get_unknown_id_is_none(engine: Engine) -> None:
    assert get_inspection(engine, 12345) is None


def test_deleting_an_inspection_deletes_its_defects(
    engine: Engine, make_inspection: MakeInspection, make_defect: MakeDefect
) -> None:
    [new_id] = add_inspections(
        engine,
        [
            record_from_inspection(
                make_inspection(1, defects=(make_defect(), make_defect())), "s", None
            )
        ],
    )
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM inspections WHERE id = :id"), {"id": new_id})
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM defects").scalar() == 0
