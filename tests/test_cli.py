"""The terminal chat and the demo seed, as a newcomer would use them."""
from sqlalchemy import func, select

from store.models import Contact


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
