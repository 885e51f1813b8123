"""vouchers.kind and registrations.flags: today's single voucher becomes the default kind
(supermarket); one voucher per person, kind and period

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every voucher issued before kinds existed is the weekly supermarket voucher: the server
    # default labels them all, as 0014 labelled their ledger side and the stores.
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(32), nullable=False, server_default="supermarket"))
        batch_op.drop_constraint("uq_vouchers_registration_id_period", type_="unique")
        batch_op.create_unique_constraint("uq_vouchers_registration_id_kind_period",
                                          ["registration_id", "kind", "period"])
    with op.batch_alter_table("registrations") as batch_op:
        batch_op.add_column(sa.Column("flags", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("registrations") as batch_op:
        batch_op.drop_column("flags")
    # Vouchers of other kinds have no place under one-per-person-and-week: rather than drop
    # what people may still spend, the downgrade stops.
    if op.get_bind().scalar(sa.text("SELECT count(*) FROM vouchers WHERE kind <> 'supermarket'")):
        raise RuntimeError("vouchers of kinds other than supermarket exist; they would be lost by this downgrade")
    with op.batch_alter_table("vouchers") as batch_op:
        batch_op.drop_constraint("uq_vouchers_registration_id_kind_period", type_="unique")
        batch_op.create_unique_constraint("uq_vouchers_registration_id_period", ["registration_id", "period"])
        batch_op.drop_column("kind")
