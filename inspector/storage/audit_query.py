"""Finding audit entries: by kind of change, by who, by time, newest first.

``audit.py`` appends and verifies the chain; this module only reads, for the
GUI's audit tab and its CSV export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from inspector.storage.audit import AuditEntry, read_entries
from inspector.storage.schema import AuditRow

DEFAULT_LIMIT = 5000


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show; ``None`` fields do not filter.

    Attributes:
        action: One kind of change (``review``, ``user.role``, ...).
        actor: Who made it.
        start: Entries at or after this time.
        end: Entries before this time.
    """

    action: str | None = None
    actor: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            msg = f"the audit filter's end ({self.end}) must be after its start ({self.start})"
            raise ValueError(msg)


def find_audit_entries(
    engine: Engine, filt: AuditFilter = AuditFilter(), *, limit: int | None = DEFAULT_LIMIT
) -> list[AuditEntry]:
    """Entries matching ``filt``, newest first, at most ``limit`` of them."""
    statement = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if filt.action:
        statement = statement.where(AuditRow.action == filt.action)
    if filt.actor:
        statement = statement.where(AuditRow.actor == filt.actor)
    if filt.start is not None:
        statement = statement.where(AuditRow.at >= filt.start)
    if filt.end is not None:
        statement = statement.where(AuditRow.at < filt.end)
    return read_entries(engine, statement)


def audit_choices(engine: Engine) -> tuple[list[str], list[str]]:
    """The kinds of change and the actors that occur in the log, for the filter lists."""
    with engine.connect() as connection:
        actions = connection.execute(
            select(AuditRow.action).distinct().order_by(AuditRow.action)
        ).scalars()
        actors = connection.execute(
            select(AuditRow.actor).distinct().order_by(AuditRow.actor)
        ).scalars()
        return list(actions), list(actors)
