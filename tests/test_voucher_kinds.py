"""Kinds of voucher (vouchers.kinds): the supermarket voucher every week, the pharmacy voucher
every month for people staff flagged; issuance per kind and period, idempotent; a till key
spends only its store's kinds; vouchers from before kinds became the default kind."""
import re
from datetime import date

import pytest
from sqlalchemy import select, text

from store.migrate import alembic_config
from store.models import LedgerVoucher, Voucher
from tests.test_vouchers import PHONE, include, redeem, run, vouchers

OTHER = "+31612000002"


def flag(runner, runtime, phone=PHONE, name="pharmacy"):
    return run(runner, runtime, "registrations", "flag", "--phone", phone, "--flag", name)


def test_each_kind_is_issued_once_per_its_own_period(runner, runtime, whatsapp):
    include(whatsapp, runner, runtime)
    include(whatsapp, runner, runtime, phone=OTHER)
    flag(runner, runtime)
    first = run(runner, runtime, "vouchers", "issue", "--kind", "pharmacy", "--period", "2026-12", "--no-notify")
    assert "pharmacy 2026-12: issued 1, already issued 0" in first.output  # only the flagged person
    again = run(runner, runtime, "vouchers", "issue", "--kind", "pharmacy", "--period", "2026-12", "--no-notify")
    assert "pharmacy 2026-12: issued 0, already issued 1" in again.output
    weekly = run(runner, runtime, "vouchers", "issue", "--period", "2026-W49", "--no-notify")  # fits weekly kinds
    assert "supermarket 2026-W49: issued 2, already issued 0" in weekly.output
    assert "pharmacy" not in weekly.output
    issued = vouchers(runtime)
    assert sorted((v.kind, v.period, v.amount_cents) for v in issued) == [
        ("pharmacy", "2026-12", 2500), ("supermarket", "2026-W49", 1750), ("supermarket", "2026-W49", 1750)]
    pharmacy = next(v for v in issued if v.kind == "pharmacy")
    assert pharmacy.valid_until == date(2026, 12, 31)  # a monthly voucher lasts its month
    with runtime.session() as session:
        kinds = dict(session.execute(select(LedgerVoucher.code, LedgerVoucher.kind)).all())
    assert kinds[pharmacy.code] == "pharmacy"  # the till learns the kind from the ledger


def test_issuing_without_a_kind_issues_every_kind_due_and_is_idempotent(runner, runtime, whatsapp):
    include(whatsapp, runner, runtime)
    flag(runner, runtime)
    first = run(runner, runtime, "vouchers", "issue", "--no-notify")
    assert "supermarket 20" in first.output and "pharmacy 20" in first.output
    assert first.output.count("issued 1, already issued 0") == 2
    again = run(runner, runtime, "vouchers", "issue", "--no-notify")
    assert again.output.count("issued 0, already issued 1") == 2
    assert sorted(v.kind for v in vouchers(runtime)) == ["pharmacy", "supermarket"]


def test_unknown_kinds_periods_and_flags_get_a_clear_answer(runner, runtime, whatsapp):
    include(whatsapp, runner, runtime)
    unknown = runner.invoke(args=["vouchers", "issue", "--kind", "bakery", "--no-notify"])
    assert unknown.exit_code == 2 and "no kind of voucher is called 'bakery'" in unknown.output
    wrong = runner.invoke(args=["vouchers", "issue", "--kind", "pharmacy", "--period", "2026-W49", "--no-notify"])
    assert wrong.exit_code == 2 and "fits none of the kinds pharmacy" in wrong.output
    bad_flag = runner.invoke(args=["registrations", "flag", "--phone", PHONE, "--flag", "vip"])
    assert bad_flag.exit_code == 2 and "flags in use: pharmacy" in bad_flag.output
    assert vouchers(runtime) == []


def test_a_flag_cleared_stops_the_next_pharmacy_voucher(runner, runtime, whatsapp):
    include(whatsapp, runner, runtime)
    flag(runner, runtime)
    run(runner, runtime, "registrations", "flag", "--phone", PHONE, "--flag", "pharmacy", "--off")
    issued = run(runner, runtime, "vouchers", "issue", "--kind", "pharmacy", "--period", "2027-01", "--no-notify")
    assert "pharmacy 2027-01: issued 0, already issued 0" in issued.output


