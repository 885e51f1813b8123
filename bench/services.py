"""The bench's own PostgreSQL database and Redis db: a run must never touch the test suite's
(database `test`, Redis db 1), and every run starts from the same empty state so that runs
can be compared. Override with BENCH_DATABASE_URL and BENCH_REDIS_URL.
"""
from __future__ import annotations

import os

import psycopg
import redis
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

from store.db import make_engine
from store.migrate import upgrade
from store.models import Base

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dda_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")


def keyring_url(url: str) -> str:
    """The bench's keyring: a database of its own beside the bench's (`<database>_keyring`), as in
    production, so no local keyring file of `make run` (made with another key) is picked up."""
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_keyring").render_as_string(hide_password=False)


_emptied_keyrings: set[str] = set()


def prepare_database(url: str = DATABASE_URL) -> None:
    """Create the database and its keyring if needed, migrate the one and empty both. The keyring
    is emptied once per bench process, before anything here opens it: a later benchmark's
    seeding shares the open keyring with the servers it starts."""
    keyring = keyring_url(url)
    _create_database(keyring)
    if keyring not in _emptied_keyrings:
        engine = make_engine(keyring)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP TABLE IF EXISTS data_keys"))
        finally:
            engine.dispose()
        _emptied_keyrings.add(keyring)
    _create_database(url)
    upgrade(url)
    engine = make_engine(url)
    try:
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def prepare_redis(url: str = REDIS_URL) -> None:
    """Empty the db: the queue of the previous run would otherwise grow without end, as the bench
    starts no workers."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def _create_database(url: str) -> None:
    """CREATE DATABASE cannot run inside the database it makes, nor in a transaction, hence a
    separate autocommit connection to the server's `postgres` database."""
    target = make_url(url)
    maintenance = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))


def on_each_database(measure) -> dict:
    """Run `measure(url)` on a fresh SQLite file and on the bench's emptied PostgreSQL, with
    personal data encrypted as in production. PostgreSQL is skipped on a machine without it."""
    import tempfile

    from settings import default_keyring_url
    from store import personal

    personal.configure("bench-encryption-key-0123456789")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        upgrade(url)
        personal.open_data_keys(default_keyring_url(url))
        results["sqlite"] = measure(url)
    try:
        prepare_database(DATABASE_URL)
    except Exception as error:  # noqa: BLE001  (any reason PostgreSQL is not there)
        print(f"  (postgresql skipped: {type(error).__name__})")
        return results
    personal.open_data_keys(keyring_url(DATABASE_URL))
    results["postgresql"] = measure(DATABASE_URL)
    return results
