"""The PDF quality report: produced, readable, and its figures match a hand-counted fixture."""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader
from sqlalchemy import text as sql

from inspector.cli_report import add_report_command
from inspector.core import Defect, Verdict
from inspector.reports.pdf_report import write_pdf_report
from inspector.storage.audit import append_audit
from inspector.storage.engine import open_database
from inspector.storage.image_store import ImageStore
from inspector.storage.repository import add_inspections
from inspector.storage.reviews import ReviewDecision, add_review
from tests.records import new_record

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
START, END = T0, T0 + timedelta(days=1)
# 10 parts in the range: 7 accepted, 2 rejected, 1 REVIEW; one part after the range.
VERDICTS = [Verdict.ACCEPT] * 7 + [Verdict.REJECT, Verdict.REJECT, Verdict.REVIEW]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A small station database whose report figures are counted by hand below."""
    path = tmp_path / "data" / "inspections.db"
    engine = open_database(path)
    store = ImageStore.beside(path)
    image = np.full((64, 64, 3), 128, np.uint8)
    records = []
    for i, verdict in enumerate([*VERDICTS, Verdict.REJECT]):
        when = T0 + timedelta(hours=2 * i) if i < 10 else END + timedelta(hours=1)
        bad = verdict is not Verdict.ACCEPT
        records.append(
            new_record(
                captured_at=when,
                station="line-1",
                part_id=i,
                verdict=verdict,
                score=0.9 if bad else 0.2 + 0.01 * i,
                image_path=(
                    store.save(
                        image, captured_at=when, station="line-1", part_id=i, verdict=verdict
                    )
                    if bad
                    else None
                ),
                defects=(Defect(kind="scratch", confidence=0.9, box=(8, 8, 10, 10), area_px=80),)
                if bad
                else (),
            )
        )
    ids = add_inspections(engine, records)
    # Reviews: part 7 (reject) is good -> 1 false reject; part 9 (review) confirmed;
    # part 0 (accepted) is a dent -> 1 escape. Part 10 is outside the range.
    add_review(engine, ids[7], reviewer="qa", decision=ReviewDecision.FALSE_REJECT)
    add_review(engine, ids[9], reviewer="qa", decision="confirm", defect_class="scratch")
    add_review(engine, ids[0], reviewer="qa", decision="reclassify", defect_class="dent")
    add_review(engine, ids[10], reviewer="qa", decision=ReviewDecision.FALSE_REJECT)
    engine.dispose()
    return path


def _text(pdf: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(pdf).pages)


def test_pdf_report_holds_the_hand_counted_summary(db: Path, tmp_path: Path) -> None:
    engine = open_database(db)
    out = tmp_path / "report.pdf"
    report = write_pdf_report(
        engine, out, START, END, image_store=ImageStore.beside(db), bucket="hour"
    )
    engine.dispose()
    s = report.summary
    assert (s.parts, s.accepted, s.rejected, s.review) == (10, 7, 2, 1)
    assert (s.reviewed, s.escapes, s.false_rejects) == (3, 1, 1)
    reader = PdfReader(out)
    assert len(reader.pages) == 5  # summary, two chart pages, worst parts, audit trail
    text = _text(out)
    for expected in (
        "Parts inspected 10",
        "Accepted 7",
        "Yield 70.00 %",
        "Rejected 2",
        "Sent to review 1",
        "Reviewed parts 3",
        "Escapes (accepted, found defective) 1",
        "False rejects (rejected, found good) 1",
        "escape rate 100.0 %",
        "false-reject rate 50.0 %",
        "Pareto of defect classes",
        "p-chart of the reject fraction",
        "Highest-scoring rejected parts",
    ):
        assert expected in text, expected
    assert not list(tmp_path.glob(".*.partial"))


def test_report_command_writes_pdf_and_csv(db: Path, tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_report_command(parser.add_subparsers(dest="command"))
    pdf, table = tmp_path / "out.pdf", tmp_path / "out.csv"
    args = parser.parse_args(
        [
            "report",
            "--from",
            START.isoformat(),
            "--to",
            END.isoformat(),
            "--pdf",
            str(pdf),
            "--csv",
            str(table),
            "--db",
            str(db),
            "--bucket",
            "day",
        ]
    )
    assert args.handler(args) == 0
    assert "Yield 70.00 %" in _text(pdf)
    with table.open(encoding="utf-8-sig") as stream:
        assert len(list(csv.DictReader(stream))) == 10  # part 10 is outside the range
    assert "10 parts, yield 70.00 %" in capsys.readouterr().out


def test_report_command_refuses_a_time_that_is_not_iso(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_report_command(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(
            [
                "report",
                "--from",
                "yesterday",
                "--to",
                "2026-05-05",
                "--pdf",
                str(tmp_path / "x.pdf"),
            ]
        )


def test_the_report_lists_the_periods_audited_changes_and_checks_the_chain(
    db: Path, tmp_path: Path, capsys
) -> None:
    now = datetime.now(UTC)  # the fixture's four reviews were audited just now
    engine = open_database(db)
    out = tmp_path / "audit.pdf"
    write_pdf_report(engine, out, now - timedelta(hours=1), now + timedelta(hours=1))
    text = _text(out)
    assert "Audit trail of the period" in text
    assert "hash chain verified: 4 entries intact" in text
    assert text.count("review") >= 4 and "qa" in text
    with engine.begin() as connection:  # someone edits a stored review entry
        connection.execute(sql("UPDATE audit_log SET actor = 'someone' WHERE id = 2"))
    write_pdf_report(engine, out, now - timedelta(hours=1), now + timedelta(hours=1))
    assert "HASH CHAIN BROKEN at entry 2" in _text(out)
    engine.dispose()

    parser = argparse.ArgumentParser()
    add_report_command(parser.add_subparsers(dest="command"))
    changes = tmp_path / "changes.csv"
    args = parser.parse_args(
        [
            "report",
            "--from",
            START.isoformat(),
            "--to",
            (now + timedelta(hours=1)).isoformat(),
            "--pdf",
            str(tmp_path / "all.pdf"),
            "--audit-csv",
            str(changes),
            "--db",
            str(db),
        ]
    )
    assert args.handler(args) == 0
    with changes.open(encoding="utf-8-sig") as stream:
        assert len(list(csv.DictReader(stream))) == 4
    assert "4 audited changes written to" in capsys.readouterr().out


def test_dollar_signs_in_what_people_wrote_are_printed_not_read_as_maths(
    db: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    engine = open_database(db)
    reason = "scrap cost $12 a part, rework $3"  # two dollars: maths to matplotlib
    append_audit(engine, actor="qa", action="threshold", subject="s1", reason=reason)
    out = tmp_path / "dollars.pdf"
    write_pdf_report(engine, out, now - timedelta(hours=1), now + timedelta(hours=1))
    engine.dispose()
    assert "scrap cost $12 a part" in _text(out)
