"""Image retention: mark rows whose stored image was removed by retention or quota.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

Existing records get NULL marks (no image was removed yet). The two partial
indexes hold only rows with an image (retention's candidates) and rows whose
file deletion was interrupted; building them reads every record once.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_KEPT = sa.text("image_path IS NOT NULL")
_PENDING = sa.text("image_removed_at IS NOT NULL AND image_path IS NOT NULL")


def upgrade() -> None:
    """Add the image-removal columns and the indexes retention walks."""
    with op.batch_alter_table("inspections") as batch:
        batch.add_column(sa.Column("image_removed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("image_removed_reason", sa.String(length=128), nullable=True))
    op.create_index(
        "ix_inspections_kept_images",
        "inspections",
        ["verdict", "captured_at"],
        sqlite_where=_KEPT,
        postgresql_where=_KEPT,
    )
    op.create_index(
        "ix_inspections_image_removal_pending",
        "inspections",
        ["id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def downgrade() -> None:
    """Remove them again."""
    op.drop_index("ix_inspections_image_removal_pending", table_name="inspections")
    op.drop_index("ix_inspections_kept_images", table_name="inspections")
    with op.batch_alter_table("inspections") as batch:
        batch.drop_column("image_removed_reason")
        batch.drop_column("image_removed_at")
