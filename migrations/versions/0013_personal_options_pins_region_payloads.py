"""Menu options, map pins, a person's region and the buttons they tapped are personal: stored
encrypted like other personal text (the values already there are read as they are and moved
under each person's key by `flask privacy rotate-key`); voucher image links are no longer
stored (the outbox keeps a reference, the link is signed at sending)

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.alter_column("region", type_=sa.Text(), existing_type=sa.String(64))
    with op.batch_alter_table("messages") as batch_op:
        batch_op.alter_column("payload", type_=sa.Text(), existing_type=sa.String(256))
        batch_op.alter_column("options", type_=sa.Text(), existing_type=sa.JSON(), postgresql_using="options::text")
        batch_op.alter_column("location", type_=sa.Text(), existing_type=sa.JSON(), postgresql_using="location::text")
    # Links already sent open a voucher for days: forget them. Messages still waiting keep theirs.
    op.execute("UPDATE messages SET media_url = NULL WHERE media_url LIKE '%/media/vouchers/%' AND id NOT IN "
               "(SELECT message_id FROM outbox WHERE state IN ('pending', 'sending', 'uncertain', 'held'))")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.alter_column("location", type_=sa.JSON(), existing_type=sa.Text(), postgresql_using="location::json")
        batch_op.alter_column("options", type_=sa.JSON(), existing_type=sa.Text(), postgresql_using="options::json")
        batch_op.alter_column("payload", type_=sa.String(256), existing_type=sa.Text())
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.alter_column("region", type_=sa.String(64), existing_type=sa.Text())
