"""Weekly vouchers end to end: issue, deliver as a scannable image, claim on delivery, spend
at the till, ask the balance, and every refusal."""
import io
import json
import time
from datetime import UTC, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from store.models import Contact, LedgerVoucher, Registration, Ticket, Voucher, utcnow
from tests.conftest import fixture

PHONE = "+31612000001"
PERIOD = "2026-W49"


def run(runner, runtime, *args):
    result = runner.invoke(args=list(args))
    runtime.tasks.drain()
    assert result.exit_code == 0, result.output
    return result


def include(whatsapp, runner, runtime, phone=PHONE, language_choice="2"):
    whatsapp.send("hello", phone=phone)
    whatsapp.send(language_choice, phone=phone)
    for answer in ("register", "1", "Amina", "1", "Stichting Hulp", "1"):
        whatsapp.send(answer, phone=phone)
    for status in ("verified", "included"):
        run(runner, runtime, "registrations", "set-status", "--phone", phone, "--status", status, "--reason", "ok",
            "--no-notify")


def vouchers(runtime) -> list[Voucher]:
    with runtime.session() as session:
        return list(session.scalars(select(Voucher).order_by(Voucher.id)))


def outside_window(runtime):
    with runtime.session() as session:
        session.execute(Contact.__table__.update().values(last_inbound_at=utcnow() - timedelta(days=2)))
        session.commit()


@pytest.fixture
def store_key(runner):
    result = runner.invoke(args=["vouchers", "add-store", "Albert Heijn Centrum"])
    assert result.exit_code == 0
    return result.output.strip()


def redeem(client, key, code, amount, transaction, currency="EUR"):
    return client.post("/api/pos/redeem", json={"code": code, "amount_cents": amount, "currency": currency,
                                                "transaction_id": transaction},
                       headers={"Authorization": f"Bearer {key}"})


def test_issuing_is_one_per_person_per_week_and_idempotent(runner, runtime, whatsapp):
    include(whatsapp, runner, runtime)
    first = run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    assert f"{PERIOD}: issued 1, already issued 0" in first.output
    again = run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    assert f"{PERIOD}: issued 0, already issued 1" in again.output
    assert len(vouchers(runtime)) == 1
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(LedgerVoucher)) == 1


def test_the_database_refuses_a_second_voucher_for_the_same_week(runner, runtime, whatsapp):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    voucher = vouchers(runtime)[0]
    with runtime.session() as session, pytest.raises(IntegrityError):
        session.add(Voucher(registration_id=voucher.registration_id, contact_id=voucher.contact_id, period=PERIOD,
                            provider_reference="other", code="X", pin="0000", amount_cents=1, currency="EUR",
                            valid_until=voucher.valid_until))
        session.commit()


def test_inside_the_window_the_voucher_comes_at_once_as_image_and_text(runner, runtime, whatsapp, twilio, client):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    voucher = vouchers(runtime)[0]
    sent = twilio.sent(PHONE)[-1]
    assert voucher.code in sent["Body"] and "€17.50" in sent["Body"] and voucher.pin in sent["Body"]
    image = client.get(sent["MediaUrl"].replace("https://dda.example.org", ""))
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert len(image.data) < 1024 * 1024
    decoded = {r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))}
    assert voucher.code in decoded
    assert vouchers(runtime)[0].claimed_at is None  # sent is not received
    callback = fixture("status_delivered") | {"MessageSid": sent["Sid"], "SmsSid": sent["Sid"]}
    assert whatsapp.post("/twilio/status", callback).status_code == 204
    assert vouchers(runtime)[0].claimed_at is not None


def test_outside_the_window_a_notice_then_the_tap_sends_every_unclaimed_voucher(runner, runtime, whatsapp, twilio):
    include(whatsapp, runner, runtime)
    outside_window(runtime)
    runtime.settings.templates = {"voucher_ready": {"en": "HX" + "3" * 32}}
    for week in ("2026-W47", "2026-W48", "2026-W49", "2026-W50"):
        run(runner, runtime, "vouchers", "issue", "--period", week)
    notices = [m for m in twilio.sent(PHONE) if m.get("ContentSid") == "HX" + "3" * 32]
    assert len(notices) == 4
    before = len(twilio.sent(PHONE))
    whatsapp.send("Send my voucher", phone=PHONE, MessageType="button", ButtonPayload="voucher.claim",
                  ButtonText="Send my voucher")
    media = [m for m in twilio.sent(PHONE)[before:] if m.get("MediaUrl")]
    assert len(media) == 4  # every unclaimed voucher, no cap at three
    assert {v.code for v in vouchers(runtime)} == {next(c for c in v["Body"].split() if c.startswith("DDA-"))
                                                  for v in media}


