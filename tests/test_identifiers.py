"""No identifier is handed out twice (issue 16): an erasure never lets a new person inherit an
old id or voucher, and the weekly run isolates each person."""
import sqlite3
from datetime import date

from sqlalchemy import select

from store.migrate import upgrade
from store.models import Contact, LedgerVoucher, Registration, Voucher
from tests.test_vouchers import PERIOD, include, run, vouchers


def erase(runner, runtime, phone):
    result = runner.invoke(args=["privacy", "erase", "--phone", phone, "--yes"])
    runtime.tasks.drain()
    assert result.exit_code == 0, result.output


def ids(runtime, model) -> list[int]:
    with runtime.session() as session:
        return list(session.scalars(select(model.id).order_by(model.id)))


def test_erasing_the_last_person_then_including_someone_new_gives_them_their_own_voucher(
        whatsapp, runner, runtime):
    include(whatsapp, runner, runtime, phone="+31612000001")
    include(whatsapp, runner, runtime, phone="+31612000002")
    run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    erased_voucher = vouchers(runtime)[-1]
    erased_contact, erased_registration = ids(runtime, Contact)[-1], ids(runtime, Registration)[-1]
    erase(runner, runtime, "+31612000002")

    include(whatsapp, runner, runtime, phone="+31612000003")
    result = run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")

    assert f"{PERIOD}: issued 1, already issued 1" in result.output
    assert ids(runtime, Contact)[-1] > erased_contact
    assert ids(runtime, Registration)[-1] > erased_registration
    issued = vouchers(runtime)
    assert len(issued) == 3 and issued[-1].id > erased_voucher.id
    newcomer = issued[-1]
    assert newcomer.code != erased_voucher.code and newcomer.provider_reference != erased_voucher.provider_reference
    with runtime.session() as session:
        key = session.scalar(select(Registration.issue_key).where(Registration.id == newcomer.registration_id))
        assert newcomer.provider_reference == f"{PERIOD}:{key}"  # the week and a random key, never a row id
        assert session.get(Voucher, erased_voucher.id).registration_id is None  # the accounts keep it, anonymous
        assert session.scalar(select(LedgerVoucher.code).where(
            LedgerVoucher.reference == newcomer.provider_reference)) == newcomer.code


def test_one_persons_failure_does_not_stop_the_run_and_is_retried_later(whatsapp, runner, runtime):
    for phone in ("+31612000001", "+31612000002", "+31612000003"):
        include(whatsapp, runner, runtime, phone=phone)
    with runtime.session() as session:
        blocked = session.scalars(select(Registration).order_by(Registration.id)).all()[1]
        # A row already holding the reference this person's voucher would get (a restored backup,
        # an old import): issuing for them fails, for them alone.
        session.add(Voucher(registration_id=None, contact_id=None, period=PERIOD, code="DDA-OLD",
                            provider_reference=f"{PERIOD}:{blocked.issue_key}", pin="0000", amount_cents=1,
                            currency="EUR", valid_until=date(2026, 12, 31)))
        session.commit()
        blocked_id = blocked.id

    result = runner.invoke(args=["vouchers", "issue", "--period", PERIOD, "--no-notify"])
    runtime.tasks.drain()
    assert result.exit_code == 1
    assert f"{PERIOD}: issued 2, already issued 0" in result.output
    assert "failed for 1" in result.output
    mine = [v for v in vouchers(runtime) if v.registration_id is not None]
    assert len(mine) == 2 and blocked_id not in {v.registration_id for v in mine}
    assert len({v.code for v in mine}) == 2

    with runtime.session() as session:
        session.delete(session.scalar(select(Voucher).where(Voucher.code == "DDA-OLD")))
        session.commit()
    again = run(runner, runtime, "vouchers", "issue", "--period", PERIOD, "--no-notify")
    assert f"{PERIOD}: issued 1, already issued 2" in again.output
    assert blocked_id in {v.registration_id for v in vouchers(runtime)}


def test_the_migration_keeps_every_row_and_stops_sqlite_reusing_ids(tmp_path):
    """A database from before: rows survive the rebuild (no cascade), and from then on a
    deleted last id is never handed out again."""
    path = tmp_path / "old.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url, "0014")
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO contacts (id, phone_key, phone, opted_out, channel, created_at) "
                           "VALUES (1, 'k1', 'x', 0, 'whatsapp', '2026-01-01'), "
                           "(2, 'k2', 'y', 0, 'whatsapp', '2026-01-01')")
        connection.execute("INSERT INTO messages (contact_id, direction, kind, sender, status, created_at, updated_at) "
                           "VALUES (1, 'in', 'text', 'person', 'received', '2026-01-01', '2026-01-01')")
        connection.execute("INSERT INTO registrations (contact_id, status, number_confirmed, join_code, created_at, "
                           "updated_at) VALUES (2, 'included', 1, 'ABC123', '2026-01-01', '2026-01-01')")
    upgrade(url)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM messages").fetchone() == (1,)
        key, = connection.execute("SELECT issue_key FROM registrations").fetchone()
        assert len(key) == 32
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("DELETE FROM contacts WHERE id = 2")
        connection.execute("INSERT INTO contacts (opted_out, channel, created_at) "
                           "VALUES (0, 'whatsapp', '2026-01-02')")
        assert connection.execute("SELECT max(id) FROM contacts").fetchone() == (3,)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
