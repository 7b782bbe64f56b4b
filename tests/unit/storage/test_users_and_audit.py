"""Roles, password hashing and the tamper-evident audit log, on SQLite and PostgreSQL."""

import threading

import pytest
from sqlalchemy import text

from inspector.core.errors import StorageError
from inspector.storage.audit import append_audit, audit_entries, verify_audit
from inspector.storage.engine import open_database
from inspector.storage.users import (
    Role,
    add_user,
    authenticate,
    check_password,
    hash_password,
    set_role,
)


def test_passwords_are_salted_scrypt_hashes_never_plaintext():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt$") and "correct" not in first
    assert first != second  # salted
    assert check_password("correct horse", first)
    assert not check_password("correct hors", first)
    assert not check_password("x", "garbage")
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


def test_users_log_in_by_role_and_roles_nest(engine):
    add_user(engine, "ana", Role.QA, "s3cret-pass", actor="admin")
    assert authenticate(engine, "ana", "s3cret-pass").role is Role.QA
    assert authenticate(engine, "ana", "wrong-pass!") is None
    assert authenticate(engine, "nobody", "s3cret-pass") is None
    assert Role.ADMIN.allows(Role.ENGINEER) and Role.QA.allows(Role.OPERATOR)
    assert not Role.QA.allows(Role.ENGINEER)
    with pytest.raises(StorageError, match="exists already"):
        add_user(engine, "ana", Role.OPERATOR, "another-pass", actor="admin")


def test_changes_are_audited_with_old_and_new_values(engine):
    add_user(engine, "bo", Role.OPERATOR, "pass-word-1", actor="admin")
    set_role(engine, "bo", Role.ENGINEER, actor="admin", reason="line lead")
    append_audit(
        engine,
        actor="bo",
        action="threshold",
        subject="station-1",
        old_value="24.5",
        new_value="23.0",
        reason="too many false rejects",
    )
    entries = audit_entries(engine)
    assert [e.action for e in entries] == ["user.add", "user.role", "threshold"]
    assert (entries[1].old_value, entries[1].new_value, entries[1].reason) == (
        "operator",
        "engineer",
        "line lead",
    )
    check = verify_audit(engine)
    assert check.ok and check.entries == 3


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE audit_log SET new_value = '30.0' WHERE action = 'threshold'",
        "DELETE FROM audit_log WHERE action = 'user.role'",
        "UPDATE audit_log SET actor = 'someone else' WHERE id = 1",
    ],
)
def test_tampering_is_detected_at_the_first_changed_entry(engine, tamper):
    add_user(engine, "bo", Role.OPERATOR, "pass-word-1", actor="admin")
    set_role(engine, "bo", Role.ENGINEER, actor="admin", reason="line lead")
    append_audit(engine, actor="bo", action="threshold", subject="s", old_value="1", new_value="2")
    with engine.begin() as connection:
        connection.execute(text(tamper))
    check = verify_audit(engine)
    assert not check.ok
    assert check.first_bad_id is not None


def test_empty_log_verifies(engine):
    assert verify_audit(engine).ok


def test_stations_appending_at_once_keep_one_unbroken_chain(database_url):
    # Each thread is a station with its own engine (own connections), as in a plant.
    engines = [open_database(database_url) for _ in range(4)]
    start = threading.Barrier(len(engines))
    failures = []

    def station(number, engine):
        start.wait()
        try:
            for i in range(10):
                append_audit(engine, actor=f"station-{number}", action="threshold", subject=str(i))
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    workers = [threading.Thread(target=station, args=item) for item in enumerate(engines)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    entries = audit_entries(engines[0])
    assert len(entries) == 40
    assert len({e.hash for e in entries}) == 40
    assert verify_audit(engines[0]).ok
    for engine in engines:
        engine.dispose()


def test_every_review_is_in_the_audit_log(engine):
    from inspector.core import Verdict
    from inspector.storage.repository import add_inspections
    from inspector.storage.reviews import add_review
    from tests.records import new_record

    [inspection_id] = add_inspections(engine, [new_record(verdict=Verdict.REJECT, score=2.0)])
    add_review(engine, inspection_id, reviewer="qa.kim", decision="false_reject", note="dust")
    [entry] = audit_entries(engine)
    assert (entry.actor, entry.action, entry.old_value, entry.new_value, entry.reason) == (
        "qa.kim",
        "review",
        "reject",
        "false_reject",
        "dust",
    )
    assert verify_audit(engine).ok


def test_audit_verify_command_exit_code_tells_tampering(database_url, capsys):
    from inspector.cli import main

    db = database_url
    engine = open_database(db)
    add_user(engine, "ana", Role.QA, "s3cret-pass", actor="admin")
    assert main(["audit", "verify", "--db", str(db)]) == 0
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET new_value = 'admin'"))
    engine.dispose()
    assert main(["audit", "verify", "--db", str(db)]) == 1
    assert "TAMPERED" in capsys.readouterr().err
