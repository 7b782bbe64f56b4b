"""Initial schema: inspections and their defects.

Revision ID: 0001
Revises:
Create Date: 2026-05-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``inspections`` and ``defects`` with their indexes."""
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("part_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("rules_version", sa.String(length=64), nullable=False),
        sa.Column("inference_ms", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("image_path", sa.String(length=512), nullable=True),
        sa.CheckConstraint(
            "verdict IN ('accept', 'reject', 'review')", name=op.f("ck_inspections_verdict")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inspections"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inspections_captured_at", "inspections", ["captured_at"])
    op.create_index("ix_inspections_verdict_captured_at", "inspections", ["verdict", "captured_at"])
    op.create_table(
        "defects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("x", sa.Integer(), nullable=False),
        sa.Column("y", sa.Integer(), nullable=False),
        sa.Column("w", sa.Integer(), nullable=False),
        sa.Column("h", sa.Integer(), nullable=False),
        sa.Column("area_px", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name="fk_defects_inspection_id_inspections",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_defects"),
    )
    op.create_index("ix_defects_inspection_id", "defects", ["inspection_id"])


def downgrade() -> None:
    """Drop everything ``upgrade`` created (loses all records)."""
    op.drop_index("ix_defects_inspection_id", table_name="defects")
    op.drop_table("defects")
    op.drop_index("ix_inspections_verdict_captured_at", table_name="inspections")
    op.drop_index("ix_inspections_captured_at", table_name="inspections")
    op.drop_table("inspections")
