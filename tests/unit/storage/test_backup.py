import sqlite3
import threading
import time

import pytest

from inspector.core.errors import StorageError
from inspector.storage.backup import backup_database
from inspector.storage.engine import open_database
from inspector.storage.repository import add_inspections, count_inspections
from tests.records import new_record


def test_backup_while_the_line_writes_is_consistent(tmp_path):
    engine = open_database(tmp_path / "live.db")
    add_inspections(engine, [new_record(part_id=i) for i in range(2000)])
    stop = threading.Event()

    def keep_writing():
        part_id = 10_000
        while not stop.is_set():
            add_inspections(engine, [new_record(part_id=part_id + i) for i in range(20)])
            part_id += 20
            time.sleep(0.005)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        steps = []
        copy = backup_database(
            engine,
            tmp_path / "backups" / "copy.db",
            pages_per_step=4,
            progress=lambda d, t: steps.append(d),
        )
    finally:
        stop.set()
        writer.join()
    assert steps, "progress reported"
    with sqlite3.connect(copy) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        copied = connection.execute("SELECT COUNT(*) FROM inspections").fetchone()[0]
    assert 2000 <= copied <= count_inspections(engine)
    assert not list((tmp_path / "backups").glob("*.partial"))


def test_backup_refuses_to_overwrite_and_names_bad_targets(tmp_path):
    engine = open_database(tmp_path / "live.db")
    (tmp_path / "exists.db").write_text("x")
    with pytest.raises(StorageError, match="exists already"):
        backup_database(engine, tmp_path / "exists.db")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="backup to"):
        backup_database(engine, blocker / "copy.db")
