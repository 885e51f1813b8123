"""vouchers, ledger, stores, helpdesk notes, contact channel

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:36:32.462630
"""
import sqlalchemy as sa
from alembic import op

import store.personal

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_vouchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('pin', sa.String(length=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('balance_cents', sa.Integer(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_vouchers')),
    sa.UniqueConstraint('code', name=op.f('uq_ledger_vouchers_code')),
    sa.UniqueConstraint('reference', name=op.f('uq_ledger_vouchers_reference'))
    )
    op.create_table('stores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_stores_key_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_stores_name'))
    )
    op.create_table('ledger_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.String(length=64), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('balance_after_cents', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ledger_redemptions_store_id_stores')),
    sa.ForeignKeyConstraint(['voucher_id'], ['ledger_vouchers.id'],
            name=op.f('fk_ledger_redemptions_voucher_id_ledger_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_redemptions')),
    sa.UniqueConstraint('store_id', 'transaction_id', name=op.f('uq_ledger_redemptions_store_id_transaction_id'))
    )
    with op.batch_alter_table('ledger_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_redemptions_voucher_id'), ['voucher_id'], unique=False)

    op.create_table('vouchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('provider_reference', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('pin', sa.String(length=8), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminders', sa.Integer(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_vouchers_contact_id_contacts'),
            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'],
            name=op.f('fk_vouchers_registration_id_registrations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('provider_reference', name=op.f('uq_vouchers_provider_reference')),
    sa.UniqueConstraint('registration_id', 'period', name=op.f('uq_vouchers_registration_id_period'))
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouchers_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_period'), ['period'], unique=False)

    op.create_table('ticket_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=254), nullable=False),
    sa.Column('text', store.personal.PersonalText(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_notes_ticket_id_tickets'),
            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_notes'))
    )
    with op.batch_alter_table('ticket_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_notes_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=16), server_default='whatsapp', nullable=False))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tag', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('author', sa.String(length=254), nullable=True))
        batch_op.create_index(batch_op.f('ix_messages_tag'), ['tag'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_to_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_tickets_assigned_to_id_staff_users'), 'staff_users',
                ['assigned_to_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tickets_assigned_to_id_staff_users'), type_='foreignkey')
        batch_op.drop_column('outcome')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('assigned_to_id')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_tag'))
        batch_op.drop_column('author')
        batch_op.drop_column('tag')

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('channel')

    with op.batch_alter_table('ticket_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_notes_ticket_id'))

    op.drop_table('ticket_notes')
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vouchers_period'))
        batch_op.drop_index(batch_op.f('ix_vouchers_contact_id'))

    op.drop_table('vouchers')
    with op.batch_alter_table('ledger_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_redemptions_voucher_id'))

    op.drop_table('ledger_redemptions')
    op.drop_table('stores')
    op.drop_table('ledger_vouchers')
