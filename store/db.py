"""Engine and session factory, shared by the web app, the workers and the CLI."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Table, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from settings import ROOT


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            database = Path(parsed.database)
            if not database.is_absolute():
                database = ROOT / database
                parsed = parsed.set(database=str(database))
            _private_file(database)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    # No pre-ping: it costs a round trip per request on the webhook's hot path; recycling
    # connections covers servers that drop idle ones.
    return create_engine(parsed, pool_recycle=300, pool_size=10, max_overflow=20)


def _private_file(database: Path) -> None:
    """The database holds personal data: only this service's user may read it. SQLite gives
    its -wal and -shm files the database file's mode, so they follow."""
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(database, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(database, 0o600)


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # SQLite's advice for WAL: a commit survives the process crashing, without an fsync each.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A deleted row's bytes are overwritten, not left in a free page for anyone who copies the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def statements_commit_alone(engine: Engine) -> Iterator[Any]:
    """A pooled connection's own DB-API connection on which each statement is its own
    transaction. On PostgreSQL that is autocommit: a read or a single write costs one round trip
    instead of three (BEGIN, the statement, COMMIT), which is what a hot path pays for most. On
    SQLite what was done is committed at the end. The connection goes back to the pool as it was
    taken, or is dropped from it if it broke."""
    pooled = engine.raw_connection()
    connection = pooled.driver_connection
    assert connection is not None  # a pooled connection just taken is open
    postgresql = isinstance(connection, psycopg.Connection)
    try:
        if postgresql:
            connection.autocommit = True
        yield connection
        if not postgresql:
            connection.commit()
    finally:
        if postgresql:
            try:
                connection.autocommit = False
            except psycopg.Error:  # the connection broke: the pool must not hand it out again
                pooled.invalidate()
        pooled.close()


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def table_of(model: type) -> Table:
    """A mapped class's table, for Core statements that do in one round trip what the ORM would
    do in several (claiming outbox rows, moving contacts to a new key)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table
