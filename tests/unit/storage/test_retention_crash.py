"""A pruning process killed with SIGKILL mid-pass: no row is left naming a missing file unmarked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections
from inspector.storage.retention import RetentionPolicy, prune_images
from inspector.storage.schema import InspectionRow
from tests.records import new_record

PARTS = 120
REPO = Path(__file__).resolve().parents[3]
# One image per batch, paced between batches, so the kill lands mid-pass.
PRUNER = """
import sys, time
from pathlib import Path
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.retention import RetentionPolicy, prune_images

engine = open_database(sys.argv[1])
prune_images(engine, ImageStore(Path(sys.argv[2])), RetentionPolicy(7, 30), batch_size=1,
             should_stop=lambda: time.sleep(0.005) or False)
"""


def _marked(engine) -> int:
    with engine.connect() as connection:
        statement = select(func.count()).where(InspectionRow.image_removed_at.is_not(None))
        return connection.execute(statement).scalar()


@pytest.mark.slow
def test_sigkill_mid_pass_leaves_only_marked_rows_and_the_next_pass_finishes(tmp_path):
    db = tmp_path / "records.db"
    store = ImageStore(tmp_path / "images")
    engine = open_database(db)
    old = datetime.now(UTC) - timedelta(days=10)
    pixels = np.full((16, 16, 3), 120, np.uint8)
    records = [
        new_record(
            captured_at=old + timedelta(seconds=i),
            part_id=i,
            image_path=store.save(
                pixels, captured_at=old, station="s", part_id=i, verdict="accept"
            ),
        )
        for i in range(PARTS)
    ]
    add_inspections(engine, records)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pruner = subprocess.Popen([sys.executable, "-c", PRUNER, str(db), str(store.root)], env=env)
    deadline = time.monotonic() + 60
    while _marked(engine) < 10 and time.monotonic() < deadline and pruner.poll() is None:
        time.sleep(0.01)
    pruner.send_signal(signal.SIGKILL)
    assert pruner.wait(10) == -signal.SIGKILL, "the pass ended before it could be killed"

    with engine.connect() as connection:
        rows = connection.execute(
            select(InspectionRow.image_path, InspectionRow.image_removed_at)
        ).all()
    marked = [r for r in rows if r.image_removed_at is not None]
    assert 10 <= len(marked) < PARTS
    for row in rows:
        if row.image_removed_at is None:
            assert row.image_path is not None and store.path(row.image_path).is_file()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    result = prune_images(engine, store, RetentionPolicy(7, 30))
    assert result.removed_old_goods + len(marked) == PARTS and not result.errors
    with engine.connect() as connection:
        left = connection.execute(
            select(func.count()).where(InspectionRow.image_path.is_not(None))
        ).scalar()
    assert left == 0 and _marked(engine) == PARTS
    assert not list(store.root.rglob("*.jpg"))
    engine.dispose()
