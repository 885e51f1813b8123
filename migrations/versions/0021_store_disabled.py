"""stores.disabled_at and disabled_by: a supermarket that leaves the program (or whose till key
leaked) is disabled, never deleted, so its past redemptions keep their store

Revision ID: 0021
Revises: 0020
"""
import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores") as batch_op:
        batch_op.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("disabled_by", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stores") as batch_op:
        batch_op.drop_column("disabled_by")
        batch_op.drop_column("disabled_at")
