"""Twilio's HTTP callbacks: inbound WhatsApp messages and delivery status.

Once a message is stored the answer is 200, whatever the queue does: a job that cannot be
queued is queued by the workers' sweeper (delivery/tasks.py) as soon as the queue is back, so
Twilio never retries a message we already have.

Both routes check X-Twilio-Signature against the public URL (PUBLIC_BASE_URL), because
behind a TLS proxy the URL Flask sees is not the one Twilio signed. Without an auth token
they refuse everything: an unchecked webhook would let anyone speak for anyone.
"""
from __future__ import annotations

import functools
import hmac
import logging

from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator

from channels.twilio_payload import BadRequest, read_error_code, read_inbound, read_sid
from delivery.send import valid_callback_key
from delivery.status import record_status
from inbox.receive import receive

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio", __name__, url_prefix="/twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@functools.lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


class _Params(dict[str, list[str]]):
    """The form as the validator reads it fastest: it asks each parameter for `getall` first and
    falls back through two exceptions per parameter (a third of its time on a plain dict)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _signed(token: str, url: str, params: _Params, signature: str) -> bool:
    """Twilio signs the URL as it called it: that one signature is computed once; only when it
    does not match are the library's other forms of the URL (with or without the port) tried."""
    validator = _validator(token)
    if hmac.compare_digest(validator.compute_signature(url, params), signature):
        return True
    return bool(validator.validate(url, params, signature))


def _twiml(status: int = 200) -> Response:
    return Response(EMPTY_TWIML, status=status, mimetype="application/xml")


@blueprint.before_request
def _verify_signature():
    runtime = current_app.extensions["dda"]
    token = runtime.settings.secrets.twilio_auth_token
    if not token:
        log.warning("twilio request refused: TWILIO_AUTH_TOKEN is not set")
        return Response("Twilio routes are disabled: TWILIO_AUTH_TOKEN is not set\n", status=403)
    url = runtime.settings.connections.public_base_url + request.full_path.rstrip("?")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not _signed(token, url, _Params(request.form.lists()), signature):
        log.warning("twilio request refused: bad signature on %s", request.path)
        return Response("invalid signature\n", status=403)
    return None


@blueprint.post("/whatsapp")
def inbound():
    runtime = current_app.extensions["dda"]
    settings = runtime.settings
    try:
        # A plain dict: a MultiDict builds an exception for each parameter a message lacks.
        received = read_inbound(request.form.to_dict(), settings.program.default_region,
                                settings.conversation.max_inbound_chars)
    except BadRequest as error:
        log.info("inbound refused: %s", error)
        return Response(f"{error}\n", status=400)
    stored = receive(runtime, received)
    if stored is None:
        log.info("inbound replay of an erased person's message dropped")
        return _twiml()
    if stored.waiting:  # a retry of a message still unprocessed may be one whose job was lost
        runtime.tasks.arrived(stored.contact_id)
    # A message stored as it came is counted by the metrics (dda_webhook_seconds), not logged line by
    # line: at a campaign peak that line was a twentieth of the webhook's time. The unusual ones are.
    unusual = not stored.new or received.truncated
    log.log(logging.INFO if unusual else logging.DEBUG, "inbound %s: kind=%s%s", "stored" if stored.new else
            "duplicate", received.kind, " truncated" if received.truncated else "")
    return _twiml()


@blueprint.post("/status")
def status():
    runtime = current_app.extensions["dda"]
    state = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").strip()
    try:
        sid, error_code = read_sid(request.form), read_error_code(request.form)
    except BadRequest as error:
        return Response(f"{error}\n", status=400)
    if not state or len(state) > 32:
        return Response("MessageStatus is required\n", status=400)
    outcome = record_status(runtime, sid, state.lower(), error_code, outbox_id=_outbox_named(runtime))
    log.info("status %s: %s", state, outcome)
    return Response(status=204)


def _outbox_named(runtime) -> int | None:
    """The outbox row our status callback URL names (`?outbox=<id>&key=<hmac>`), if its key is right."""
    outbox, key = request.args.get("outbox", ""), request.args.get("key", "")
    if not (outbox.isascii() and outbox.isdigit() and len(outbox) <= 18) or not key:
        return None
    if not valid_callback_key(runtime, int(outbox), key):
        log.warning("status callback with a wrong outbox key ignored")
        return None
    return int(outbox)
