"""Filtering the audit log and exporting it as CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest

from inspector.reports.audit_csv import COLUMNS, write_audit_csv
from inspector.storage.audit import append_audit
from inspector.storage.audit_query import AuditFilter, audit_choices, find_audit_entries


@pytest.fixture
def logged(engine):
    append_audit(
        engine, actor="eng", action="threshold", subject="s1", old_value="2", new_value="3"
    )
    append_audit(engine, actor="kim", action="review", subject="inspection 7", new_value="confirm")
    append_audit(
        engine,
        actor="eng",
        action="threshold",
        subject="s1",
        old_value="3",
        new_value="2.5",
        reason='=HYPERLINK("http://x")',
    )
    return engine


def test_filters_by_kind_user_and_time_newest_first(logged):
    everything = find_audit_entries(logged)
    assert [e.new_value for e in everything] == ["2.5", "confirm", "3"]
    thresholds = find_audit_entries(logged, AuditFilter(action="threshold"))
    assert [(e.old_value, e.new_value) for e in thresholds] == [("3", "2.5"), ("2", "3")]
    assert [e.actor for e in find_audit_entries(logged, AuditFilter(actor="kim"))] == ["kim"]
    now = datetime.now(UTC)
    assert find_audit_entries(logged, AuditFilter(start=now + timedelta(minutes=1))) == []
    recent = AuditFilter(start=now - timedelta(minutes=5), end=now + timedelta(minutes=5))
    assert len(find_audit_entries(logged, recent)) == 3
    assert len(find_audit_entries(logged, limit=1)) == 1
    assert audit_choices(logged) == (["review", "threshold"], ["eng", "kim"])


def test_a_filter_ending_before_it_starts_is_refused():
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="must be after its start"):
        AuditFilter(start=now, end=now - timedelta(hours=1))


def test_csv_has_every_field_and_neutralises_formulas(logged, tmp_path):
    entries = find_audit_entries(logged)
    path = tmp_path / "audit.csv"
    assert write_audit_csv(entries, path) == 3
    with open(path, encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))
    assert tuple(rows[0]) == COLUMNS
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert (first["actor"], first["old_value"], first["new_value"]) == ("eng", "3", "2.5")
    assert first["reason"] == '\'=HYPERLINK("http://x")'
    assert first["hash"] == entries[0].hash and len(first["hash"]) == 64
    assert not list(tmp_path.glob(".*.partial"))
