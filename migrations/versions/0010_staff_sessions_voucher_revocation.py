"""staff_sessions (signing out ends a session everywhere its cookie went); revoked vouchers

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_sessions_user_id", "staff_sessions", ["user_id"])
    with op.batch_alter_table("ledger_vouchers") as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_reason", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.drop_column("revoked_reason")
        batch_op.drop_column("revoked_at")
    with op.batch_alter_table("ledger_vouchers") as batch_op:
        batch_op.drop_column("revoked_at")
    op.drop_index("ix_staff_sessions_user_id", "staff_sessions")
    op.drop_table("staff_sessions")