def test_any_text_is_not_a_yes_but_a_clear_yes_in_another_language_is(runner, runtime, whatsapp, twilio):
    include(whatsapp, runner, runtime, language_choice="6")  # Nederlands
    outside_window(runtime)
    runtime.settings.templates = {"voucher_ready": {"nl": "HX" + "4" * 32}}
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    before = len(twilio.sent(PHONE))
    whatsapp.send("wat is het weer morgen", phone=PHONE)
    assert not [m for m in twilio.sent(PHONE)[before:] if m.get("MediaUrl")]
    whatsapp.send("ja graag", phone=PHONE)
    media = [m for m in twilio.sent(PHONE)[before:] if m.get("MediaUrl")]
    assert len(media) == 1 and "€ 17,50" in media[0]["Body"].replace("\u00a0", " ")


def test_till_spends_atomically_and_the_chat_tells_the_balance_in_the_locale(
        runner, runtime, whatsapp, client, store_key):
    include(whatsapp, runner, runtime, language_choice="6")  # Nederlands
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    code = vouchers(runtime)[0].code
    spent = redeem(client, store_key, code, 520, "till-7-0001")
    assert spent.status_code == 200 and spent.json["balance_cents"] == 1230
    repeat = redeem(client, store_key, code, 520, "till-7-0001")  # the till retried
    assert repeat.json == spent.json | {"repeated": True}
    reply = whatsapp.conversation("hoeveel geld staat er nog op mijn bon?", phone=PHONE)[-1]
    assert "€\u00a012,30" in reply and "€\u00a017,50" in reply


@pytest.mark.parametrize("change, status, error", [
    ({"amount_cents": 5000}, 409, "insufficient_balance"),
    ({"code": "DDA-NOPE-NOPE-NOPE"}, 404, "unknown_code"),
    ({"currency": "USD"}, 400, "wrong_currency"),
    ({"amount_cents": -5}, 400, "bad_request"),
    ({"amount_cents": "5"}, 400, "bad_request"),
])
def test_till_refusals_are_clear(runner, runtime, whatsapp, client, store_key, change, status, error):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    body = {"code": vouchers(runtime)[0].code, "amount_cents": 100, "currency": "EUR", "transaction_id": "t1"} | change
    response = client.post("/api/pos/redeem", json=body, headers={"Authorization": f"Bearer {store_key}"})
    assert (response.status_code, response.json["error"]) == (status, error)
    assert response.json["message"]


def test_till_needs_its_key_and_refuses_expired_vouchers(runner, runtime, whatsapp, client, store_key):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", "2026-W01", "--no-notify")
    code = vouchers(runtime)[0].code
    assert redeem(client, "wrong-key", code, 100, "t1").status_code == 401
    assert client.post("/api/pos/redeem", json={}).status_code == 401
    expired = redeem(client, store_key, code, 100, "t2")
    assert (expired.status_code, expired.json["error"]) == (410, "expired")


def test_lost_voucher_is_sent_again_and_a_spent_one_is_not(runner, runtime, whatsapp, client, store_key, twilio):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    run(runner, runtime, "vouchers", "issue", "--period", "2026-W50")
    first, second = vouchers(runtime)
    redeem(client, store_key, first.code, 1750, "t-all")
    before = len(twilio.sent(PHONE))
    whatsapp.send("I lost my voucher, can you send it again", phone=PHONE)
    media = [m for m in twilio.sent(PHONE)[before:] if m.get("MediaUrl")]
    assert len(media) == 1 and second.code in media[0]["Body"]


def test_where_and_how_are_answered(whatsapp, runner, runtime):
    include(whatsapp, runner, runtime)
    assert "Albert Heijn, Jumbo, Lidl" in whatsapp.conversation("in which supermarkets can I use the voucher",
                                                                 phone=PHONE)[-1]
    assert "show the barcode to the cashier" in whatsapp.conversation("how do i pay with the voucher at the checkout",
                                                                      phone=PHONE)[-1]


def test_image_links_are_signed(client, runner, runtime, whatsapp, twilio):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    url = twilio.sent(PHONE)[-1]["MediaUrl"].replace("https://dda.example.org", "")
    assert client.get(url[:-10] + "AAAAAA.png").status_code == 404
    assert client.get("/media/vouchers/1.png").status_code == 404


def test_unclaimed_vouchers_get_reminders_then_the_helpdesk(runner, runtime, whatsapp, twilio):
    include(whatsapp, runner, runtime)
    outside_window(runtime)
    runtime.settings.templates = {"voucher_ready": {"en": "HX" + "5" * 32}}
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD)
    assert "reminded: 0" in run(runner, runtime, "vouchers", "remind").output  # the notice has only just gone
    with runtime.session() as session:
        session.execute(Voucher.__table__.update().values(notified_at=utcnow() - timedelta(hours=25)))
        session.commit()
    assert "reminded: 1" in run(runner, runtime, "vouchers", "remind").output
    assert "reminded: 1" in run(runner, runtime, "vouchers", "remind").output
    assert "to helpdesk: 1" in run(runner, runtime, "vouchers", "remind").output
    with runtime.session() as session:
        assert session.scalar(select(Ticket.reason)) == "voucher not received"