def test_the_till_refuses_a_kind_its_store_does_not_take(client, runner, runtime, whatsapp):
    include(whatsapp, runner, runtime)
    flag(runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--period", "2026-W49", "--no-notify")
    run(runner, runtime, "vouchers", "issue", "--kind", "pharmacy", "--period", "2026-12", "--no-notify")
    supermarket = run(runner, runtime, "vouchers", "add-store", "Jumbo Oost").output.strip()
    pharmacy = run(runner, runtime, "vouchers", "add-store", "BENU West", "--kind", "pharmacy").output.strip()
    codes = {v.kind: v.code for v in vouchers(runtime)}
    refused = redeem(client, supermarket, codes["pharmacy"], 500, "t-1")
    assert refused.status_code == 403
    assert refused.json == {"error": "wrong_kind", "message": "this store does not take pharmacy vouchers"}
    assert redeem(client, pharmacy, codes["supermarket"], 500, "t-2").json["error"] == "wrong_kind"
    spent = redeem(client, pharmacy, codes["pharmacy"], 500, "t-3")
    assert spent.status_code == 200 and spent.json["balance_cents"] == 2000
    unknown = runner.invoke(args=["vouchers", "add-store", "Bakker", "--kind", "bakery"])
    assert unknown.exit_code == 2 and "supermarket, pharmacy" in unknown.output


def test_the_balance_lists_each_kind(runner, runtime, whatsapp):
    include(whatsapp, runner, runtime)
    flag(runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--no-notify")
    replies = whatsapp.conversation("how much is left on my voucher", phone=PHONE)
    said = "\n".join(replies)
    assert "Supermarket voucher: €17.50 left of €17.50" in said
    assert "Pharmacy voucher: €25.00 left of €25.00" in said
    assert said.index("Supermarket voucher") < said.index("Pharmacy voucher")


def test_the_pharmacy_voucher_is_sent_in_its_own_words(runner, runtime, whatsapp, twilio):
    include(whatsapp, runner, runtime)
    flag(runner, runtime)
    run(runner, runtime, "vouchers", "issue")
    bodies = "\n".join(twilio.bodies(PHONE))
    assert "Your pharmacy voucher of €25.00" in bodies and "medicines and hygiene" in bodies
    assert "Your supermarket voucher of €17.50" in bodies


def test_vouchers_from_before_kinds_become_the_default_kind(runtime):
    """Down to 0018 (one voucher per person and week), a voucher as it was then, up again."""
    from alembic import command

    url = runtime.db.url.render_as_string(hide_password=False)
    config = alembic_config(url, runtime.db)
    command.downgrade(config, "0018")
    try:
        with runtime.db.begin() as connection:
            connection.execute(text(
                "INSERT INTO vouchers (period, provider_reference, code, pin, amount_cents, currency, valid_until, "
                "reminders, created_at) VALUES ('2026-W40', '2026-W40:old', 'DDA-OLD1', '1234', 1750, 'EUR', "
                "'2026-10-27', 0, '2026-09-28 08:00:00')"))
    finally:
        command.upgrade(config, "head")
    with runtime.session() as session:
        old = session.scalar(select(Voucher).where(Voucher.code == "DDA-OLD1"))
        assert old.kind == "supermarket"
        # one per person, kind and period now: the same week of another kind is allowed
        session.add(Voucher(period="2026-W40", kind="pharmacy", provider_reference="pharmacy:2026-W40:old",
                            code="DDA-OLD2", pin="1", amount_cents=1, currency="EUR", valid_until=date(2026, 10, 27)))
        session.commit()


@pytest.mark.parametrize("setting, message", [
    ({"vouchers.kinds": {"Bad Name": {}}}, "is not a kind's name"),
    ({"vouchers.kinds": {"bakery": {}}}, "kinds.bakery.texts: must be one of supermarket, pharmacy"),
    ({"vouchers.kinds": {"supermarket": {"period": "daily"}}}, "vouchers.kinds.supermarket.period"),
])
def test_a_wrong_kind_in_config_is_named(setting, message):
    from settings import SettingsError, load_settings
    from tests.conftest import ENVIRONMENT

    with pytest.raises(SettingsError, match=message):
        load_settings(environ={**ENVIRONMENT, "DATABASE_URL": "sqlite://"}, overrides=setting)


def test_the_helpdesk_ticket_and_the_desk_show_what_is_left_per_kind(client, runner, runtime, whatsapp):
    from store.models import Registration, Ticket
    from tests.test_helpdesk_web import sign_in

    include(whatsapp, runner, runtime)
    flag(runner, runtime)
    run(runner, runtime, "vouchers", "issue", "--no-notify")
    whatsapp.send("human", phone=PHONE)
    with runtime.session() as session:
        ticket = session.scalar(select(Ticket).order_by(Ticket.id.desc()))
        registration_id = session.scalar(select(Registration.id))
    sign_in(client, runtime, "supervisor")
    page = client.get(f"/helpdesk/tickets/{ticket.id}").text.replace("\u00a0", " ")
    assert "Left to spend: pharmacy €25.00 · supermarket €17.50" in page  # kinds in alphabetical order
    assert re.search(r"pharmacy <bdi>20\d\d-\d\d</bdi>", page)  # each voucher says its kind and period
    desk = client.get(f"/staff/desk/{registration_id}").text.replace("\u00a0", " ")
    assert "Left to spend: pharmacy €25.00 · supermarket €17.50" in desk


def test_the_weekly_cycle_issues_the_monthly_kind_once_a_month(runner, runtime, whatsapp):
    from datetime import UTC, datetime

    from jobs.scheduled import run_when_due

    include(whatsapp, runner, runtime)
    flag(runner, runtime)
    first = run_when_due(runtime, datetime(2026, 12, 7, 8, 30, tzinfo=UTC))  # a Monday, 09:30 in Amsterdam
    assert first["per kind"]["supermarket"]["period"] == "2026-W50"
    assert first["per kind"]["pharmacy"]["period"] == "2026-12" and first["issued"]["issued"] == 2
    second = run_when_due(runtime, datetime(2026, 12, 14, 8, 30, tzinfo=UTC))  # the next Monday
    assert second["per kind"]["pharmacy"] == {"period": "2026-12", "issued": 0, "already issued": 1, "failed": 0}
    assert sorted((v.kind, v.period) for v in vouchers(runtime)) == [
        ("pharmacy", "2026-12"), ("supermarket", "2026-W50"), ("supermarket", "2026-W51")]


def test_a_one_off_kind_is_issued_once_ever(runner, runtime, whatsapp, monkeypatch):
    from settings import VoucherKind
    from vouchers.issuance import issue_due

    winter = VoucherKind(amount_cents=5000, currency="EUR", period="one-off", valid_days=60, stores="",
                         texts="supermarket")
    monkeypatch.setitem(runtime.settings.vouchers.kinds, "winter", winter)
    include(whatsapp, runner, runtime)
    first = issue_due(runtime, date(2026, 12, 7), kinds=["winter"])
    assert first == {"winter": {"period": "once", "issued": 1, "already issued": 0, "failed": 0}}
    later = issue_due(runtime, date(2027, 3, 1), kinds=["winter"])
    assert later["winter"]["issued"] == 0 and later["winter"]["already issued"] == 1
    (voucher,) = [v for v in vouchers(runtime) if v.kind == "winter"]
    assert voucher.valid_until == date(2027, 2, 4)  # 60 days from the day it was issued


def test_a_supervisor_flags_a_person_for_the_pharmacy_voucher_on_their_page(client, runner, runtime, whatsapp):
    from store.models import AuditEntry, Registration
    from tests.test_staff import csrf, signed_in

    include(whatsapp, runner, runtime)
    with runtime.session() as session:
        registration_id = session.scalar(select(Registration.id))
    signed_in(client, runner, "supervisor")
    here = f"/staff/registrations/{registration_id}"
    page = client.get(here).text
    assert 'name="flags" value="pharmacy">' in page  # not ticked yet
    saved = client.post(f"/staff/registrations/{registration_id}/flags",
                        data={"flags": "pharmacy", "csrf_token": csrf(client, here)})
    assert saved.status_code == 302
    assert 'value="pharmacy" checked' in client.get(f"/staff/registrations/{registration_id}").text
    issued = run(runner, runtime, "vouchers", "issue", "--kind", "pharmacy", "--period", "2026-12", "--no-notify")
    assert "issued 1" in issued.output
    odd = client.post(f"{here}/flags", data={"flags": "vip", "csrf_token": csrf(client, here)})
    assert odd.status_code == 400 and "Flags are those a kind of voucher asks for: pharmacy" in odd.text
    with runtime.session() as session:
        assert session.scalar(select(AuditEntry.action).where(AuditEntry.detail == "pharmacy")) == "set flag"
