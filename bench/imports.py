"""A partner list of 50,000 numbers, imported: the goal is well under a minute."""
from __future__ import annotations

import json
import time

from bench.services import on_each_database
from registration.imports import import_contacts
from settings import ROOT
from store.db import make_engine, make_sessionmaker

ROWS = 50_000
GOAL_SECONDS = 30
OUT = ROOT / "var" / "bench" / "imports.json"


def _csv() -> str:
    lines = ["phone,language,partner reference"]
    lines += [f"+316{10000000 + n},{'nl' if n % 3 else 'ar'},REF-{n}" for n in range(ROWS)]
    return "\n".join(lines) + "\n"


def _measure(url: str) -> tuple[float, float, int]:
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    text = _csv()
    started = time.perf_counter()
    report = import_contacts(session, text, partner_name="Bench", secret="bench-secret-0123456789", region="NL",
                             languages=["nl", "ar"], actor="bench")
    session.commit()
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = import_contacts(session, text, partner_name="Bench", secret="bench-secret-0123456789", region="NL",
                            languages=["nl", "ar"], actor="bench")
    session.commit()
    second = time.perf_counter() - started
    session.close()
    engine.dispose()
    assert again.accepted == 0
    return first, second, report.accepted


def run() -> bool:
    results = on_each_database(_measure)
    print(f"\nPartner import of {ROWS:,} rows (goal: under {GOAL_SECONDS} s)")
    met = True
    for name, (first, second, imported) in results.items():
        ok = first < GOAL_SECONDS
        met &= ok
        print(f"  {'PASS' if ok else 'FAIL'}  {name:<11} first import {first:5.1f} s ({imported:,} imported, "
              f"{imported / first:,.0f} rows/s); same file again {second:5.1f} s, nothing changed")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({k: {"first_s": round(v[0], 2), "again_s": round(v[1], 2), "imported": v[2]}
                               for k, v in results.items()}, indent=2))
    return met


if __name__ == "__main__":
    run()
