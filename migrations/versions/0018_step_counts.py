"""step_counts: per day, flow step, language and event, how many times (editors' statistics;
counts only, nothing about a person)

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_step_counts"),
        sa.UniqueConstraint("day", "flow", "step", "language", "event",
                            name="uq_step_counts_day_flow_step_language_event"),
    )
    op.create_index("ix_step_counts_day", "step_counts", ["day"])


def downgrade() -> None:
    op.drop_index("ix_step_counts_day", table_name="step_counts")
    op.drop_table("step_counts")
