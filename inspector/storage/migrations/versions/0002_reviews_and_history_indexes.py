"""Reviews of inspected parts, and the indexes that history filters and reports need.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-10

Building the indexes reads every existing record once: on a database with
millions of parts, the first open after the upgrade takes some seconds.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``reviews`` and the history indexes on ``inspections`` and ``defects``."""
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("defect_class", sa.String(length=64), nullable=True),
        sa.Column("box_x", sa.Integer(), nullable=True),
        sa.Column("box_y", sa.Integer(), nullable=True),
        sa.Column("box_w", sa.Integer(), nullable=True),
        sa.Column("box_h", sa.Integer(), nullable=True),
        sa.Column("mask_path", sa.String(length=512), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "decision IN ('confirm', 'false_reject', 'reclassify')",
            name=op.f("ck_reviews_decision"),
        ),
        sa.CheckConstraint(
            "(decision = 'false_reject' AND defect_class IS NULL) "
            "OR (decision = 'reclassify' AND defect_class IS NOT NULL) "
            "OR decision = 'confirm'",
            name=op.f("ck_reviews_defect_class"),
        ),
        sa.CheckConstraint(
            "(box_x IS NULL AND box_y IS NULL AND box_w IS NULL AND box_h IS NULL) "
            "OR (box_x IS NOT NULL AND box_y IS NOT NULL AND box_w > 0 AND box_h > 0)",
            name=op.f("ck_reviews_box"),
        ),
        sa.CheckConstraint("reviewer <> ''", name=op.f("ck_reviews_reviewer")),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name="fk_reviews_inspection_id_inspections",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reviews_inspection_id", "reviews", ["inspection_id"])
    op.create_index("ix_inspections_station_captured_at", "inspections", ["station", "captured_at"])
    op.create_index(
        "ix_inspections_camera_id_captured_at", "inspections", ["camera_id", "captured_at"]
    )
    op.create_index(
        "ix_inspections_model_version_captured_at",
        "inspections",
        ["model_version", "captured_at"],
    )
    op.create_index("ix_inspections_score", "inspections", ["score"])
    op.create_index(
        "ix_inspections_verdict_captured_at_score",
        "inspections",
        ["verdict", "captured_at", "score"],
    )
    op.create_index(
        "ix_inspections_station_verdict_captured_at_score",
        "inspections",
        ["station", "verdict", "captured_at", "score"],
    )
    op.create_index("ix_defects_kind_inspection_id", "defects", ["kind", "inspection_id"])


def downgrade() -> None:
    """Drop what ``upgrade`` created (loses all reviews; inspections are untouched)."""
    op.drop_index("ix_defects_kind_inspection_id", table_name="defects")
    op.drop_index("ix_inspections_station_verdict_captured_at_score", table_name="inspections")
    op.drop_index("ix_inspections_verdict_captured_at_score", table_name="inspections")
    op.drop_index("ix_inspections_score", table_name="inspections")
    op.drop_index("ix_inspections_model_version_captured_at", table_name="inspections")
    op.drop_index("ix_inspections_camera_id_captured_at", table_name="inspections")
    op.drop_index("ix_inspections_station_captured_at", table_name="inspections")
    op.drop_index("ix_reviews_inspection_id", table_name="reviews")
    op.drop_table("reviews")
