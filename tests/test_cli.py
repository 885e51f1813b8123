"""The terminal chat and the demo seed, as a newcomer would use them."""
import re

from sqlalchemy import func, select

from store.models import Contact, StaffUser


def test_chat_talks_to_the_bot_through_the_pipeline(runner, runtime):
    result = runner.invoke(args=["chat", "--as", "Ana"], input="hello\n2\nmenu\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "You are the test person sim:ana" in result.output
    assert "bot> Choose your language: reply with the number." in result.output
    assert "bot> Thank you. I will write to you in English." in result.output
    assert "bot> ☰ Choose\nbot>   1. Register for the program\nbot>   2. Talk to a person" in result.output
    with runtime.session() as session:
        assert session.scalar(select(Contact.language)) == "en"
        assert session.scalar(select(Contact.channel)) == "local"  # a test person, marked as such


def test_chat_shows_buttons_and_taps_them_as_whatsapp_does(runner, runtime):
    result = runner.invoke(args=["chat"], input="hello\n3\ndelete my data\n/tap 2\n/tap 9\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "bot> [1: Sí, borrar todo]  [2: No, guardarlos]" in result.output
    assert "bot> No se borró nada." in result.output  # the tap on button 2, by its payload
    assert "nothing to tap" in result.output
    with runtime.session() as session:
        assert session.scalar(select(Contact.language)) == "es"


def test_chat_refuses_a_name_that_is_no_test_person(runner):
    for name in ("+31612345678", "ana maria", "x" * 40):
        result = runner.invoke(args=["chat", "--as", name], input="/quit\n")
        assert result.exit_code != 0
        assert "--as" in result.output


def test_seed_demo_twice_changes_nothing(runner, runtime):
    for _ in range(2):
        result = runner.invoke(args=["seed", "demo"])
        assert result.exit_code == 0, result.output
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 3


def test_helpdesk_queue_lists_waiting_people_as_json(runner, whatsapp):
    import json

    whatsapp.send("hello")
    whatsapp.send("2")
    whatsapp.send("human")
    result = runner.invoke(args=["helpdesk", "queue", "--json"])
    rows = json.loads(result.output)
    assert [(r["reason"], r["language"]) for r in rows] == [("asked", "en")]


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_metrics_count_messages_and_failures(client, whatsapp, twilio):
    twilio.fail_next(400, 21211)
    whatsapp.send("hello")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'dda_messages_total{direction="in",status="received"} 1.0' in text
    assert 'dda_delivery_failures_total{code="21211"} 1.0' in text
    assert "dda_webhook_seconds_count 1.0" in text


def test_seed_demo_prints_a_demo_admin_once_on_a_bare_machine(runner, runtime, client, monkeypatch, backend):
    monkeypatch.setattr(runtime.settings.secrets, "twilio_auth_token", "")  # no Twilio, as after `make run`
    first = runner.invoke(args=["seed", "demo"])
    again = runner.invoke(args=["seed", "demo"])
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert "demo admin" not in again.output
    with runtime.session() as session:
        staff = session.scalars(select(StaffUser)).all()
    if backend != "embedded":  # PostgreSQL and Redis: accounts are made on purpose, never by a seed
        assert "demo admin" not in first.output and staff == []
        return
    password = re.search(r"demo-admin@example\.org  password: (\S+)", first.output).group(1)
    assert [(s.email, s.role) for s in staff] == [("demo-admin@example.org", "admin")]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").text).group(1)
    response = client.post("/staff/login", data={"email": "demo-admin@example.org", "password": password,
                                                 "csrf_token": token})
    assert response.status_code == 302 and client.get("/helpdesk/").status_code == 200


def test_seed_demo_hands_out_no_admin_with_twilio_set_or_staff_present(runner, runtime, monkeypatch):
    assert "demo admin" not in runner.invoke(args=["seed", "demo"]).output  # Twilio credentials are set
    monkeypatch.setattr(runtime.settings.secrets, "twilio_auth_token", "")
    with runtime.session() as session:
        session.add(StaffUser(email="lead@example.org", password_hash="x", role="admin", active=True))
        session.commit()
    assert "demo admin" not in runner.invoke(args=["seed", "demo"]).output
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(StaffUser)) == 1


def test_the_start_page_links_to_the_simulator_the_helpdesk_and_the_staff_pages_and_shows_no_one(
        client, runner, request):
    runner.invoke(args=["seed", "demo"])
    response = client.get("/")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    for link in ('href="/helpdesk/"', 'href="/staff/"', 'href="/staff/login"'):
        assert link in response.text
    assert "+316" not in response.text and "12345678" not in response.text
    assert 'href="/simulator/"' not in response.text  # off while the service speaks to Twilio
    request.getfixturevalue("simulator_on")
    assert 'href="/simulator/"' in client.get("/").text
