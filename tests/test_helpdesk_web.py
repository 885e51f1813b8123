"""The helpdesk console at /helpdesk and the phone simulator at /simulator: who gets in, what a
helper sees and what their clicks change in the person's conversation."""
from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from handoff import console
from handoff.console import BACK_TO_BOT
from staff.auth import hash_password
from store.models import AuditEntry, Contact, Message, Registration, StaffUser, Ticket, Voucher, utcnow

PASSWORD = "a long enough password"
PHONE = "+31612345678"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
TEMPLATE_SID = "HX" + "7" * 32


# --- helpers --------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _simulator_for_every_test(request):
    """Every test here may open the phone simulator, which the suite's app has off by default."""
    if "app" in request.fixturenames:
        request.getfixturevalue("simulator_on")


def add_user(runtime, email, role) -> int:
    with runtime.session() as session:
        user = StaffUser(email=email, password_hash=hash_password(PASSWORD), role=role, active=True)
        session.add(user)
        session.commit()
        return user.id


def csrf(client, path="/staff/login") -> str:
    return TOKEN.search(client.get(path).text).group(1)


def sign_in(client, runtime, role="agent", email=None) -> int:
    email = email or f"{role}@example.org"
    user_id = add_user(runtime, email, role)
    response = client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf(client)})
    assert response.status_code == 302, response.text
    return user_id


def waiting_ticket(whatsapp, runtime, phone=PHONE, ask="human") -> Ticket:
    whatsapp.send("hello", phone=phone)
    whatsapp.send("2", phone=phone)  # English
    whatsapp.send(ask, phone=phone)
    with runtime.session() as session:
        return session.scalar(select(Ticket).order_by(Ticket.id.desc()))


def post(client, path, data=None, page=None):
    """A form post from the page it sits on, with that page's CSRF token."""
    data = dict(data or {})
    data["csrf_token"] = csrf(client, page or path.rsplit("/", 1)[0])
    return client.post(path, data=data)


def ticket_row(runtime, ticket_id) -> Ticket:
    with runtime.session() as session:
        return session.get(Ticket, ticket_id)


# --- who gets in ----------------------------------------------------------------------------

def test_signed_out_helpers_are_sent_to_sign_in(client):
    for path in ("/helpdesk/", "/helpdesk/queue.json", "/simulator/", "/simulator/messages"):
        response = client.get(path)
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"], path


@pytest.mark.parametrize("role, helpdesk, simulator", [
    ("agent", 200, 200), ("supervisor", 200, 200), ("admin", 200, 200), ("editor", 403, 200), ("partner", 403, 403)])
def test_roles(client, runtime, role, helpdesk, simulator):
    if role == "partner":
        with runtime.session() as session:
            session.add(StaffUser(email="p@example.org", password_hash=hash_password(PASSWORD), role="partner"))
            session.commit()
        client.post("/staff/login", data={"email": "p@example.org", "password": PASSWORD,
                                          "csrf_token": csrf(client)})
    else:
        sign_in(client, runtime, role)
    assert client.get("/helpdesk/").status_code == helpdesk
    assert client.get("/helpdesk/queue.json").status_code == helpdesk
    assert client.get("/simulator/").status_code == simulator
    if helpdesk == 403:
        assert "Not for your role" in client.get("/helpdesk/").text


