"""Ids never re-used (SQLite AUTOINCREMENT), a random issue key per registration for voucher
references, inbound failures set aside (messages.failures, failure, set_aside_at), and the keyed
hashes of an erased person's MessageSids (forgotten_messages)

Revision ID: 0015
Revises: 0014
"""
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Everything that concerns a person, or the accounts of what they received.
PERSONAL = ("contacts", "messages", "outbox", "tickets", "ticket_notes", "registrations", "registration_events",
            "invitations", "ledger_vouchers", "ledger_redemptions", "vouchers", "audit_log")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("failure", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("issue_key", sa.String(length=32), nullable=True))
    registrations = sa.table("registrations", sa.column("id", sa.Integer), sa.column("issue_key", sa.String))
    connection = op.get_bind()
    for (registration_id,) in connection.execute(sa.select(registrations.c.id)).all():
        connection.execute(registrations.update().where(registrations.c.id == registration_id)
                           .values(issue_key=secrets.token_hex(16)))
    with op.batch_alter_table("registrations") as batch:
        batch.alter_column("issue_key", existing_type=sa.String(length=32), nullable=False)
        batch.create_unique_constraint(batch.f("uq_registrations_issue_key"), ["issue_key"])
    op.create_table(
        "forgotten_messages",
        sa.Column("sid_key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sid_key", name=op.f("pk_forgotten_messages")),
    )
    op.create_index(op.f("ix_forgotten_messages_at"), "forgotten_messages", ["at"], unique=False)
    if sqlite:  # rebuilt with AUTOINCREMENT, which keeps the highest id ever given (foreign keys off: env.py)
        for table in PERSONAL:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade() -> None:
    op.drop_index(op.f("ix_forgotten_messages_at"), table_name="forgotten_messages")
    op.drop_table("forgotten_messages")
    with op.batch_alter_table("registrations") as batch:
        batch.drop_constraint(batch.f("uq_registrations_issue_key"), type_="unique")
        batch.drop_column("issue_key")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("set_aside_at")
        batch.drop_column("failure")
        batch.drop_column("failures")
