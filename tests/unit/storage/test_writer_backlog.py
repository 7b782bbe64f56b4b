"""A full disk and a long database outage: records wait, memory stays bounded, nothing is lost."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from inspector.core import Verdict
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import count_inspections
from inspector.storage.writer import RecordWriter
from tests.unit.storage.conftest import WriteLock


def _wait(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 2 MiB filesystem (tmpfs), so that 'disk full' is the kernel's ENOSPC."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_is_survived_and_every_record_lands_when_space_returns(
    small_disk: Path, make_inspection
) -> None:
    engine = open_database(small_disk / "line.db")
    store = ImageStore(small_disk / "images")
    filler = small_disk / "filler"
    with open(filler, "wb") as out:  # fill the disk to the last byte
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    errors: list[str] = []
    writer = RecordWriter(engine, store, station="s", max_batch=16, on_error=errors.append)
    writer.start()
    big = np.full((64, 64, 3), 200, np.uint8)
    for part_id in range(120):
        writer.submit(make_inspection(part_id, Verdict.REJECT, image=big))
    _wait(lambda: any("disk is full" in e for e in errors))  # SQLite's SQLITE_FULL
    assert writer.written < 120
    assert any("No space left" in e for e in errors)  # images could not be kept either
    filler.unlink()  # space comes back
    writer.stop(timeout=30)
    assert count_inspections(engine) == 120
    with sqlite3.connect(small_disk / "line.db") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    engine.dispose()


def test_backlog_beyond_its_bound_keeps_records_without_pixels(
    database_url: Path | str, tmp_path: Path, write_lock: WriteLock, make_inspection
) -> None:
    engine = open_database(database_url)
    errors: list[str] = []
    writer = RecordWriter(
        engine,
        ImageStore(tmp_path / "images"),
        station="s",
        max_backlog_images=20,
        on_error=errors.append,
    )
    with write_lock():  # the database refuses writes for a while
        writer.start()
        for part_id in range(60):
            writer.submit(make_inspection(part_id, Verdict.REJECT))
        assert writer.images_dropped == 40
        assert any("backlog" in e for e in errors)
    writer.stop(timeout=30)
    assert count_inspections(engine) == 60
    assert writer.images_saved == 20
    engine.dispose()
