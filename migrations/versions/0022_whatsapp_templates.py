"""whatsapp_templates: the approved templates `flask whatsapp sync` made at Twilio's Content API,
per template and language, with WhatsApp's approval state, so the service finds their Content
SIDs without anyone copying them into config.yml

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_templates",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("content_sid", sa.String(64), nullable=False),
        sa.Column("body_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rejection_reason", sa.String(500), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "language", name=op.f("pk_whatsapp_templates")),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_templates")
