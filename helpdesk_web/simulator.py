"""A phone in the browser: staff write to the bot as a person would, and see what comes back.

A message goes through the same pipeline as WhatsApp and `flask chat`: read_inbound, receive,
the process_contact job. The phone is a test person with a `sim:` address, which no WhatsApp
number can ever be: nobody can use the simulator to read or write as a real person, and test
people are marked as such everywhere and never get a voucher. Each browser session writes as
its own test person (kept in the signed session, never in a URL). Replies are read back from
the database rather than from the local channel, so a helper's answer from the console shows
up here exactly as the person would get it. Nothing sent to a test person leaves the service
(Runtime.channel_for).
"""
from __future__ import annotations

import secrets
import uuid

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import select

from channels.twilio_payload import BadRequest, read_inbound
from helpdesk_web.conversation import conversation
from inbox.receive import receive
from staff.auth import role_required
from store.identifiers import find_contact_id
from store.models import Contact, Ticket

# Everyone on the staff side but partner organisations, who only see the people they referred.
ROLES = ("admin", "supervisor", "agent", "editor")
REFRESH_SECONDS = 2
SESSION_KEY = "simulator_person"

blueprint = Blueprint("simulator", __name__, url_prefix="/simulator")


class Refused(ValueError):
    """The simulator cannot send this; the text says why, for the staff member."""


def _runtime():
    return current_app.extensions["dda"]


@blueprint.before_request
def _only_where_enabled():
    """A test phone inside a production service has no business there: off unless asked for."""
    if not _runtime().settings.simulator_on:
        abort(404)


def test_person() -> str:
    """The sim: address this browser session writes from, made on first use."""
    address = session.get(SESSION_KEY)
    if not isinstance(address, str) or not address.startswith("sim:"):
        address = f"sim:{secrets.token_hex(5)}"
        session[SESSION_KEY] = address
    return address


def _contact(db, address: str) -> Contact | None:
    contact_id = find_contact_id(db.connection(), address)
    return None if contact_id is None else db.get(Contact, contact_id)


@blueprint.get("/")
@role_required(*ROLES)
def page():
    return render_template("helpdesk/simulator.html", person=test_person(), refresh=REFRESH_SECONDS)


@blueprint.post("/new")
@role_required(*ROLES)
def new_person():
    """Start again as a new test person, as if a stranger wrote for the first time."""
    session.pop(SESSION_KEY, None)
    test_person()
    return redirect(url_for(".page"))


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
    address = test_person()
    try:
        if not text.strip() and not payload:
            raise Refused("Write a message first.")
        form = {"MessageSid": "SIM" + uuid.uuid4().hex, "From": address, "Body": text}
        if payload:  # a tap: a reply button, or a row of a list, as WhatsApp sends them
            label = str(data.get("label") or text)[:256]
            if data.get("kind") == "list":
                form.update(ListId=payload[:256], ListTitle=label)
            else:
                form.update(ButtonPayload=payload[:256], ButtonText=label)
        received = read_inbound(form, settings.program.default_region, settings.conversation.max_inbound_chars,
                                from_test_person=True)
    except (Refused, BadRequest) as refused:
        if request.is_json:
            return jsonify(error=str(refused)), 400
        return render_template("helpdesk/simulator.html", person=address, error=str(refused),
                               refresh=REFRESH_SECONDS), 400
    contact_id = receive(runtime, received).contact_id
    runtime.tasks.arrived(contact_id)
    if request.is_json:
        return jsonify(ok=True)
    return redirect(url_for(".page"))


@blueprint.get("/messages")
@role_required(*ROLES)
def messages():
    runtime = _runtime()
    address = test_person()
    with runtime.session() as db:
        contact = _contact(db, address)
        if contact is None:
            return jsonify(language="", with_helper=False, messages=[])
        with_helper = db.scalar(select(Ticket.id).where(Ticket.contact_id == contact.id,
                                                        Ticket.status == "open")) is not None
        rows = conversation(db, contact.id)
        language = contact.language or ""
    # The local channel also keeps each reply in a list for `flask chat`; nobody reads it for a
    # simulated phone, so empty it rather than let it grow until it expires.
    runtime.local_channel.received(address)
    return jsonify(language=language, with_helper=with_helper, messages=rows)
