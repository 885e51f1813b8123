"""registrations.no_whatsapp and consent_by, vouchers.handed_out_at and handed_out_by: the weekly
desk registers people (some without WhatsApp, served on paper) and hands out printed vouchers

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registrations") as batch_op:
        batch_op.add_column(sa.Column("no_whatsapp", sa.Boolean(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("consent_by", sa.String(254), nullable=True))
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.add_column(sa.Column("handed_out_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handed_out_by", sa.String(254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.drop_column("handed_out_by")
        batch_op.drop_column("handed_out_at")
    with op.batch_alter_table("registrations") as batch_op:
        batch_op.drop_column("consent_by")
        batch_op.drop_column("no_whatsapp")
