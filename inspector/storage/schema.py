"""Database tables for inspection records (SQLAlchemy 2.0 declarative mapping).

The schema is the contract with the Alembic migrations in
``inspector/storage/migrations``: any change here needs a new revision there,
and a test checks that the migrated database equals ``Base.metadata``.

ORM classes never leave ``inspector.storage``: repositories turn rows into the
frozen ``inspector.core`` types, so that no thread ever holds a live row.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names, so that migrations can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

VERDICT_VALUES = ("accept", "reject", "review")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    SQLite has no time zone type: values are stored as naive UTC text, which
    also keeps them sortable as strings. Other databases get an aware value.
    A naive value is taken to be UTC already, as ``Frame.captured_at`` promises.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC (naive for SQLite, whose text format has no offset)."""
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what the database returns."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base holding the metadata that migrations are checked against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class InspectionRow(Base):
    """One inspected part: the verdict and everything needed to explain it later."""

    __tablename__ = "inspections"
    __table_args__ = (
        Index("ix_inspections_verdict_captured_at", "verdict", "captured_at"),
        CheckConstraint(f"verdict IN {VERDICT_VALUES!r}", name="verdict"),
        # Ids are cited in reports and exports: never reuse one after a deletion.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    station: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64))
    part_id: Mapped[int] = mapped_column(BigInteger)
    verdict: Mapped[str] = mapped_column(String(8))
    # NULL means the part was not scored (a fail-safe verdict), never a score of 0.
    score: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(128))
    rules_version: Mapped[str] = mapped_column(String(64))
    inference_ms: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # Relative to the image store root, so that the data folder can be moved.
    image_path: Mapped[str | None] = mapped_column(String(512))
    # The part's own serial or lot number (code on the part, PLC), for traceability.
    serial: Mapped[str | None] = mapped_column(String(128), index=True)
    # Set when retention or the disk quota deleted the image (revision 0006). The row
    # is marked before the file goes and ``image_path`` is cleared after, so a row never
    # names a missing file unmarked; ``image_path`` is never cleared without the mark.
    image_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    image_removed_reason: Mapped[str | None] = mapped_column(String(128))
    # The frame's grey levels (migration 0008): the lighting trend in Reports.
    grey_mean: Mapped[float | None] = mapped_column(Float)
    grey_spread: Mapped[float | None] = mapped_column(Float)

    defects: Mapped[list[DefectRow]] = relationship(
        back_populates="inspection",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="DefectRow.id",
    )


class DefectRow(Base):
    """One defect region of an inspected part; the box and area are the record.

    Contours stay out of the database: they are large, and the stored image
    plus the box is enough for a person to review the part.
    """

    __tablename__ = "defects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    w: Mapped[int] = mapped_column(Integer)
    h: Mapped[int] = mapped_column(Integer)
    area_px: Mapped[int] = mapped_column(Integer)

    inspection: Mapped[InspectionRow] = relationship(back_populates="defects")


REVIEW_DECISIONS = ("confirm", "false_reject", "reclassify")


class ReviewRow(Base):
    """One person's judgement of an inspected part; append-only, the newest row counts.

    A review never changes ``inspections.verdict``: the machine's decision stays
    the record of what the line did, and the reviews beside it are what the
    escape / false-reject reports and the retraining data are made of. A second
    opinion is a new row, so who changed their mind, and when, stays visible.
    Ids are never reused, so a later audit trail or model update can cite them.
    """

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(f"decision IN {REVIEW_DECISIONS!r}", name="decision"),
        # A part judged good has no defect class; a reclassified one must name its class.
        CheckConstraint(
            "(decision = 'false_reject' AND defect_class IS NULL) "
            "OR (decision = 'reclassify' AND defect_class IS NOT NULL) "
            "OR decision = 'confirm'",
            name="defect_class",
        ),
        # The corrected box is all four numbers or none.
        CheckConstraint(
            "(box_x IS NULL AND box_y IS NULL AND box_w IS NULL AND box_h IS NULL) "
            "OR (box_x IS NOT NULL AND box_y IS NOT NULL AND box_w > 0 AND box_h > 0)",
            name="box",
        ),
        CheckConstraint("reviewer <> ''", name="reviewer"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Indexed: "latest review of this part" and "reviewed or not" are probes by part.
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE"), index=True
    )
    reviewer: Mapped[str] = mapped_column(String(64))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decision: Mapped[str] = mapped_column(String(16))
    defect_class: Mapped[str | None] = mapped_column(String(64))
    box_x: Mapped[int | None] = mapped_column(Integer)
    box_y: Mapped[int | None] = mapped_column(Integer)
    box_w: Mapped[int | None] = mapped_column(Integer)
    box_h: Mapped[int | None] = mapped_column(Integer)
    # A brush mask drawn by the reviewer, relative to the image store root (255 = defect).
    mask_path: Mapped[str | None] = mapped_column(String(512))
    note: Mapped[str | None] = mapped_column(Text)


ROLE_VALUES = ("operator", "qa", "engineer", "admin")


