"""The append-only, hash-chained audit log: who changed how parts are judged, and when."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Select, select

from inspector.storage.engine import write_transaction
from inspector.storage.schema import AuditRow

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """One audited change, as stored."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    old_value: str | None
    new_value: str | None
    reason: str | None
    hash: str


@dataclass(frozen=True)
class AuditCheck:
    """The result of :func:`verify_audit`."""

    entries: int
    first_bad_id: int | None

    @property
    def ok(self) -> bool:
        """True when every entry's hash matches its content and its predecessor."""
        return self.first_bad_id is None


def entry_hash(prev_hash: str, at: datetime, fields: tuple[str | None, ...]) -> str:
    """SHA-256 over the previous hash and this entry's fields, in a canonical form."""
    stamp = at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    payload = json.dumps([prev_hash, stamp, *fields], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def append_audit(
    engine: Engine,
    *,
    actor: str,
    action: str,
    subject: str,
    old_value: str | None = None,
    new_value: str | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Add an entry chained to the newest one, in a write transaction of its own.

    For changes made outside the database (a station file saved, a model
    folder written); a change stored in the database audits itself inside its
    own transaction with :func:`append_audit_within`.
    """
    with write_transaction(engine) as connection:
        return append_audit_within(
            connection,
            actor=actor,
            action=action,
            subject=subject,
            old_value=old_value,
            new_value=new_value,
            reason=reason,
        )


def append_audit_within(
    connection: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    old_value: str | None = None,
    new_value: str | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Add an entry inside the caller's write transaction (:func:`.engine.writing`).

    A change and its entry then commit together or not at all: a role, a
    deployment or a review cannot be stored unaudited because the audit
    insert failed (a full disk, a lock given up), and the entry's old value
    is read under the same lock as the change. The transaction holds the
    log's write lock before reading the newest hash (SQLite: ``BEGIN
    IMMEDIATE``; PostgreSQL, where stations append at once: a table lock that
    readers pass), so two writers cannot both chain onto the same predecessor.

    Raises:
        ValueError: no actor or action, or ``connection`` is not in a write
            transaction (none, or on SQLite a deferred one, which could fail to
            upgrade its read of the chain's end into a write).
    """
    if not actor or not action:
        msg = "an audit entry needs an actor and an action"
        raise ValueError(msg)
    if not _in_write_transaction(connection):
        msg = "an audit entry is written inside the change's write transaction (writing)"
        raise ValueError(msg)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
    at = datetime.now(UTC)
    fields = (actor, action, subject, old_value, new_value, reason)
    newest = connection.execute(
        select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
    ).scalar()
    prev_hash = newest or GENESIS
    digest = entry_hash(prev_hash, at, fields)
    new_id = connection.execute(
        AuditRow.__table__.insert().values(
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            old_value=old_value,
            new_value=new_value,
            reason=reason,
            prev_hash=prev_hash,
            hash=digest,
        )
    ).inserted_primary_key[0]
    return AuditEntry(new_id, at, actor, action, subject, old_value, new_value, reason, digest)


def _in_write_transaction(connection: Connection) -> bool:
    """Whether ``connection`` is in a transaction that took SQLite's write lock first."""
    if not connection.in_transaction():
        return False
    if connection.dialect.name != "sqlite":
        return True
    return connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE"


def audit_entries(engine: Engine, *, limit: int | None = None) -> list[AuditEntry]:
    """Entries oldest first (the newest ``limit`` when given)."""
    statement = select(AuditRow).order_by(AuditRow.id.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return list(reversed(read_entries(engine, statement)))


def read_entries(engine: Engine, statement: Select) -> list[AuditEntry]:
    """The entries a ``select(AuditRow)`` statement finds, in its order."""
    with engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
    return [AuditEntry(**{f: r[f] for f in _ENTRY_FIELDS}) for r in rows]


_ENTRY_FIELDS = (
    "id",
    "at",
    "actor",
    "action",
    "subject",
    "old_value",
    "new_value",
    "reason",
    "hash",
)


def verify_audit(engine: Engine) -> AuditCheck:
    """Recompute the chain; the first entry whose hash does not match is reported."""
    prev_hash = GENESIS
    count = 0
    with engine.connect() as connection:
        rows = connection.execute(select(AuditRow).order_by(AuditRow.id)).mappings()
        for row in rows:
            count += 1
            fields = (
                row["actor"],
                row["action"],
                row["subject"],
                row["old_value"],
                row["new_value"],
                row["reason"],
            )
            expected = entry_hash(prev_hash, row["at"], fields)
            if row["prev_hash"] != prev_hash or row["hash"] != expected:
                return AuditCheck(entries=count, first_bad_id=row["id"])
            prev_hash = row["hash"]
    return AuditCheck(entries=count, first_bad_id=None)
