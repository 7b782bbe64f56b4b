"""Traceability: the part's own serial or lot number on every inspection.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Existing records get NULL (no serial was read for them).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``inspections.serial`` and its index (QA finds a part by its serial)."""
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("serial", sa.String(length=128), nullable=True))
    op.create_index("ix_inspections_serial", "inspections", ["serial"])


def downgrade() -> None:
    """Drop the serial column and its index."""
    op.drop_index("ix_inspections_serial", table_name="inspections")
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("serial")
