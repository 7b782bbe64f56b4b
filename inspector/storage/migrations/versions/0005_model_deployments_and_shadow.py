"""Model deployments per station (promotion, rollback) and shadow-model verdicts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the deployment and shadow-verdict tables."""
    op.create_table(
        "model_deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("model_path", sa.String(length=512), nullable=True),
        sa.Column("model_version", sa.String(length=128), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("metrics", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "role IN ('production', 'shadow')", name=op.f("ck_model_deployments_role")
        ),
        sa.CheckConstraint(
            "action IN ('promote', 'rollback', 'shadow_start', 'shadow_stop')",
            name=op.f("ck_model_deployments_action"),
        ),
        sa.CheckConstraint("actor <> ''", name=op.f("ck_model_deployments_actor")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_deployments")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_model_deployments_station"), "model_deployments", ["station"], unique=False
    )
    op.create_table(
        "shadow_verdicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("inspection_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("inference_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "verdict IN ('accept', 'reject', 'review')", name=op.f("ck_shadow_verdicts_verdict")
        ),
        sa.CheckConstraint(
            "(verdict IS NULL) = (error IS NOT NULL)",
            name=op.f("ck_shadow_verdicts_verdict_or_error"),
        ),
        sa.ForeignKeyConstraint(
            ["inspection_id"],
            ["inspections.id"],
            name=op.f("fk_shadow_verdicts_inspection_id_inspections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_verdicts")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_shadow_verdicts_inspection_id"), "shadow_verdicts", ["inspection_id"], unique=False
    )
    op.create_index(
        op.f("ix_shadow_verdicts_model_version"), "shadow_verdicts", ["model_version"], unique=False
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f("ix_shadow_verdicts_model_version"), table_name="shadow_verdicts")
    op.drop_index(op.f("ix_shadow_verdicts_inspection_id"), table_name="shadow_verdicts")
    op.drop_table("shadow_verdicts")
    op.drop_index(op.f("ix_model_deployments_station"), table_name="model_deployments")
    op.drop_table("model_deployments")
