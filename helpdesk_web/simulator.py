"""A phone in the browser: staff write to the bot as a person would, and see what comes back.

A message goes through the same pipeline as WhatsApp and `flask chat`: read_inbound (with a
"local:" sender, so the contact is made with channel "local"), receive, the process_contact
job. Replies are read back from the database rather than from the local channel, so a
helper's answer from the console shows up here exactly as the person would get it. Nothing
sent to a local contact leaves the service (Runtime.channel_for).
"""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from channels.twilio_payload import BadRequest, read_inbound
from helpdesk_web.conversation import conversation
from inbox.receive import receive
from staff.auth import role_required
from store.models import Contact, Ticket
from store.personal import lookup_keys

# Everyone on the staff side but partner organisations, who only see the people they referred.
ROLES = ("admin", "supervisor", "agent", "editor")
DEFAULT_PHONE = "+31600000000"
REFRESH_SECONDS = 2

blueprint = Blueprint("simulator", __name__, url_prefix="/simulator")


class Refused(ValueError):
    """The simulator cannot write from this number; the text says why, for the staff member."""


def _runtime():
    return current_app.extensions["dda"]


@blueprint.before_request
def _only_where_enabled():
    """A test phone inside a production service could write as anyone: off unless asked for."""
    if not _runtime().settings.simulator_on:
        abort(404)


def simulated_phone(raw: str | None) -> str:
    """The number in E.164, read exactly as `flask chat` reads it."""
    settings = _runtime().settings
    try:
        return read_inbound({"MessageSid": "LOCALCHECK", "From": f"local:{(raw or '').strip()}", "Body": "x"},
                            settings.program.default_region, 10).phone
    except BadRequest as error:
        raise Refused(f"{raw!r} is not a phone number we can use: {error}.") from None


def _contact(session, phone: str) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.phone_key.in_(lookup_keys(phone))))


def _check_local(contact: Contact | None) -> None:
    """A number that already belongs to a person on WhatsApp stays theirs: writing from it here
    would put test messages in their conversation and send the bot's answers to their phone.
    Without Twilio every reply stays in this service anyway, so then any number will do."""
    if contact is not None and contact.channel != "local" and _runtime().settings.uses_twilio:
        raise Refused("This number belongs to a person on WhatsApp, not to a test phone. Choose another number.")


@blueprint.get("/")
@role_required(*ROLES)
def page():
    error = None
    try:
        phone = simulated_phone(request.args.get("phone") or DEFAULT_PHONE)
        with _runtime().session() as session:
            _check_local(_contact(session, phone))
    except Refused as refused:
        phone, error = None, str(refused)
    return render_template("helpdesk/simulator.html", phone=phone, typed=request.args.get("phone", ""),
                           default_phone=DEFAULT_PHONE, error=error, refresh=REFRESH_SECONDS), 400 if error else 200


def _payload() -> dict:
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form.to_dict()


@blueprint.post("/send")
@role_required(*ROLES)
def send():
    """Accepts JSON from the page's script, or a plain form when scripts are off."""
    data = _payload()
    runtime = _runtime()
    settings = runtime.settings
    text = str(data.get("text") or "")
    payload = str(data.get("payload") or "")
    try:
        phone = simulated_phone(str(data.get("phone") or ""))
        if not text.strip() and not payload:
            raise Refused("Write a message first.")
        with runtime.session() as session:
            _check_local(_contact(session, phone))
        form = {"MessageSid": "SIM" + uuid.uuid4().hex, "From": f"local:{phone}", "Body": text}
        if payload:  # a tap: a reply button, or a row of a list, as WhatsApp sends them
            label = str(data.get("label") or text)[:256]
            form.update(ListId=payload[:256], ListTitle=label) if data.get("kind") == "list" else \
                form.update(ButtonPayload=payload[:256], ButtonText=label)
        received = read_inbound(form, settings.program.default_region, settings.conversation.max_inbound_chars)
    except (Refused, BadRequest) as refused:
        if request.is_json:
            return jsonify(error=str(refused)), 400
        return render_template("helpdesk/simulator.html", phone=None, typed=str(data.get("phone") or ""),
                               default_phone=DEFAULT_PHONE, error=str(refused), refresh=REFRESH_SECONDS), 400
    contact_id = receive(runtime, received).contact_id
    runtime.tasks.process_contact.send(contact_id)
    if request.is_json:
        return jsonify(ok=True, phone=phone)
    return redirect(url_for(".page", phone=phone))


@blueprint.get("/messages")
@role_required(*ROLES)
def messages():
    runtime = _runtime()
    try:
        phone = simulated_phone(request.args.get("phone"))
        with runtime.session() as session:
            contact = _contact(session, phone)
            _check_local(contact)
            if contact is None:
                return jsonify(phone=phone, language="", with_helper=False, messages=[])
            with_helper = session.scalar(select(Ticket.id).where(Ticket.contact_id == contact.id,
                                                                 Ticket.status == "open")) is not None
            rows = conversation(session, contact.id)
            language = contact.language or ""
    except Refused as refused:
        return jsonify(error=str(refused)), 400
    # The local channel also keeps each reply in a list for `flask chat`; nobody reads it for a
    # simulated phone, so empty it rather than let it grow until it expires.
    runtime.local_channel.received(phone)
    return jsonify(phone=phone, language=language, with_helper=with_helper, messages=rows)
