"""A change stored in the database and its audit entry commit together, and the entry's
old value is what the change really replaced, even with another writer at work."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text, update

from inspector.core import Verdict
from inspector.core.errors import StorageError
from inspector.storage.audit import append_audit_within, audit_entries, verify_audit
from inspector.storage.deployments import (
    current_production,
    deployment_history,
    promote,
    rollback,
    start_shadow,
)
from inspector.storage.engine import open_database, write_transaction
from inspector.storage.repository import add_inspections, record_from_inspection
from inspector.storage.reviews import add_review, latest_reviews
from inspector.storage.schema import DeploymentRow, UserRow
from inspector.storage.users import Role, add_user, get_user, set_role
from tests.unit.storage.conftest import CommitsMeanwhile, MakeInspection


@pytest.fixture
def audit_log_fails(engine: Engine) -> Iterator[Engine]:
    """A database whose audit log refuses every new entry (as a full disk would fail
    the insert), with one user and one promoted model on record from before."""
    add_user(engine, "bo", Role.OPERATOR, "pass-word-1", actor="admin")
    promote(engine, "press-2", "/models/m1", "m1", actor="eng.ada", reason="first")
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION audit_full() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION audit_full()"
            )
    yield engine


def test_a_change_whose_audit_entry_fails_is_not_stored(
    audit_log_fails: Engine, make_inspection: MakeInspection
) -> None:
    engine = audit_log_fails
    [part] = add_inspections(
        engine, [record_from_inspection(make_inspection(1, Verdict.REJECT), "line-1", None)]
    )
    entries_before = len(audit_entries(engine))
    changes = [
        lambda: add_user(engine, "cy", Role.QA, "pass-word-2", actor="admin"),
        lambda: set_role(engine, "bo", Role.ADMIN, actor="admin", reason="cover"),
        lambda: promote(engine, "press-2", "/models/m2", "m2", actor="eng.ada", reason="better"),
        lambda: start_shadow(engine, "press-2", "/models/m3", "m3", actor="eng.ada", reason="try"),
        lambda: add_review(engine, part, reviewer="anna", decision="false_reject"),
    ]
    for change in changes:
        with pytest.raises(StorageError, match=r"was not stored, nothing changed .*disk full"):
            change()
    assert get_user(engine, "cy") is None
    assert get_user(engine, "bo").role is Role.OPERATOR
    assert [d.model_version for d in deployment_history(engine, "press-2")] == ["m1"]
    assert latest_reviews(engine, [part]) == {}
    assert len(audit_entries(engine)) == entries_before


def test_an_audit_entry_is_written_only_inside_a_write_transaction(sqlite_engine: Engine) -> None:
    with (
        sqlite_engine.connect() as connection,
        pytest.raises(ValueError, match="write transaction"),
    ):
        append_audit_within(connection, actor="admin", action="threshold", subject="s1")
    with sqlite_engine.connect() as connection, connection.begin():
        with pytest.raises(ValueError, match="write transaction"):  # a deferred one
            append_audit_within(connection, actor="admin", action="threshold", subject="s1")
    with write_transaction(sqlite_engine) as connection:
        append_audit_within(connection, actor="admin", action="threshold", subject="s1")
    assert [e.action for e in audit_entries(sqlite_engine)] == ["threshold"]


def test_a_role_change_audits_the_role_it_really_replaced(
    engine: Engine, commits_meanwhile: CommitsMeanwhile
) -> None:
    """Another administrator's change commits while this one waits for the lock: the
    audit entry must name that role as the old one, not the role read before."""
    add_user(engine, "bo", Role.QA, "pass-word-1", actor="admin")

    def other_admin(connection: Connection) -> None:
        connection.execute(update(UserRow).where(UserRow.name == "bo").values(role="engineer"))

    with commits_meanwhile(other_admin):
        set_role(engine, "bo", Role.ADMIN, actor="admin", reason="cover")
    entry = audit_entries(engine)[-1]
    assert (entry.action, entry.old_value, entry.new_value) == ("user.role", "engineer", "admin")
    assert get_user(engine, "bo").role is Role.ADMIN


def test_a_rollback_beside_another_promotion_goes_back_one_model_as_it_records(
    engine: Engine, commits_meanwhile: CommitsMeanwhile, tmp_path: Path
) -> None:
    """A colleague's promotion of m3 commits while the rollback waits: the rollback must
    undo m3 (back to m2), so the model it records is the one the station runs."""
    for version in ("m1", "m2"):
        promote(engine, "press-2", tmp_path / version, version, actor="eng", reason="up")

    def colleague_promotes(connection: Connection) -> None:
        connection.execute(
            DeploymentRow.__table__.insert().values(
                at=datetime.now(UTC),
                station="press-2",
                role="production",
                action="promote",
                model_path=str(tmp_path / "m3"),
                model_version="m3",
                actor="eng.bo",
                reason="newer",
            )
        )

    with commits_meanwhile(colleague_promotes):
        back = rollback(engine, "press-2", actor="eng.ada", reason="m3 rejects too much")
    assert back.model_version == "m2"
    assert current_production(engine, "press-2").model_version == "m2"
    entry = audit_entries(engine)[-1]
    assert (entry.action, entry.old_value, entry.new_value) == ("model.rollback", "m3", "m2")


def test_audited_changes_keep_one_valid_chain_on_both_databases(
    engine: Engine, make_inspection: MakeInspection, tmp_path: Path
) -> None:
    [part] = add_inspections(
        engine, [record_from_inspection(make_inspection(1, Verdict.REJECT), "line-1", None)]
    )
    add_user(engine, "bo", Role.OPERATOR, "pass-word-1", actor="admin")
    set_role(engine, "bo", Role.QA, actor="admin", reason="review duty")
    promote(engine, "press-2", tmp_path / "m1", "m1", actor="eng", reason="first")
    add_review(engine, part, reviewer="bo", decision="false_reject")
    actions = [e.action for e in audit_entries(engine)]
    assert actions == ["user.add", "user.role", "model.promote", "review"]
    assert verify_audit(engine).ok
    with engine.connect() as connection:
        roles = connection.execute(select(UserRow.role).where(UserRow.name == "bo")).all()
        assert roles == [("qa",)]
        assert connection.execute(text("SELECT count(*) FROM model_deployments")).scalar() == 1


def test_a_change_the_database_stays_too_busy_for_says_so_and_changes_nothing(
    db_path: Path,
) -> None:
    """Another program keeps the write lock past the busy timeout: a message for the
    window or the terminal, not a driver's traceback, and nothing half-done."""
    engine = open_database(db_path, busy_timeout_ms=100)
    try:
        add_user(engine, "bo", Role.QA, "pass-word-1", actor="admin")
        holder = sqlite3.connect(db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StorageError, match=r"the role of 'bo' was not stored.*locked"):
                set_role(engine, "bo", Role.ADMIN, actor="admin", reason="cover")
            with pytest.raises(StorageError, match="model deployment was not stored"):
                promote(engine, "press-2", "/models/m1", "m1", actor="eng", reason="first")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert get_user(engine, "bo").role is Role.QA
        assert [e.action for e in audit_entries(engine)] == ["user.add"]
    finally:
        engine.dispose()
