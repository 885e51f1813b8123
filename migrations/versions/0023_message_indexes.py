"""message_indexes: drop two indexes no query needs, which every message written kept up to date

`ix_messages_contact_id` repeats the first column of `ix_messages_contact_direction_processed`,
and every query on `tag` also names the contact, so `ix_messages_tag` was never chosen. At a
campaign peak each inbound message, and each reply, paid two index insertions for nothing.

Revision ID: 0023
Revises: 0022
"""
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_index("ix_messages_contact_id")
        batch_op.drop_index("ix_messages_tag")


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.create_index("ix_messages_tag", ["tag"], unique=False)
        batch_op.create_index("ix_messages_contact_id", ["contact_id"], unique=False)