def test_stats_are_aggregates_without_personal_data(runner, runtime, whatsapp, client, store_key):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    redeem(client, store_key, vouchers(runtime)[0].code, 700, "t1")
    figures = json.loads(run(runner, runtime, "vouchers", "stats", "--json").output)
    assert figures["weeks"] == [{"period": PERIOD, "issued": 1, "delivered": 0, "claimed": 0, "issued_cents": 1750,
                                 "spent_cents": 700, "share_used": 0.4}]
    assert figures["redemptions_per_store"] == {"Albert Heijn Centrum": 1}
    text = json.dumps(figures)
    assert "Amina" not in text and "612000001" not in text


def test_the_weekly_cycle_runs_once_when_due(runner, runtime, whatsapp):
    from datetime import datetime

    from jobs.scheduled import run_when_due

    include(whatsapp, runner, runtime)
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    monday_morning = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # 09:30 in Amsterdam
    assert run_when_due(runtime, sunday) is None
    first = run_when_due(runtime, monday_morning)
    assert first["issued"]["issued"] == 1
    assert run_when_due(runtime, monday_morning) is None  # another worker, the same week
    assert len(vouchers(runtime)) == 1 and vouchers(runtime)[0].period == "2026-W50"


def test_vouchers_still_come_while_a_helper_has_the_chat(runner, runtime, whatsapp, twilio):
    include(whatsapp, runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    whatsapp.send("human", phone=PHONE)
    told = whatsapp.conversation("where are you?", phone=PHONE)  # for the helper, not the bot
    assert len(told) == 1 and told[0].startswith("Your message has reached our team")
    before = len(twilio.sent(PHONE))
    whatsapp.send("Send my voucher", phone=PHONE, MessageType="button", ButtonPayload="voucher.claim",
                  ButtonText="Send my voucher")
    assert [m for m in twilio.sent(PHONE)[before:] if m.get("MediaUrl")]


def test_a_cycle_larger_than_a_chunk_reaches_everyone_once(runner, runtime, twilio, monkeypatch):
    """Notices go out chunk by chunk (each committed and queued before the next is read);
    across the chunks every person hears once, and running it again sends nothing."""
    from tests.test_delivery import person
    from vouchers import delivery as notices

    monkeypatch.setattr(notices, "CHUNK", 2)
    phones = [f"+3162300{n:04d}" for n in range(5)]
    with runtime.session() as session:
        for n, phone in enumerate(phones):
            contact = person(session, runtime, phone)
            if n % 2:
                contact.last_inbound_at = utcnow() - timedelta(days=2)
            session.add(Registration(contact=contact, status="included", join_code=f"J{n:05d}"))
        session.commit()
    runtime.settings.templates = {"voucher_ready": {"en": "HX" + "4" * 32}}
    output = run(runner, runtime, "vouchers", "issue", "--period", PERIOD).output
    assert "voucher sent: 3" in output and "notice sent: 2" in output
    for n, phone in enumerate(phones):
        sent = twilio.sent(phone)
        assert len(sent) == 1
        assert (sent[0].get("ContentSid") == "HX" + "4" * 32) == bool(n % 2)
    assert all(v.notified_at for v in vouchers(runtime))
    assert "nobody to notify" in run(runner, runtime, "vouchers", "issue", "--period", PERIOD).output
    assert len(twilio.sent()) == 5


def test_two_notify_runs_at_once_tell_each_person_once(runtime, twilio, monkeypatch, backend):
    """Staff issuing by hand while the scheduler runs the cycle: the chunks one run holds are
    skipped by the other, so each person is told once."""
    import threading

    from tests.test_delivery import person
    from vouchers import delivery as notices
    from vouchers.issuance import issue_period

    if backend != "services":
        pytest.skip("SQLite has one writer: runs cannot overlap there")
    monkeypatch.setattr(notices, "CHUNK", 3)
    with runtime.session() as session:
        for n in range(12):
            session.add(Registration(contact=person(session, runtime, f"+3162400{n:04d}"), status="included",
                                     join_code=f"K{n:05d}"))
        session.commit()
    issue_period(runtime, PERIOD)
    slow_reply = notices.voucher_replies
    monkeypatch.setattr(notices, "voucher_replies", lambda *args: (time.sleep(0.05), slow_reply(*args))[1])
    counts = []
    runs = [threading.Thread(target=lambda: counts.append(notices.notify_new(runtime, PERIOD))) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    runtime.tasks.drain()
    assert sum(c.get("voucher sent", 0) for c in counts) == 12
    assert all(c.get("voucher sent", 0) for c in counts)  # they did overlap
    assert sorted(m["To"] for m in twilio.sent()) == sorted(f"whatsapp:+3162400{n:04d}" for n in range(12))