def test_pages_carry_the_staff_security_headers_and_no_inline_script(client, runtime):
    sign_in(client, runtime)
    for path in ("/helpdesk/", "/simulator/"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script>" not in response.text and " style=" not in response.text and "onclick" not in response.text
        for script in re.findall(r'<script src="([^"]+)"', response.text):
            assert client.get(script).status_code == 200, script


# --- the queue ------------------------------------------------------------------------------

def test_queue_lists_open_tickets_urgent_first_with_who_has_them(whatsapp, client, runtime):
    agent_id = sign_in(client, runtime)
    first = waiting_ticket(whatsapp, runtime, "+31600000001")
    urgent = waiting_ticket(whatsapp, runtime, "+31600000002", ask="I want to kill myself")
    with runtime.session() as session:
        session.get(Ticket, first.id).assigned_to_id = agent_id
        session.commit()
    data = client.get("/helpdesk/queue.json").get_json()
    assert [(t["id"], t["reason"], t["language"], t["assigned_to"]) for t in data["tickets"]] == [
        (urgent.id, "urgent", "en", ""), (first.id, "asked", "en", "agent@example.org")]
    assert data["tickets"][0]["waiting"].endswith("min") and data["count"] == 2
    page = client.get("/helpdesk/").text
    assert f'href="/helpdesk/tickets/{urgent.id}"' in page and "agent@example.org" in page
    assert page.index(f"#{urgent.id}<") < page.index(f"#{first.id}<")
    assert 'data-source="/helpdesk/queue.json?tab=all"' in page


def test_queue_tabs_show_the_last_message_and_who_wrote_last(whatsapp, client, runtime):
    agent_id = sign_in(client, runtime)
    mine = waiting_ticket(whatsapp, runtime, "+31600000001")
    free = waiting_ticket(whatsapp, runtime, "+31600000002")
    with runtime.session() as session:
        session.get(Ticket, mine.id).assigned_to_id = agent_id
        session.commit()
    page = f"/helpdesk/tickets/{mine.id}"
    assert post(client, f"{page}/reply", {"text": "Hello, how can I help?"}, page=page).status_code == 302
    whatsapp.send("I did not get my code 4821, can you send it again?", phone="+31600000001")

    def tab(name):
        return {t["id"]: t for t in client.get(f"/helpdesk/queue.json?tab={name}").get_json()["tickets"]}

    assert list(tab("mine")) == [mine.id] and list(tab("unassigned")) == [free.id]
    assert set(tab("all")) == {mine.id, free.id} and tab("closed") == {}
    rows = tab("all")
    assert rows[mine.id]["replied"] and rows[mine.id]["mine"]  # the person wrote after the helper's answer
    assert not rows[free.id]["replied"] and rows[free.id]["preview_from"] == "Bot"  # no helper answered yet
    assert rows[mine.id]["preview"] == "I did not get my code 4821, can you send it again?"
    page = client.get("/helpdesk/?tab=mine").text
    assert 'id="tab-mine"\n           aria-current="page"' in page and "person replied" in page
    assert "I did not get my code <bdi>4821</bdi>" in page and ">you<" in page

    assert post(client, f"/helpdesk/tickets/{free.id}/close", {"outcome": "resolved"},
                page=f"/helpdesk/tickets/{free.id}").status_code == 302
    closed = tab("closed")
    assert list(closed) == [free.id] and closed[free.id]["outcome"] == "resolved" and not closed[free.id]["replied"]
    assert free.id not in tab("all")
    with runtime.session() as session:
        assert session.scalar(select(AuditEntry.id).where(AuditEntry.action == "viewed helpdesk queue")) is not None


def test_a_ticket_someone_else_holds_is_read_only_and_taking_it_over_asks_first(whatsapp, app, client, runtime):
    supervisor_id = sign_in(client, runtime, "supervisor")
    other_id = add_user(runtime, "other@example.org", "agent")
    ticket = waiting_ticket(whatsapp, runtime)
    with runtime.session() as session:
        session.get(Ticket, ticket.id).assigned_to_id = other_id
        session.commit()
    url = f"/helpdesk/tickets/{ticket.id}"
    shown = client.get(url).text
    assert "other@example.org has this ticket: you can read it" in shown
    assert 'id="reply-text"' not in shown and 'id="close-ticket"' not in shown
    assert 'name="confirm" value="yes" required' in shown and "Take over" in shown
    refused = post(client, f"{url}/claim", page=url)
    assert refused.status_code == 400 and "tick the box" in refused.text
    assert ticket_row(runtime, ticket.id).assigned_to_id == other_id
    assert post(client, f"{url}/claim", {"confirm": "yes"}, page=url).status_code == 302
    assert ticket_row(runtime, ticket.id).assigned_to_id == supervisor_id
    assert 'id="reply-text"' in client.get(url).text

    agent = app.test_client()
    sign_in(agent, runtime, "agent")
    shown = agent.get(url).text
    assert "Ask a supervisor to transfer it to you." in shown and 'id="claim"' not in shown
    assert 'id="reply-text"' not in shown


# --- a ticket -------------------------------------------------------------------------------

def test_ticket_page_shows_the_conversation_and_the_person(whatsapp, client, runtime):
    sign_in(client, runtime)
    ticket = waiting_ticket(whatsapp, runtime)
    with runtime.session() as session:
        session.add(Registration(contact_id=ticket.contact_id, status="included", join_code="TESTQ2"))
        session.add_all([Voucher(contact_id=ticket.contact_id, period=period, provider_reference=f"ref-{period}",
                                 code="1234", pin="0000", amount_cents=1750, currency="EUR",
                                 valid_until=date(2026, 12, 31), claimed_at=claimed)
                         for period, claimed in (("2026-W48", utcnow()), ("2026-W49", None))])
        session.commit()
    page = client.get(f"/helpdesk/tickets/{ticket.id}").text
    assert "included" in page and "2026-W48" in page and "€17.50" in page
    assert "open: you can write freely" in page
    assert "Hello, I am from the team. How can I help you?" in page  # a ready answer in English
    assert 'value="resolved"' in page
    data = client.get(f"/helpdesk/tickets/{ticket.id}.json").get_json()
    senders = [(m["direction"], m["sender"]) for m in data["messages"]]
    assert senders[0] == ("in", "person") and ("out", "bot") in senders
    assert [m["text"] for m in data["messages"] if m["direction"] == "in"] == ["hello", "2", "human"]
    closes = data["ticket"].pop("window_closes")
    assert data["ticket"].pop("window_closes_text") and data["ticket"].pop("window_left")
    assert data["ticket"] == {"id": ticket.id, "status": "open", "outcome": "", "assigned_to": "",
                              "window_open": True, "language": "en"}
    assert timedelta(hours=23, minutes=58) < datetime.fromisoformat(closes) - utcnow() <= timedelta(hours=24)


def test_messages_take_their_own_direction_with_codes_isolated_and_markup_shown_as_text(whatsapp, client, runtime):
    sign_in(client, runtime)
    ticket = waiting_ticket(whatsapp, runtime)
    whatsapp.send("رمز <b>ABC-123</b> لا يعمل؟")
    page = client.get(f"/helpdesk/tickets/{ticket.id}").text
    assert '<p class="text" dir="auto">رمز &lt;b&gt;<bdi>ABC-123</bdi>&lt;/b&gt; لا يعمل؟</p>' in page
    assert 'id="reply-text"' in page and 'dir="auto"' in page.split('id="reply-text"')[1].split(">")[0]


def test_claim_reply_note_and_close_reach_the_persons_chat(whatsapp, client, runtime):
    sign_in(client, runtime)
    ticket = waiting_ticket(whatsapp, runtime)
    page = f"/helpdesk/tickets/{ticket.id}"
    assert post(client, f"{page}/claim", page=page).status_code == 302
    assert ticket_row(runtime, ticket.id).assigned_to_id is not None
    response = post(client, f"{page}/reply", {"text": "Hello, how can I help?"}, page=page)
    assert response.status_code == 302 and response.headers["Location"] == page
    whatsapp.wait()
    assert whatsapp.replies()[-1] == "Hello, how can I help?"
    assert post(client, f"{page}/note", {"text": "asked about food"}, page=page).status_code == 302
    data = client.get(f"{page}.json").get_json()
    assert data["messages"][-1]["who"] == "Agent (agent@example.org)"
    assert [n["text"] for n in data["notes"]] == ["asked about food"]
    assert "asked about food" not in " ".join(whatsapp.replies())
    assert post(client, f"{page}/close", {"outcome": "resolved"}, page=page).status_code == 302
    whatsapp.wait()
    assert whatsapp.replies()[-1].startswith("Our helper has finished this conversation")
    assert (ticket_row(runtime, ticket.id).status, ticket_row(runtime, ticket.id).outcome) == ("closed", "resolved")
    assert "This ticket is closed (resolved)" in client.get(page).text


def test_refusals_are_shown_to_the_helper_never_a_500(whatsapp, client, runtime):
    sign_in(client, runtime)
    ticket = waiting_ticket(whatsapp, runtime)
    page = f"/helpdesk/tickets/{ticket.id}"
    empty = post(client, f"{page}/reply", {"text": "   "}, page=page)
    assert empty.status_code == 400 and "Not done: write a message first." in empty.text
    with runtime.session() as session:
        session.execute(Contact.__table__.update().values(opted_out=True))
        session.commit()
    stopped = post(client, f"{page}/reply", {"text": "hello?"}, page=page)
    assert stopped.status_code == 400 and "opted out (STOP)" in stopped.text
    with runtime.session() as session:
        session.execute(Contact.__table__.update().values(opted_out=False))
        session.commit()
    unknown = post(client, f"{page}/close", {"outcome": "whatever"}, page=page)
    assert unknown.status_code == 400 and "outcome must be one of" in unknown.text
    post(client, f"{page}/close", {"outcome": "resolved"}, page=page)
    late = post(client, f"{page}/reply", {"text": "are you there?"}, page=page)
    assert late.status_code == 400 and "this ticket is closed" in late.text
    assert "are you there?" in late.text  # what the helper typed is still in the box
    assert client.get("/helpdesk/tickets/999999").status_code == 404


def test_posts_without_the_csrf_token_are_refused(whatsapp, client, runtime):
    sign_in(client, runtime)
    ticket = waiting_ticket(whatsapp, runtime)
    response = client.post(f"/helpdesk/tickets/{ticket.id}/reply", data={"text": "hi"})
    assert response.status_code == 400 and "security token" in response.text
    assert client.post("/simulator/send", json={"text": "hi"}).status_code == 400


def test_only_supervisors_transfer_and_agents_keep_to_their_own_tickets(whatsapp, app, client, runtime):
    sign_in(client, runtime, "supervisor")
    other_id = add_user(runtime, "other@example.org", "agent")
    add_user(runtime, "gone@example.org", "agent")
    with runtime.session() as session:
        session.execute(StaffUser.__table__.update().where(StaffUser.email == "gone@example.org")
                        .values(active=False))
        session.commit()
    ticket = waiting_ticket(whatsapp, runtime)
    page = f"/helpdesk/tickets/{ticket.id}"
    shown = client.get(page).text
    assert "other@example.org (agent)" in shown and "gone@example.org" not in shown
    assert post(client, f"{page}/assign", {"to": str(other_id)}, page=page).status_code == 302
    assert ticket_row(runtime, ticket.id).assigned_to_id == other_id

    agent = app.test_client()
    sign_in(agent, runtime, "agent")
    assert "Give to" not in agent.get(page).text
    assert post(agent, f"{page}/assign", {"to": str(other_id)}, page=page).status_code == 403
    refused = post(agent, f"{page}/reply", {"text": "mine now"}, page=page)
    assert refused.status_code == 400 and "other@example.org has this ticket" in refused.text
    assert post(agent, f"{page}/claim", page=page).status_code == 400
    assert ticket_row(runtime, ticket.id).assigned_to_id == other_id


def test_outside_the_window_only_approved_templates_can_be_sent(whatsapp, client, runtime):
    runtime.settings.templates["status_verified"] = {"en": TEMPLATE_SID}
    runtime.settings.templates["invitation"] = {"nl": "HX" + "8" * 32}  # not their language
    sign_in(client, runtime)
    ticket = waiting_ticket(whatsapp, runtime)
    with runtime.session() as session:
        session.execute(Contact.__table__.update().values(last_inbound_at=utcnow() - timedelta(days=2)))
        session.commit()
    page = f"/helpdesk/tickets/{ticket.id}"
    shown = client.get(page).text
    assert "closed: only approved templates" in shown
    assert 'id="reply-text"' not in shown
    assert '<option value="status_verified">' in shown and "invitation" not in shown
    refused = post(client, f"{page}/template", {"name": "invitation"}, page=page)
    assert refused.status_code == 400 and "no approved template 'invitation' for en" in html.unescape(refused.text)
    assert post(client, f"{page}/template", {"name": "status_verified"}, page=page).status_code == 302
    whatsapp.wait()
    assert whatsapp.twilio.sent(PHONE)[-1]["ContentSid"] == TEMPLATE_SID
    with runtime.session() as session:
        message = session.scalar(select(Message).order_by(Message.id.desc()))
        assert (message.kind, message.sender, message.author) == ("template", "agent", "agent@example.org")
        assert session.get(Ticket, ticket.id).assigned_to_id is not None


def test_send_template_refuses_a_closed_ticket_and_an_opted_out_person(whatsapp, runtime):
    runtime.settings.templates["status_verified"] = {"en": TEMPLATE_SID}
    ticket = waiting_ticket(whatsapp, runtime)
    user_id = add_user(runtime, "a@example.org", "agent")
    with runtime.session() as session:
        ticket = session.get(Ticket, ticket.id)
        user = session.get(StaffUser, user_id)
        ticket.contact.opted_out = True
        with pytest.raises(console.ConsoleError, match="opted out"):
            console.send_template(session, runtime, ticket, user, "status_verified")
        ticket.status = "closed"
        with pytest.raises(console.ConsoleError, match="closed"):
            console.send_template(session, runtime, ticket, user, "status_verified")


# --- the simulator --------------------------------------------------------------------------

def simulate(client, text="", **extra):
    token = csrf(client, "/simulator/")
    response = client.post("/simulator/send", json={"text": text, **extra},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.text
    return response


def chat(client, runtime) -> list[dict]:
    runtime.tasks.drain()
    data = client.get("/simulator/messages").get_json()
    return data["messages"]


def test_simulator_goes_through_the_pipeline_as_a_local_contact(client, runtime, twilio):
    sign_in(client, runtime, "editor")
    page = client.get("/simulator/").text
    assert "Chat as test person" in page and "sim:" in page and "+316" not in page
    simulate(client, "hello")
    messages = chat(client, runtime)
    assert messages[0]["text"] == "hello" and messages[0]["sender"] == "person"
    menu = [m for m in messages if m["options"]][-1]
    assert menu["sender"] == "bot" and len(menu["options"]) > 2
    english = next(o for o in menu["options"] if o["label"] == "English")
    simulate(client, payload=english["payload"], label=english["label"])  # a tapped quick reply
    runtime.tasks.drain()
    data = client.get("/simulator/messages").get_json()
    assert data["language"] == "en"
    tapped = [m for m in data["messages"] if m["direction"] == "in"][-1]
    assert (tapped["kind"], tapped["text"]) == ("button", "English")
    with runtime.session() as session:
        contact = session.scalar(select(Contact))
        assert contact.channel == "local"
    assert twilio.requests == []  # nothing left the service


def test_simulator_shows_the_helpers_answer_and_the_bot_coming_back(client, runtime):
    user_id = sign_in(client, runtime)
    simulate(client, "hello")
    simulate(client, "2")
    simulate(client, "human")
    assert chat(client, runtime)[-1]["text"].startswith("I have asked a person from our team")
    with runtime.session() as session:
        ticket = session.scalar(select(Ticket))
        ticket_id = ticket.id
        console.reply(session, runtime, ticket, session.get(StaffUser, user_id), "Hello, how can I help?")
        session.commit()
    runtime.tasks.deliver.send(ticket.contact_id)
    last = chat(client, runtime)[-1]
    assert (last["text"], last["who"]) == ("Hello, how can I help?", "Agent (agent@example.org)")
    page = f"/helpdesk/tickets/{ticket_id}"
    post(client, f"{page}/close", {"outcome": "resolved"}, page=page)
    assert chat(client, runtime)[-1]["text"] == runtime.translator.text(BACK_TO_BOT, "en")
    simulate(client, "menu")
    assert chat(client, runtime)[-1]["text"].startswith("What can I do for you?")


def test_simulator_can_never_write_as_a_real_person(whatsapp, app, client, runtime, twilio):
    """A test person has a sim: address, which no WhatsApp number can be: whatever the form says,
    the simulator writes as its own test person, and Twilio's webhook refuses sim: senders."""
    sign_in(client, runtime)
    whatsapp.send("hello")  # a person on WhatsApp, who has not chosen a language yet
    before = len(whatsapp.replies())
    simulate(client, "hello", phone=PHONE)  # an old page, or a curious editor, naming a real number
    simulate(client, "2")
    runtime.tasks.drain()
    assert len(whatsapp.replies()) == before  # nothing reached the real person
    with runtime.session() as session:
        contacts = {c.channel: c for c in session.scalars(select(Contact))}
        assert contacts["whatsapp"].language is None and contacts["local"].language == "en"
    empty = client.post("/simulator/send", json={"text": " "}, headers={"X-CSRFToken": csrf(client, "/simulator/")})
    assert empty.status_code == 400 and empty.get_json()["error"] == "Write a message first."
    forged = whatsapp.post("/twilio/whatsapp", {"MessageSid": "SM" + "c" * 32, "From": "sim:abc", "Body": "hi"})
    assert forged.status_code == 400
    other = app.test_client()  # another staff member's browser is another test person
    sign_in(other, runtime, "editor")
    assert other.get("/simulator/messages").get_json()["messages"] == []


def test_starting_again_is_a_new_test_person(client, runtime):
    sign_in(client, runtime)
    simulate(client, "hello")
    assert chat(client, runtime)
    client.post("/simulator/new", data={"csrf_token": csrf(client, "/simulator/")})
    assert chat(client, runtime) == []


def test_test_people_are_marked_and_never_get_a_voucher(whatsapp, client, runner, runtime):
    from tests.test_vouchers import include

    sign_in(client, runtime, "admin")
    include(whatsapp, runner, runtime)  # a real person, included
    for answer in ("hello", "2", "register", "1", "Amina", "1", "Stichting Hulp", "1"):
        simulate(client, answer)
        runtime.tasks.drain()
    with runtime.session() as session:
        tester = session.scalar(select(Registration).join(Contact).where(Contact.channel == "local"))
        tester.status = "included"
        session.commit()
    result = runner.invoke(args=["vouchers", "issue", "--no-notify"])
    assert result.exit_code == 0 and "issued 1," in result.output  # the real person only
    listed = client.get("/staff/registrations/").text
    assert listed.count(">test</span>") == 1


def test_simulator_works_without_scripts(client, runtime):
    sign_in(client, runtime)
    response = client.post("/simulator/send", data={"text": "hello", "csrf_token": csrf(client, "/simulator/")})
    assert response.status_code == 302 and "phone" not in response.headers["Location"]
    assert chat(client, runtime)[0]["text"] == "hello"


def test_opening_a_conversation_is_audited(client, runner, runtime, whatsapp):
    from sqlalchemy import select

    from store.models import AuditEntry

    whatsapp.send("hello")
    whatsapp.send("2")
    whatsapp.send("human")
    from tests.test_staff import signed_in

    email = signed_in(client, runner, "agent")
    with runtime.session() as session:
        from store.models import Ticket

        ticket_id = session.scalar(select(Ticket.id))
    assert client.get(f"/helpdesk/tickets/{ticket_id}").status_code == 200
    with runtime.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "viewed conversation"))
        assert (entry.actor, entry.subject) == (f"staff:{email}", f"ticket:{ticket_id}")
