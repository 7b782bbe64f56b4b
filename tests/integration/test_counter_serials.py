"""A counter serial per part, continued across restarts from the station's own records."""

import sqlite3
from dataclasses import replace

import cv2

from inspector.acquisition.serial_counter import CounterFormat
from inspector.pipeline.line import LineSettings, build_line
from tests.unit.pipeline.helpers import ContrastScorer, part


def run_line(settings: LineSettings) -> None:
    line = build_line(settings, scorer=ContrastScorer())
    line.station.start()
    assert line.station.wait(20), "line did not finish"
    line.station.stop()
    line.engine.dispose()


def test_serials_number_parts_and_go_on_after_a_restart(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    for n in range(4):
        cv2.imwrite(str(folder / f"part{n}.png"), part(n == 2))
    db = tmp_path / "line.db"
    settings = LineSettings(
        source=str(folder),
        database=db,
        station_name="press-7",
        serial_reader="counter",
        serial_counter=CounterFormat("P7-", width=5, start=1),
        rate_hz=0,
    )
    run_line(settings)
    run_line(settings)  # a restart: numbering continues, no serial is handed out twice
    run_line(replace(settings, station_name="press-8", serial_counter=CounterFormat()))
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT station, serial FROM inspections ORDER BY id").fetchall()
    press7 = [serial for station, serial in rows if station == "press-7"]
    press8 = [serial for station, serial in rows if station == "press-8"]
    assert press7 == [f"P7-{n:05d}" for n in range(1, 9)]
    assert press8 == [f"{n:06d}" for n in range(1, 5)]  # its own numbers, default format
