"""contacts.data_key_id: each person's personal values are encrypted under a data key of their own

The keys live in the keyring (DDA_KEYRING_URL), apart from this database. Values written before
are moved to their person's key by `flask privacy rotate-key` (safe to repeat); until then they
are still read with the key derived from DDA_ENCRYPTION_KEY.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_key_id", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_contacts_data_key_id", ["data_key_id"])


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_contacts_data_key_id", type_="unique")
        batch_op.drop_column("data_key_id")
