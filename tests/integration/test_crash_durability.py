"""A line killed with SIGKILL mid-run keeps every committed record and an intact database."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from inspector.cli import main

pytestmark = pytest.mark.slow


def _count(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM inspections").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def test_sigkill_mid_run_loses_no_committed_record(tmp_path, capsys):
    db = tmp_path / "crash.db"
    line = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inspector.cli",
            "run",
            "--headless",
            "--source",
            "demo",
            "--rate",
            "0",
            "--seed",
            "1",
            "--db",
            str(db),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while (seen := _count(db)) < 40:
            assert line.poll() is None, "the line stopped by itself"
            assert time.monotonic() < deadline, "no records arrived"
            time.sleep(0.2)
        os.kill(line.pid, signal.SIGKILL)
        line.wait(10)
    finally:
        if line.poll() is None:
            line.kill()
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        part_ids = [r[0] for r in connection.execute("SELECT part_id FROM inspections ORDER BY id")]
    assert len(part_ids) >= seen
    assert part_ids == list(range(len(part_ids)))  # committed in order, no gaps
    # the same database keeps working after the crash
    assert main(["run", "--headless", "--frames", "5", "--rate", "0", "--db", str(db)]) == 0
    assert _count(db) == len(part_ids) + 5
