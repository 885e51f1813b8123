"""stores.kinds and ledger_vouchers.kind: a store's key spends only the kinds of voucher it takes

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stores") as batch_op:
        batch_op.add_column(sa.Column("kinds", sa.String(200), nullable=False, server_default="supermarket"))
    with op.batch_alter_table("ledger_vouchers") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(32), nullable=False, server_default="supermarket"))


def downgrade() -> None:
    with op.batch_alter_table("ledger_vouchers") as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("stores") as batch_op:
        batch_op.drop_column("kinds")
