"""content_releases.kind and .number: flows (with their texts) are published and rolled back the
same way as referral content, in the same table, each kind numbered 1, 2, 3...; rows from before
are referral content releases, numbered by their id

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("content_releases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="referrals"))
        batch_op.add_column(sa.Column("note", sa.String(length=500), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("number", sa.Integer(), nullable=True))
    op.execute("UPDATE content_releases SET number = id")
    with op.batch_alter_table("content_releases", schema=None) as batch_op:
        batch_op.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_content_releases_kind_number"), ["kind", "number"])


def downgrade() -> None:
    op.execute("DELETE FROM content_releases WHERE kind != 'referrals'")
    with op.batch_alter_table("content_releases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_content_releases_kind_number"), type_="unique")
        batch_op.drop_column("number")
        batch_op.drop_column("note")
        batch_op.drop_column("kind")
