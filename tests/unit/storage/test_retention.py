"""Image retention and the disk quota on a real image folder, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from inspector.core import Verdict
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections, get_inspection
from inspector.storage.retention import (
    RetentionPolicy,
    folder_usage,
    image_removal,
    mark_removed,
    prune_images,
)
from inspector.storage.retention_worker import RetentionWorker
from inspector.storage.reviews import add_review
from inspector.storage.schema import InspectionRow
from tests.records import new_record

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(keep_good_days=7, keep_reject_days=30)


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


def _part(
    engine: Engine,
    store: ImageStore,
    days_old: float,
    verdict: Verdict = Verdict.ACCEPT,
    *,
    error: str | None = None,
    seed: int = 0,
) -> int:
    """One stored record with a real JPEG of noise (incompressible, so sizes are real)."""
    captured_at = NOW - timedelta(days=days_old)
    pixels = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    path = store.save(pixels, captured_at=captured_at, station="s1", part_id=seed, verdict=verdict)
    record = new_record(
        captured_at=captured_at,
        part_id=seed,
        verdict=verdict,
        error=error,
        image_path=path,
        score=None if error else 0.3,
    )
    [inspection_id] = add_inspections(engine, [record])
    return inspection_id


def _assert_no_unmarked_row_lacks_its_file(engine: Engine, store: ImageStore) -> None:
    with engine.connect() as connection:
        rows = connection.execute(
            select(InspectionRow.id, InspectionRow.image_path, InspectionRow.image_removed_at)
        ).all()
    for row in rows:
        if row.image_path is not None and row.image_removed_at is None:
            assert store.path(row.image_path).is_file(), f"record {row.id} names a missing file"


def _image_file(engine: Engine, inspection_id: int) -> str | None:
    stored = get_inspection(engine, inspection_id)
    assert stored is not None
    return stored.image_path


def test_old_goods_go_first_and_evidence_is_kept_longer(engine, store):
    old_good = _part(engine, store, 10, seed=1)
    young_good = _part(engine, store, 2, seed=2)
    old_reject = _part(engine, store, 10, Verdict.REJECT, seed=3)
    very_old_reject = _part(engine, store, 40, Verdict.REJECT, seed=4)
    reviewed_good = _part(engine, store, 10, seed=5)
    failed = _part(engine, store, 10, error="not inspected: inference queue full", seed=6)
    add_review(engine, reviewed_good, reviewer="qa.kim", decision="confirm")
    old_file = store.path(_image_file(engine, old_good))

    result = prune_images(engine, store, POLICY, now=NOW)

    assert (result.removed_old_goods, result.removed_old_kept, result.removed_for_quota) == (
        1,
        1,
        0,
    )
    assert result.bytes_freed > 1000 and not result.errors
    assert not old_file.exists()
    assert _image_file(engine, old_good) is None and _image_file(engine, very_old_reject) is None
    for kept in (young_good, old_reject, reviewed_good, failed):
        assert store.path(_image_file(engine, kept)).is_file()
        assert image_removal(engine, kept) is None
    removal = image_removal(engine, old_good)
    assert removal is not None and removal.at == NOW
    assert "good part older than 7 days" in removal.reason
    assert "image removed by retention (good part" in removal.describe()
    assert (
        "reject or reviewed part older than 30 days"
        in image_removal(engine, very_old_reject).reason
    )
    _assert_no_unmarked_row_lacks_its_file(engine, store)
    # A second pass finds nothing more to do.
    assert prune_images(engine, store, POLICY, now=NOW).removed == 0


def test_dry_run_counts_the_same_and_changes_nothing(engine, store):
    ids = [_part(engine, store, 10 + i, seed=i) for i in range(3)]
    ids.append(_part(engine, store, 50, Verdict.REVIEW, seed=9))
    before = folder_usage(store.root)

    dry = prune_images(engine, store, POLICY, now=NOW, dry_run=True)

    assert (dry.dry_run, dry.removed_old_goods, dry.removed_old_kept) == (True, 3, 1)
    assert folder_usage(store.root) == before
    assert all(_image_file(engine, i) is not None and image_removal(engine, i) is None for i in ids)
    real = prune_images(engine, store, POLICY, now=NOW)
    assert (real.removed, real.bytes_freed) == (dry.removed, dry.bytes_freed)
    assert "would remove 4 images" in dry.summary() and "removed 4 images" in real.summary()


def test_quota_removes_oldest_goods_then_oldest_rejects(engine, store):
    goods = [_part(engine, store, 3 - i * 0.1, seed=i) for i in range(4)]  # oldest first
    rejects = [_part(engine, store, 5 - i * 0.1, Verdict.REJECT, seed=10 + i) for i in range(4)]
    size = store.path(_image_file(engine, goods[0])).stat().st_size
    total = folder_usage(store.root)
    # Room for all but ~5.5 images: the 4 goods and 2 of the rejects must go.
    quota = int(total - 5.5 * size)
    policy = RetentionPolicy(keep_good_days=7, keep_reject_days=30, quota_bytes=quota)

    dry = prune_images(engine, store, policy, now=NOW, dry_run=True)
    result = prune_images(engine, store, policy, now=NOW)

    assert dry.removed_for_quota == result.removed_for_quota == 6
    assert folder_usage(store.root) == result.usage_bytes <= quota
    assert not result.over_quota
    assert all(_image_file(engine, i) is None for i in goods + rejects[:2])
    assert all(_image_file(engine, i) is not None for i in rejects[2:])
    assert "disk quota" in image_removal(engine, rejects[0]).reason
    _assert_no_unmarked_row_lacks_its_file(engine, store)


def test_quota_that_cannot_be_met_says_so(engine, store):
    _part(engine, store, 1, Verdict.REJECT, seed=1)
    (store.root / "masks").mkdir()
    (store.root / "masks" / "drawn.png").write_bytes(b"\0" * 50_000)  # a file with no record
    result = prune_images(engine, store, RetentionPolicy(7, 30, quota_bytes=10_000), now=NOW)
    assert result.removed_for_quota == 1
    assert result.over_quota and "still over the quota" in result.summary()


def test_a_crash_between_mark_and_delete_is_finished_by_the_next_pass(engine, store):
    part = _part(engine, store, 10, seed=1)
    relative = _image_file(engine, part)
    # The pass marked the row, then the process died before the file went.
    assert mark_removed(engine, [part], "retention (test)", NOW) == [part]
    assert mark_removed(engine, [part], "retention (again)", NOW) == []  # claimed once
    assert store.path(relative).is_file()
    assert image_removal(engine, part).reason == "retention (test)"
    _assert_no_unmarked_row_lacks_its_file(engine, store)

    result = prune_images(engine, store, RetentionPolicy(None, None), now=NOW)

    assert result.finished_interrupted == 1
    assert not store.path(relative).exists()
    assert _image_file(engine, part) is None
    assert image_removal(engine, part).reason == "retention (test)"


def test_a_file_already_gone_still_gets_its_row_marked(engine, store):
    part = _part(engine, store, 10, seed=1)
    store.path(_image_file(engine, part)).unlink()
    assert prune_images(engine, store, POLICY, now=NOW).removed_old_goods == 1
    assert _image_file(engine, part) is None and image_removal(engine, part) is not None


def test_worker_prunes_on_its_own_thread_and_stops_promptly(engine, store):
    part = _part(engine, store, 400, seed=1)  # old by the real clock too
    reports: list[str] = []
    worker = RetentionWorker(
        engine, store, POLICY, interval_s=3600, first_delay_s=0, on_report=reports.append
    )
    worker.start()
    deadline = threading.Event()
    for _ in range(100):
        if worker.passes:
            break
        deadline.wait(0.05)
    worker.stop(timeout=5)
    assert worker.passes == 1 and worker.last_result.removed == 1
    assert _image_file(engine, part) is None
    assert reports == []


@pytest.mark.parametrize(
    ("good", "kept", "quota", "match"),
    [
        (30, 7, None, "must be at least keep_good_days"),
        (None, 30, None, "must be at least keep_good_days"),
        (0, 30, None, "keep_good_days must be positive"),
        (7, 30, -1, "quota_bytes must be positive"),
    ],
)
def test_policy_refuses_evidence_kept_shorter_than_samples(good, kept, quota, match):
    with pytest.raises(ValueError, match=match):
        RetentionPolicy(good, kept, quota)


def test_policy_from_station_settings_in_gib():
    policy = RetentionPolicy.from_settings(7, 365, 0.5)
    assert policy.quota_bytes == 512 * 1024**2
    assert policy.does_anything and not RetentionPolicy(None, None).does_anything


def test_database_from_revision_0005_upgrades_with_its_records_unmarked(database_url):
    from inspector.storage.engine import open_database
    from tests.records import database_at

    database_at(database_url, "0005")
    engine = open_database(database_url)
    try:
        stored = get_inspection(engine, 1)
        assert stored is not None and stored.verdict is Verdict.REJECT
        assert image_removal(engine, 1) is None
        assert (stored.grey_mean, stored.grey_spread) == (None, None)  # 0008: not measured
    finally:
        engine.dispose()
