"""conversation_states: conversation state in the database (Redis keeps only locks and the
queue); workers and outbox.claimed_by: a row left `sending` by a stopped worker is recognised

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_states",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE",
                                name=op.f("fk_conversation_states_contact_id_contacts")),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_conversation_states")),
    )
    op.create_index(op.f("ix_conversation_states_updated_at"), "conversation_states", ["updated_at"])
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
    op.drop_table("workers")
    op.drop_index(op.f("ix_conversation_states_updated_at"), table_name="conversation_states")
    op.drop_table("conversation_states")
