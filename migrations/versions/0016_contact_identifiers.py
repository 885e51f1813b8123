"""contact_identifiers: a person is found by any of their identifiers (phone number, WhatsApp
business-scoped user ID); contacts.phone_key and contacts.phone move there

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

import store.personal

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", store.personal.PersonalText(), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE",
                                name=op.f("fk_contact_identifiers_contact_id_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_identifiers")),
        sa.UniqueConstraint("key", name=op.f("uq_contact_identifiers_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("contact_identifiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_identifiers_contact_id"), ["contact_id"], unique=False)
    # The hash and the encrypted number move as they are: same key, same secret, nothing to decrypt.
    op.execute("INSERT INTO contact_identifiers (contact_id, kind, key, value, last_inbound_at, created_at) "
               "SELECT id, 'phone', phone_key, phone, last_inbound_at, created_at FROM contacts")
    with op.batch_alter_table("contacts", schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_constraint("uq_contacts_phone_key", type_="unique")
        batch_op.drop_column("phone_key")
        batch_op.drop_column("phone")


def downgrade() -> None:
    """Back to one number per contact: people known only by a WhatsApp user ID cannot be kept."""
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("phone", store.personal.PersonalText(), nullable=True))
    first_phone = ("FROM contact_identifiers i WHERE i.contact_id = contacts.id AND i.kind = 'phone' "
                   "ORDER BY i.id LIMIT 1")
    op.execute(f"UPDATE contacts SET phone_key = (SELECT key {first_phone}), phone = (SELECT value {first_phone})")
    op.execute("DELETE FROM contacts WHERE phone_key IS NULL")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("phone_key", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("phone", existing_type=store.personal.PersonalText(), nullable=False)
        batch_op.create_unique_constraint("uq_contacts_phone_key", ["phone_key"])
    with op.batch_alter_table("contact_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_identifiers_contact_id"))
    op.drop_table("contact_identifiers")
