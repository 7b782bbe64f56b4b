"""End to end without a window: the shipped model on the demo line, into a real SQLite file."""

import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.cli import main
from inspector.pipeline.line import DEFAULT_MODEL_DIR

pytestmark = pytest.mark.slow


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_demo_line_parts_all_land_in_the_database(tmp_path, capsys):
    db = tmp_path / "line.db"
    code = main(
        [
            "run",
            "--headless",
            "--source",
            "demo",
            "--frames",
            "120",
            "--db",
            str(db),
            "--rate",
            "0",
            "--seed",
            "7",
            "--defect-rate",
            "0.5",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Inspected 120 parts" in out
    rows = _rows(
        db,
        "SELECT part_id, verdict, score, threshold, model_version, latency_ms, "
        "rules_version, station, camera_id, image_path FROM inspections ORDER BY part_id",
    )
    assert [r[0] for r in rows] == list(range(120))
    assert {r[1] for r in rows} <= {"accept", "reject", "review"}
    assert all(r[2] is not None and r[3] > 0 and r[4] and r[5] > 0 and r[6] for r in rows)
    assert all(r[7] == "station-1" and r[8] == "demo" for r in rows)
    for _, verdict, *_rest, image_path in rows:
        if verdict != "accept":
            assert image_path and (tmp_path / "images" / image_path).is_file()
    defects = _rows(
        db,
        "SELECT COUNT(*) FROM defects d JOIN inspections i ON i.id = d.inspection_id "
        "WHERE i.verdict = 'reject'",
    )
    assert defects[0][0] >= sum(r[1] == "reject" for r in rows)
    assert _rows(db, "PRAGMA journal_mode")[0][0] == "wal"


def test_shipped_model_sorts_the_demo_line(tmp_path, capsys):
    """Known ground truth: most defective parts are caught, most good ones pass."""
    from inspector.pipeline.line import LineSettings, build_line

    line = build_line(
        LineSettings(database=tmp_path / "t.db", max_parts=160, rate_hz=0, seed=11, defect_rate=0.5)
    )
    line.station.start()
    assert line.station.wait(240)
    line.station.stop()
    truth = line.station.snapshot().truth
    assert truth.defective_total > 40 and truth.good_total > 40
    assert truth.catch_rate >= 0.85, truth
    assert truth.good_accept_rate >= 0.85, truth


def test_folder_with_a_corrupt_image_records_it_and_goes_on(tmp_path, capsys):
    folder = tmp_path / "parts"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(4):  # lit like the demo model's parts (mean grey 115, spread 40)
        image = rng.integers(10, 220, (96, 96, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"part_{index}.png"), image)
    (folder / "part_2b.png").write_bytes(b"not an image at all")
    db = tmp_path / "f.db"
    code = main(["run", "--headless", "--source", str(folder), "--db", str(db)])
    out = capsys.readouterr().out
    assert code == 0
    assert "part_2b.png" in out  # the alarm names the file
    rows = _rows(db, "SELECT verdict, error FROM inspections")
    assert len(rows) == 5
    errors = [r for r in rows if r[1]]
    assert len(errors) == 1 and "unreadable" in errors[0][1] and errors[0][0] == "reject"


def test_a_dim_folder_is_fail_safe_with_an_alarm_unless_told_not_to_check(tmp_path, capsys):
    """The demo model keeps its parts' lighting: good parts at 60 % of it (which the model
    alone would pass) are not judged."""
    from inspector.acquisition.demo_line import DemoLine

    folder = tmp_path / "dim"
    folder.mkdir()
    with DemoLine(rate_hz=0, defect_rate=0.0, seed=5, max_parts=3) as line:
        for index, frame in enumerate(line):
            image = (frame.image * 0.6).astype(np.uint8)
            cv2.imwrite(str(folder / f"part_{index}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    checked, unchecked = tmp_path / "checked.db", tmp_path / "unchecked.db"
    assert main(["run", "--headless", "--source", str(folder), "--db", str(checked)]) == 0
    out = capsys.readouterr().out
    assert out.count("[lighting] lighting unlike the good parts") == 1  # one alarm, 3 parts
    rows = _rows(checked, "SELECT verdict, error FROM inspections")
    assert len(rows) == 3
    assert all(v == "reject" and e.startswith("not inspected: lighting unlike") for v, e in rows)
    assert all("darker than taught (mean grey" in e for _, e in rows)

    options = ["--source", str(folder), "--db", str(unchecked), "--no-lighting-check"]
    assert main(["run", "--headless", *options]) == 0
    assert "[lighting]" not in capsys.readouterr().out
    assert all(e is None for _, e in _rows(unchecked, "SELECT verdict, error FROM inspections"))


@pytest.mark.parametrize(
    ("source", "message"),
    [("{tmp}/missing-folder", "no such file or folder"), ("{tmp}/broken.mp4", "video")],
)
def test_bad_sources_give_a_clear_error_and_exit_code(tmp_path, capsys, source, message):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    code = main(
        [
            "run",
            "--headless",
            "--source",
            source.format(tmp=tmp_path),
            "--db",
            str(tmp_path / "x.db"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert message in (captured.out + captured.err)


def test_database_in_an_unwritable_place_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    code = main(["run", "--headless", "--frames", "3", "--db", str(blocker / "sub" / "x.db")])
    assert code == 1
    assert "error:" in capsys.readouterr().err


def test_model_from_elsewhere_is_refused_clearly(tmp_path, capsys):
    code = main(
        [
            "run",
            "--headless",
            "--frames",
            "3",
            "--db",
            str(tmp_path / "x.db"),
            "--model",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert "model" in capsys.readouterr().err.lower()


def test_shipped_model_package_is_present_and_small():
    files = list(DEFAULT_MODEL_DIR.iterdir())
    assert (DEFAULT_MODEL_DIR / "model.json").is_file()
    assert sum(f.stat().st_size for f in files) < 10 * 1024 * 1024
