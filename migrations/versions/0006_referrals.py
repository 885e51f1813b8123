"""referral information: a person's region, map pins on messages, published content, feedback per offer

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=64), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("location", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "content_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=254), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("bundle", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_releases")),
    )
    op.create_table(
        "referral_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offer", sa.String(length=128), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_feedback")),
    )
    with op.batch_alter_table("referral_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_feedback_offer"), ["offer"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("referral_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_feedback_offer"))
    op.drop_table("referral_feedback")
    op.drop_table("content_releases")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("location")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("region")
