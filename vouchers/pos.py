"""The supermarket point-of-sale endpoint of the embedded provider: the till spends from a
voucher. Every refusal says what is wrong in a stable error name and a sentence."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from store.models import Store
from vouchers.provider import RedeemError, hash_key

log = logging.getLogger(__name__)
blueprint = Blueprint("pos", __name__, url_prefix="/api/pos")
MAX_AMOUNT_CENTS = 1_000_000  # no supermarket payment is ten thousand euros; larger numbers are mistakes


def _error(status: int, error: str, message: str):
    return jsonify(error=error, message=message), status


@blueprint.post("/redeem")
def redeem():
    runtime = current_app.extensions["dda"]
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        return _error(401, "unauthorized", "send the store's key as 'Authorization: Bearer <key>'")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _error(400, "bad_request", "the body must be a JSON object")
    code, amount, currency, transaction, pin = (data.get(k) for k in ("code", "amount_cents", "currency",
                                                                      "transaction_id", "pin"))
    if not isinstance(code, str) or not code.strip() or len(code) > 32 or not code.isprintable():
        return _error(400, "bad_request", "code must be the voucher's code")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT_CENTS:
        return _error(400, "bad_request", f"amount_cents must be a whole number of cents from 1 to {MAX_AMOUNT_CENTS}")
    if runtime.settings.vouchers.till_pin and (not isinstance(pin, str) or not pin.isdigit() or len(pin) > 8):
        return _error(400, "bad_request", "pin must be the voucher's PIN: this program asks tills for it")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        return _error(400, "bad_request", "currency must be a three-letter code such as EUR")
    if not isinstance(transaction, str) or not 0 < len(transaction) <= 64 or not transaction.isprintable():
        return _error(400, "bad_request", "transaction_id must be the till's id for this payment (up to 64 characters)")
    with runtime.session() as session:
        store = session.scalar(select(Store).where(Store.key_hash == hash_key(header[7:].strip())))
        if store is None:
            return _error(401, "unauthorized", "unknown store key")
        if store.disabled_at is not None:
            return _error(403, "store_disabled", "this store's key was disabled; ask the program for a new one")
        try:
            result = runtime.vouchers.redeem(session, store, code, amount, currency.upper(), transaction,
                                             pin=pin if runtime.settings.vouchers.till_pin else None)
        except RedeemError as error:
            log.info("pos refusal: %s", error.error)
            return _error(error.status, error.error, str(error))
    log.info("pos redemption%s", " (repeat)" if result.repeated else "")
    return jsonify(code=result.code, amount_cents=result.amount_cents, balance_cents=result.balance_cents,
                   currency=currency.upper(), transaction_id=result.transaction_id, repeated=result.repeated)
