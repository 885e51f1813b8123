"""whatsapp_contents: reply buttons and list pickers created at Twilio's Content API, shared by every process;
messages.language: the language a menu was written in, for its buttons

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    op.create_table(
        "whatsapp_contents",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("content_sid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_whatsapp_contents")),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_contents")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("language")
