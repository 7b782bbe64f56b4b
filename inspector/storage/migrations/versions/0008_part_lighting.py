"""Each part's lighting: the mean and spread of its frame's grey levels.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

The lighting check (``inspector.ml.lighting``) measures every frame; storing
the two numbers lets Reports chart the lighting over time, where a lamp that
dims shows long before frames leave the model's taught range. Existing
records get NULL (not measured). One covering index lets the chart sum them
per time bucket, overall or per station, without reading the rows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two grey-level columns."""
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("grey_mean", sa.Float(), nullable=True))
        batch.add_column(sa.Column("grey_spread", sa.Float(), nullable=True))
    op.create_index(
        "ix_inspections_captured_at_station_grey_mean",
        "inspections",
        ["captured_at", "station", "grey_mean"],
    )


def downgrade() -> None:
    """Remove them again."""
    op.drop_index("ix_inspections_captured_at_station_grey_mean", table_name="inspections")
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("grey_spread")
        batch.drop_column("grey_mean")
