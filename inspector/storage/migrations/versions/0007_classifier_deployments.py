"""Classifier deployments: a station's defect classifier is promoted and rolled back too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

``model_deployments.role`` also takes ``classifier``: the classifier run
beside a station's anomaly model gets the same recorded, audited promotion
and rollback as the anomaly model. Existing rows are unchanged.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_NAME = "ck_model_deployments_role"


def upgrade() -> None:
    """Let the role check accept ``classifier``."""
    with op.batch_alter_table("model_deployments") as batch:
        batch.drop_constraint(op.f(_NAME), type_="check")
        batch.create_check_constraint(op.f(_NAME), "role IN ('production', 'shadow', 'classifier')")


def downgrade() -> None:
    """Refuse ``classifier`` again (fails while such rows exist, which is intended)."""
    with op.batch_alter_table("model_deployments") as batch:
        batch.drop_constraint(op.f(_NAME), type_="check")
        batch.create_check_constraint(op.f(_NAME), "role IN ('production', 'shadow')")
