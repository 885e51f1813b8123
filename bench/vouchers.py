"""The weekly issuance for 40,000 included people: the goal is under a minute."""
from __future__ import annotations

import json
import time
from types import SimpleNamespace

from sqlalchemy import insert, text

from bench.services import on_each_database
from settings import ROOT, Vouchers
from store.db import make_engine, make_sessionmaker
from store.models import Contact, Registration, utcnow
from vouchers.issuance import issue_period
from vouchers.provider import LocalLedger

PEOPLE = 40_000
GOAL_SECONDS = 60
OUT = ROOT / "var" / "bench" / "vouchers.json"


def _people(session) -> None:
    now = utcnow()
    for start in range(0, PEOPLE, 5000):
        # Issuing needs no number: the people have none here.
        session.execute(insert(Contact), [{"opted_out": False, "created_at": now} for n in range(start, start + 5000)])
    ids = [row[0] for row in session.execute(text("SELECT id FROM contacts ORDER BY id"))]
    session.execute(insert(Registration), [{"contact_id": cid, "status": "included", "join_code": f"J{cid}",
                                            "number_confirmed": True, "created_at": now, "updated_at": now}
                                           for cid in ids])
    session.commit()


def _measure(url: str) -> tuple[float, float, int]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        _people(session)
    runtime = SimpleNamespace(settings=SimpleNamespace(vouchers=Vouchers(amount_cents=1750, currency="EUR")),
                              session=sessions, vouchers=LocalLedger())
    started = time.perf_counter()
    counts = issue_period(runtime, "2026-W49")
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = issue_period(runtime, "2026-W49")
    second = time.perf_counter() - started
    engine.dispose()
    assert again["issued"] == 0 and again["already issued"] == PEOPLE
    return first, second, counts["issued"]


def run() -> bool:
    results = on_each_database(_measure)
    print(f"\nWeekly voucher issuance for {PEOPLE:,} included people (goal: under {GOAL_SECONDS} s)")
    met = True
    for name, (first, second, issued) in results.items():
        ok = first < GOAL_SECONDS and issued == PEOPLE
        met &= ok
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<11} issued {issued:,} in {first:5.1f} s "
              f"({issued / first:,.0f}/s); run again: {second:4.1f} s, nothing issued twice")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({k: {"first_s": round(v[0], 2), "again_s": round(v[1], 2), "issued": v[2]}
                               for k, v in results.items()}, indent=2))
    return met


if __name__ == "__main__":
    run()
