"""The record writer thread against real databases (SQLite, PostgreSQL) and image folders."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from inspector.core import Defect, Inspection, StorageError, Verdict
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import count_inspections, recent_inspections
from inspector.storage.writer import RecordWriter
from tests.unit.storage.conftest import WriteLock

MakeInspection = Callable[..., Inspection]
MakeDefect = Callable[..., Defect]


def _wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_two_hundred_parts_arrive_with_defects_and_sampled_images(
    engine: Engine,
    db_path: Path,
    make_inspection: MakeInspection,
    make_defect: MakeDefect,
) -> None:
    store = ImageStore.beside(db_path)
    inspections: list[Inspection] = []
    expected_images: set[int] = set()
    goods = 0
    for i in range(200):
        if i % 23 == 0:  # unreadable input: fail-safe reject, no pixels
            item = make_inspection(
                i,
                Verdict.REJECT,
                score=math.nan,
                error="cannot decode",
                image=np.zeros((0, 0, 3), np.uint8),
            )
        elif i % 17 == 0:  # deadline missed, accepted by configuration: image kept anyway
            item = make_inspection(i, Verdict.ACCEPT, score=math.nan, error="deadline missed")
            expected_images.add(i)
        elif i % 5 == 0:
            item = make_inspection(
                i, Verdict.REJECT, score=0.9, defects=(make_defect(x=i % 7), make_defect("dent"))
            )
            expected_images.add(i)
        elif i % 7 == 0:
            item = make_inspection(i, Verdict.REVIEW, score=0.55, defects=(make_defect(x=1),))
            expected_images.add(i)
        else:
            item = make_inspection(i, Verdict.ACCEPT, score=0.1)
            if goods % 10 == 0:  # the first good part, then every 10th
                expected_images.add(i)
            goods += 1
        inspections.append(item)

    writer = RecordWriter(engine, store, station="line-1", keep_good_every=10, max_batch=64)
    writer.start()
    for item in inspections:
        writer.submit(item)
    writer.stop()

    assert (writer.written, writer.pending, writer.failed) == (200, 0, 0)
    assert writer.images_saved == len(expected_images)
    assert count_inspections(engine) == 200
    rows = {r.part_id: r for r in recent_inspections(engine, limit=500)}
    assert sorted(rows) == list(range(200))
    assert {p for p, r in rows.items() if r.image_path is not None} == expected_images
    files = sorted(p for p in store.root.rglob("*") if p.is_file())
    assert len(files) == len(expected_images)
    for part_id in expected_images:
        row = rows[part_id]
        assert row.image_path is not None
        assert row.image_path.endswith(
            f"line-1_{part_id:08d}_{row.verdict.value}_{row.captured_at:%H%M%S%f}.jpg"
        )
        assert store.load(row.image_path).shape == (24, 32, 3)
    for i, item in enumerate(inspections):
        stored = rows[i]
        assert stored.verdict is item.verdict
        assert stored.station == "line-1"
        assert [(d.kind, d.box, d.area_px) for d in stored.defects] == [
            (d.kind, d.box, d.area_px) for d in item.defects
        ]
        if math.isnan(item.score):
            assert stored.score is None
        else:
            assert stored.score == item.score


def test_locked_database_is_retried_until_every_record_arrives(
    database_url: Path | str, db_path: Path, write_lock: WriteLock, make_inspection: MakeInspection
) -> None:
    engine = open_database(database_url, busy_timeout_ms=50)
    errors: list[str] = []
    writer = RecordWriter(
        engine,
        ImageStore.beside(db_path),
        station="s",
        flush_interval_s=0.02,
        on_error=errors.append,
    )
    writer.start()
    with write_lock():
        started = time.monotonic()
        for i in range(20):
            writer.submit(make_inspection(i, Verdict.REJECT))
        assert time.monotonic() - started < 0.5  # submit never waits for the database
        assert _wait_until(lambda: len(errors) >= 2)  # retried at least once
        time.sleep(max(0.0, 1.5 - (time.monotonic() - started)))
        assert writer.written == 0
        assert writer.pending == 20
    writer.stop()
    assert writer.written == 20 and writer.pending == 0
    assert count_inspections(engine) == 20
    # SQLite: "database is locked"; PostgreSQL: "canceling statement due to lock timeout".
    assert "lock" in errors[0]
    assert writer.last_error is not None and "lock" in writer.last_error
    engine.dispose()


def test_a_record_the_database_refuses_does_not_take_the_batch_with_it(
    engine: Engine, db_path: Path, make_inspection: MakeInspection, make_defect: MakeDefect
) -> None:
    errors: list[str] = []
    writer = RecordWriter(engine, ImageStore.beside(db_path), station="s", on_error=errors.append)
    bad = Defect(kind="x", confidence=0.5, box=(1, 2, 3), area_px=1)  # type: ignore[arg-type]
    with writer:
        for i in range(10):
            defects = (bad,) if i == 4 else (make_defect(),)
            writer.submit(make_inspection(i, Verdict.REJECT, defects=defects))
    assert (writer.written, writer.failed, writer.pending) == (9, 1, 0)
    assert sorted(r.part_id for r in recent_inspections(engine)) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert len(errors) == 1 and "part 4" in errors[0]


def test_unsaveable_image_still_stores_the_row(
    engine: Engine, tmp_path: Path, make_inspection: MakeInspection
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the image folder should be")
    errors: list[str] = []
    writer = RecordWriter(engine, ImageStore(blocker), station="s", on_error=errors.append)
    with writer:
        writer.submit(make_inspection(1, Verdict.REJECT))
    assert writer.written == 1 and writer.images_saved == 0
    [row] = recent_inspections(engine)
    assert row.image_path is None
    assert "image of part 1 not saved" in errors[0] and str(blocker) in errors[0]


def test_stop_without_start_writes_what_was_submitted(
    engine: Engine, db_path: Path, make_inspection: MakeInspection
) -> None:
    writer = RecordWriter(engine, ImageStore.beside(db_path), station="s")
    writer.submit(make_inspection(1))
    writer.stop()
    assert count_inspections(engine) == 1
    with pytest.raises(RuntimeError, match="part 2 was not recorded"):
        writer.submit(make_inspection(2))


def test_stop_returns_promptly_and_joins_the_thread(
    engine: Engine, db_path: Path, make_inspection: MakeInspection
) -> None:
    writer = RecordWriter(engine, ImageStore.beside(db_path), station="s", flush_interval_s=5.0)
    writer.start()
    writer.submit(make_inspection(1))
    started = time.monotonic()
    writer.stop()
    assert time.monotonic() - started < 1.0
    assert writer.written == 1
    assert not any(t.name == "record-writer" and t.is_alive() for t in threading.enumerate())


def test_stop_that_cannot_finish_says_what_is_lost(
    database_url: Path | str, db_path: Path, write_lock: WriteLock, make_inspection: MakeInspection
) -> None:
    engine = open_database(database_url, busy_timeout_ms=20)
    writer = RecordWriter(engine, ImageStore.beside(db_path), station="s", flush_interval_s=0.02)
    writer.start()
    with write_lock():
        writer.submit(make_inspection(1))
        with pytest.raises(StorageError, match="1 records are not written.*lock"):
            writer.stop(timeout=0.3)
    assert _wait_until(lambda: writer.written == 1)  # still retrying, so it lands after all
    engine.dispose()


@pytest.mark.parametrize(
    "options",
    [{"keep_good_every": -1}, {"max_batch": 0}, {"flush_interval_s": 0.0}],
)
def test_bad_settings_are_refused(sqlite_engine: Engine, tmp_path: Path, options: dict) -> None:
    with pytest.raises(ValueError, match="RecordWriter needs"):
        RecordWriter(sqlite_engine, ImageStore(tmp_path), station="s", **options)
