"""The voucher provider port, and the embedded provider: a real ledger in the database.

A real issuer's API plugs in by implementing `VoucherProvider`; the program only ever asks
it to issue (idempotently, by reference), for a balance and for transactions.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from settings import DEFAULT_KIND
from store.models import LedgerRedemption, LedgerVoucher, Store, utcnow

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class Issued:
    reference: str
    code: str
    pin: str
    barcode_value: str


@dataclass(frozen=True)
class Transaction:
    at: datetime
    amount_cents: int
    store: str


class RedeemError(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status, self.error = status, error


@dataclass(frozen=True)
class Redeemed:
    code: str
    amount_cents: int
    balance_cents: int
    transaction_id: str
    repeated: bool


class VoucherProvider(Protocol):
    def issue_many(self, session, requests: list[tuple[str, int, str, date]], kind: str = DEFAULT_KIND,
                   ) -> dict[str, Issued]: ...
    def balance(self, session, code: str) -> int: ...
    def transactions(self, session, code: str) -> list[Transaction]: ...
    def revoke(self, session, code: str) -> bool: ...


def _code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"DDA-{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class LocalLedger:
    """Vouchers, balances and till redemptions in this service's own database."""

    def issue_many(self, session, requests: list[tuple[str, int, str, date]], kind: str = DEFAULT_KIND,
                   ) -> dict[str, Issued]:
        """Issue a voucher of `kind` per (reference, amount, currency, valid until); a reference
        issued before returns the voucher it got then, so a retried batch issues nothing twice.
        The kind goes with the voucher to the till, which refuses it in a store not taking it."""
        if not requests:
            return {}
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        rows = [{"reference": ref, "code": _code(), "pin": f"{secrets.randbelow(10000):04d}", "currency": currency,
                 "amount_cents": amount, "balance_cents": amount, "valid_until": until, "kind": kind,
                 "created_at": utcnow()}
                for ref, amount, currency, until in requests]
        session.execute(insert(LedgerVoucher).on_conflict_do_nothing(index_elements=["reference"]), rows)
        found = session.execute(select(LedgerVoucher.reference, LedgerVoucher.code, LedgerVoucher.pin)
                                .where(LedgerVoucher.reference.in_([r[0] for r in requests])))
        return {row.reference: Issued(row.reference, row.code, row.pin, row.code) for row in found}

    def balance(self, session, code: str) -> int:
        """What can still be spent: nothing on a revoked voucher."""
        return session.scalar(select(LedgerVoucher.balance_cents).where(LedgerVoucher.code == code,
                                                                       LedgerVoucher.revoked_at.is_(None))) or 0

    def revoke(self, session, code: str) -> bool:
        """From now on the till refuses this voucher; False if no voucher has this code."""
        return bool(session.execute(update(LedgerVoucher).where(LedgerVoucher.code == code)
                                    .values(revoked_at=func.coalesce(LedgerVoucher.revoked_at, utcnow()))).rowcount)

    def transactions(self, session, code: str) -> list[Transaction]:
        rows = session.execute(select(LedgerRedemption.at, LedgerRedemption.amount_cents, Store.name)
                               .join(LedgerVoucher).join(Store).where(LedgerVoucher.code == code)
                               .order_by(LedgerRedemption.id))
        return [Transaction(at=row.at, amount_cents=row.amount_cents, store=row.name) for row in rows]

    def redeem(self, session, store: Store, code: str, amount_cents: int, currency: str,
               transaction_id: str, today: date | None = None, pin: str | None = None) -> Redeemed:
        """Spend from a voucher atomically; the same store transaction twice spends once.
        `pin`, when the program asks tills for it, must be the voucher's."""
        today = today or utcnow().date()
        voucher = session.scalar(select(LedgerVoucher).where(LedgerVoucher.code == code.strip().upper()))
        if voucher is None:
            raise RedeemError(404, "unknown_code", "no voucher has this code")
        if pin is not None and not hmac.compare_digest(pin.encode(), voucher.pin.encode()):
            raise RedeemError(403, "wrong_pin", "the PIN does not belong to this voucher")
        if voucher.revoked_at is not None:
            raise RedeemError(410, "revoked", "this voucher was withdrawn by the program")
        if not store.accepts(voucher.kind):
            raise RedeemError(403, "wrong_kind", f"this store does not take {voucher.kind} vouchers")
        earlier = session.scalar(select(LedgerRedemption).where(LedgerRedemption.store_id == store.id,
                                                                LedgerRedemption.transaction_id == transaction_id))
        if earlier is not None:
            if earlier.voucher_id != voucher.id or earlier.amount_cents != amount_cents:
                raise RedeemError(409, "transaction_reused", "this transaction id was used for another redemption")
            return Redeemed(voucher.code, earlier.amount_cents, earlier.balance_after_cents, transaction_id, True)
        if currency != voucher.currency:
            raise RedeemError(400, "wrong_currency", f"this voucher is in {voucher.currency}")
        if voucher.valid_until < today:
            raise RedeemError(410, "expired", f"this voucher expired on {voucher.valid_until.isoformat()}")
        spent = session.execute(
            update(LedgerVoucher).where(LedgerVoucher.id == voucher.id, LedgerVoucher.balance_cents >= amount_cents)
            .values(balance_cents=LedgerVoucher.balance_cents - amount_cents)
            .returning(LedgerVoucher.balance_cents)).scalar()
        if spent is None:
            session.rollback()
            balance = self.balance(session, voucher.code)
            raise RedeemError(409, "insufficient_balance", f"only {balance} cents are left on this voucher")
        try:
            with session.begin_nested():
                session.add(LedgerRedemption(voucher_id=voucher.id, store_id=store.id, transaction_id=transaction_id,
                                             amount_cents=amount_cents, balance_after_cents=spent))
        except IntegrityError:  # the same transaction, concurrently: undo this spend, answer as a repeat
            session.rollback()
            return self.redeem(session, store, code, amount_cents, currency, transaction_id, today, pin)
        session.commit()
        return Redeemed(voucher.code, amount_cents, spent, transaction_id, False)
