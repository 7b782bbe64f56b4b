"""CSV export of the filtered history: every row once, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from inspector.core import Defect, Verdict
from inspector.reports.csv_export import COLUMNS, write_history_csv
from inspector.storage.engine import open_database
from inspector.storage.history import HistoryFilter
from inspector.storage.repository import NewRecord, add_inspections
from inspector.storage.reviews import add_review
from tests.records import new_record

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(tmp_path / "csv.db")
    yield engine
    engine.dispose()


def _record(i: int, verdict: Verdict, **changes: object) -> NewRecord:
    values: dict[str, object] = {
        "captured_at": T0 + timedelta(minutes=i),
        "part_id": 100 + i,
        "verdict": verdict,
        "score": 0.25 + i / 100,
        "inference_ms": 4.5,
        "latency_ms": 12.0,
    }
    return new_record(**{**values, **changes})


@pytest.fixture
def ids(engine: Engine) -> list[int]:
    scratch = Defect(kind="scratch", confidence=0.9, box=(1, 2, 3, 4), area_px=9)
    dent = Defect(kind="dent", confidence=0.8, box=(5, 6, 7, 8), area_px=30)
    ids = add_inspections(
        engine,
        [
            _record(0, Verdict.ACCEPT),
            _record(
                1,
                Verdict.REJECT,
                defects=(scratch, dent, scratch),
                image_path="d/1.jpg",
                grey_mean=101.25,
                grey_spread=37.5,
            ),
            _record(2, Verdict.REJECT, score=None, error='=HYPERLINK("http://x")'),
            _record(3, Verdict.REVIEW, station="+line-2"),
            _record(4, Verdict.ACCEPT),
        ],
    )
    add_review(
        engine,
        ids[1],
        reviewer="Jürgen",
        decision="confirm",
        defect_class="scratch",
        note="@deep scratch",
        reviewed_at=datetime(2026, 5, 5, 9, 0, tzinfo=UTC),
    )
    return ids


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


def test_csv_has_every_matching_row_once_newest_first_with_reviews(
    engine: Engine, ids: list[int], tmp_path: Path
) -> None:
    out = tmp_path / "history.csv"
    written = write_history_csv(engine, HistoryFilter(), out, page_size=2)
    rows = _read(out)
    assert written == 5
    assert list(rows[0]) == list(COLUMNS)
    assert [int(r["id"]) for r in rows] == ids[::-1]
    reviewed = rows[3]
    assert reviewed["captured_at"] == "2026-05-04T06:01:00+00:00"
    assert (reviewed["verdict"], reviewed["score"], reviewed["part_id"]) == (
        "reject",
        "0.26",
        "101",
    )
    assert (reviewed["defect_count"], reviewed["defect_classes"]) == ("3", "scratch;dent")
    assert (reviewed["review_decision"], reviewed["review_class"]) == ("confirm", "scratch")
    assert reviewed["reviewer"] == "Jürgen"
    assert reviewed["reviewed_at"] == "2026-05-05T09:00:00+00:00"
    assert reviewed["image_path"] == "d/1.jpg"
    assert (reviewed["grey_mean"], reviewed["grey_spread"]) == ("101.25", "37.5")
    assert rows[0]["grey_mean"] == ""  # not measured (records before schema 0008)
    assert rows[0]["review_decision"] == "" and rows[0]["reviewer"] == ""
    assert rows[2]["score"] == ""  # unscored, not 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads the umlaut right
    assert not list(tmp_path.glob(".*.partial"))


def test_text_that_a_spreadsheet_would_run_as_a_formula_is_neutralised(
    engine: Engine, ids: list[int], tmp_path: Path
) -> None:
    out = tmp_path / "history.csv"
    write_history_csv(engine, HistoryFilter(), out)
    by_id = {int(r["id"]): r for r in _read(out)}
    assert by_id[ids[2]]["error"] == '\'=HYPERLINK("http://x")'
    assert by_id[ids[3]]["station"] == "'+line-2"
    assert by_id[ids[1]]["review_note"] == "'@deep scratch"


def test_filter_and_sort_apply_and_a_stream_can_be_the_destination(
    engine: Engine, ids: list[int]
) -> None:
    stream = io.StringIO()
    filt = HistoryFilter(verdicts=frozenset({Verdict.REJECT, Verdict.REVIEW}))
    written = write_history_csv(engine, filt, stream, sort="score", descending=False)
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert written == 3
    assert [int(r["id"]) for r in rows] == [ids[1], ids[3], ids[2]]  # unscored last


def test_failed_export_leaves_no_file_behind(
    engine: Engine, ids: list[int], tmp_path: Path
) -> None:
    out = tmp_path / "history.csv"
    with pytest.raises(ValueError, match="cannot sort history by 'part_id'"):
        write_history_csv(engine, HistoryFilter(), out, sort="part_id")  # type: ignore[arg-type]
    assert not [p.name for p in tmp_path.iterdir() if not p.name.startswith("csv.db")]