class UserRow(Base):
    """A person who may act on the system, with one role (revision 0004).

    Only a salted scrypt hash of the password is kept. Users are deactivated,
    never deleted, so audit entries keep naming someone who existed.
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role"),
        CheckConstraint("name <> ''", name="name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """One change to how parts are judged or who may judge them (revision 0004).

    Append-only and hash-chained: ``hash`` covers this entry's fields and the
    previous entry's hash, so editing or deleting any entry breaks every hash
    after it, which ``verify_audit`` reports.
    """

    __tablename__ = "audit_log"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


DEPLOYMENT_ROLES = ("production", "shadow", "classifier")
DEPLOYMENT_ACTIONS = ("promote", "rollback", "shadow_start", "shadow_stop")


class DeploymentRow(Base):
    """One change of the model a station runs, its classifier, or the model shadowing it
    (revision 0005; the classifier role since 0007).

    Append-only: the station's production model is the newest production
    promotion not undone by a rollback, its shadow the newest ``shadow_start``
    not followed by a ``shadow_stop``. Each row also goes to the audit log.
    """

    __tablename__ = "model_deployments"
    __table_args__ = (
        CheckConstraint(f"role IN {DEPLOYMENT_ROLES!r}", name="role"),
        CheckConstraint(f"action IN {DEPLOYMENT_ACTIONS!r}", name="action"),
        CheckConstraint("actor <> ''", name="actor"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    station: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    model_path: Mapped[str | None] = mapped_column(String(512))
    model_version: Mapped[str | None] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    # The compare / evaluate report the decision was based on (JSON), if one was given.
    metrics: Mapped[str | None] = mapped_column(Text)


class ShadowVerdictRow(Base):
    """What a shadow (candidate) model made of one inspected part (revision 0005).

    It drives nothing: the gate and ``inspections.verdict`` are production's.
    ``verdict`` is NULL when the part was not shadowed (the shadow was behind
    or failed), and ``error`` says why, so the comparison counts every part.
    """

    __tablename__ = "shadow_verdicts"
    __table_args__ = (
        CheckConstraint(f"verdict IN {VERDICT_VALUES!r}", name="verdict"),
        CheckConstraint("(verdict IS NULL) = (error IS NOT NULL)", name="verdict_or_error"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE"), index=True
    )
    model_version: Mapped[str] = mapped_column(String(128), index=True)
    verdict: Mapped[str | None] = mapped_column(String(8))
    score: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    inference_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


# Indexes for the history filters (revision 0002). Each pairs an equality filter
# with the capture time, so that "newest first" pages of one station or camera
# are read in index order and stop after one page instead of sorting every match.
Index("ix_inspections_station_captured_at", InspectionRow.station, InspectionRow.captured_at)
Index("ix_inspections_camera_id_captured_at", InspectionRow.camera_id, InspectionRow.captured_at)
Index(
    "ix_inspections_model_version_captured_at",
    InspectionRow.model_version,
    InspectionRow.captured_at,
)
# Sorting by score (worst parts first) pages through this index.
Index("ix_inspections_score", InspectionRow.score)
# Reports count parts per verdict and sum good-part scores per time bucket from
# the index alone (covering), overall or per station, without reading the rows.
Index(
    "ix_inspections_verdict_captured_at_score",
    InspectionRow.verdict,
    InspectionRow.captured_at,
    InspectionRow.score,
)
Index(
    "ix_inspections_station_verdict_captured_at_score",
    InspectionRow.station,
    InspectionRow.verdict,
    InspectionRow.captured_at,
    InspectionRow.score,
)
# The lighting trend sums parts' grey levels per time bucket from the index alone, overall
# or per station (revision 0008): one index, station checked inside it, costs the writer
# half of what two would.
Index(
    "ix_inspections_captured_at_station_grey_mean",
    InspectionRow.captured_at,
    InspectionRow.station,
    InspectionRow.grey_mean,
)
# "Parts with a scratch": counted from that class's defects, checked per part while paging.
Index("ix_defects_kind_inspection_id", DefectRow.kind, DefectRow.inspection_id)
# Retention and the quota walk the parts that still hold an image, oldest first per
# verdict; most rows hold none (goods are sampled), so the index holds only those that do
# (revision 0006). Marked rows whose file deletion was interrupted are found the same way.
Index(
    "ix_inspections_kept_images",
    InspectionRow.verdict,
    InspectionRow.captured_at,
    sqlite_where=InspectionRow.image_path.is_not(None),
    postgresql_where=InspectionRow.image_path.is_not(None),
)
# Rows marked whose file deletion did not finish (a crash between the two): normally
# none, so this index is empty and the next pass finds them at no cost.
_REMOVAL_PENDING = InspectionRow.image_removed_at.is_not(None) & InspectionRow.image_path.is_not(
    None
)
Index(
    "ix_inspections_image_removal_pending",
    InspectionRow.id,
    sqlite_where=_REMOVAL_PENDING,
    postgresql_where=_REMOVAL_PENDING,
)
