"""Fixtures: the app on each backend, a signed Twilio client, a Twilio stand-in and a CLI runner.

Every test that takes `app` runs on SQLite with the in-process Redis and queue, and again on
PostgreSQL with real Redis when DATABASE_URL and REDIS_URL are set (as `.ci/run` does).
Under `pytest -n N` (as `make test` runs it) each worker has a database and a Redis database of its
own, so workers never empty each other's tables.
"""
from __future__ import annotations

import functools
import json
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask, request
from sqlalchemy import URL, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from store.data_keys import LOOKUP_KEY_ID, data_keys
from store.db import make_engine
from store.migrate import upgrade
from store.models import AuditEntry, Base

FIXTURES = Path(__file__).parent / "fixtures"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_URL = "https://dda.example.org"
ACCOUNT_SID = "ACf0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
SERVICE_NUMBER = "+14155238886"
SUITE_WAIT_MS = 120_000  # see `_patient_drain`

WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def _for_this_worker(url: str | None, kind: str) -> str | None:
    """Worker 0 uses the given database; worker n its n-th neighbour (`<database>_gw<n>`, or the
    Redis database n places on)."""
    if url is None or WORKER == 0:
        return url
    parsed = make_url(url) if kind == "database" else None
    if parsed is not None:
        return parsed.set(database=f"{parsed.database}_gw{WORKER}").render_as_string(hide_password=False)
    base, _, number = url.rpartition("/")
    return f"{base}/{(int(number or 0) + WORKER) % 16}"


SERVICES = {"database": _for_this_worker(os.environ.get("DATABASE_URL"), "database"),
            "redis": _for_this_worker(os.environ.get("REDIS_URL"), "redis")}
BACKENDS = ["embedded"] + (["services"] if SERVICES["database"] and SERVICES["redis"] else [])

ENVIRONMENT = {
    "SECRET_KEY": "test-secret-key-0123456789",
    "DDA_ENCRYPTION_KEY": "test-encryption-key-0123456789",
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_WHATSAPP_NUMBER": SERVICE_NUMBER,
    "PUBLIC_BASE_URL": PUBLIC_URL,
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    for key in ("DATABASE_URL", "DDA_KEYRING_URL", "REDIS_URL", "DDA_CONFIG", "TWILIO_API_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in ENVIRONMENT.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url():
    """The suite does not wait for PostgreSQL to flush each commit to disk: on a slow disk that
    wait was most of its time, and no test is about surviving a power cut."""
    url = make_url(SERVICES["database"]).update_query_dict({"options": "-csynchronous_commit=off"})
    _create_database(url)
    url = url.render_as_string(hide_password=False)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(url, engine=engine)
    engine.dispose()
    return url


def _create_database(url: URL) -> None:
    """Made on first use: CI's server has only the database it is given."""
    import psycopg
    from psycopg import sql

    maintenance = url.set(drivername="postgresql", database="postgres", query={})
    with psycopg.connect(maintenance.render_as_string(hide_password=False), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(url.database)))


@pytest.fixture(scope="session")
def postgres_keyring_url(postgres_url):
    """The keyring apart from the database, as in production: a second PostgreSQL database
    (`<test database>_keyring`), made on first use and emptied per session."""
    url = make_url(postgres_url)
    keyring = url.set(database=f"{url.database}_keyring")
    _create_database(keyring)
    keyring = keyring.render_as_string(hide_password=False)
    engine = make_engine(keyring)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS data_keys"))
    engine.dispose()
    return keyring


# What a service's first start writes (the shipped flows as release 1, and its audit line), per
# database: kept from the first test that made it and put back after the tables are emptied, so
# each test starts as a service that has started before. Checking and publishing the flows was
# a tenth of a second of every test's set-up.
_FIRST_START: dict[str, dict[str, list[dict]]] = {}

# PostgreSQL: one connection per database for the whole session, not one per test. SQLite's
# connection is closed after each emptying, as the last one to close removes the write-ahead
# log, which a test reads for what an erasure leaves behind.
_emptying: dict[str, Engine] = {}


def _empty_tables(url: str) -> None:
    """Each table's rows deleted, children first, and the ids started again. On PostgreSQL in one
    round trip; the append-only audit log, whose trigger refuses row deletes, is truncated
    (truncating every table made new files for each table and index: 75 ms a test, against 6)."""
    engine = _emptying.get(url) or make_engine(url)
    try:
        _empty(engine, url)
    except OperationalError:  # its server restarted since (the outage tests stop and start their own)
        engine.dispose()
        _empty(engine, url)
    if engine.dialect.name == "postgresql":
        _emptying[url] = engine
    else:
        engine.dispose()


def _empty(engine: Engine, url: str) -> None:
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if postgresql:
            audit = AuditEntry.__tablename__
            connection.connection.driver_connection.execute("; ".join([  # type: ignore[union-attr]
                f"TRUNCATE {audit} RESTART IDENTITY",
                *(f"DELETE FROM {table.name}" for table in reversed(Base.metadata.sorted_tables)
                  if table.name != audit),
                "SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S' "
                "AND relnamespace = 'public'::regnamespace"]))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
        first_start = _FIRST_START.get(url, {})
        for table in Base.metadata.sorted_tables:
            rows = first_start.get(table.name)
            if rows:
                connection.execute(table.insert(), rows)
                if postgresql:
                    connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                            f"{max(row['id'] for row in rows)})"))


def _remember_first_start(url: str, runtime) -> None:
    if url in _FIRST_START:
        return
    with runtime.db.connect() as connection:
        found = {table.name: [dict(row._mapping) for row in connection.execute(table.select())]
                 for table in Base.metadata.sorted_tables}
    _FIRST_START[url] = {name: rows for name, rows in found.items() if rows}


class TwilioStandIn:
    """A local HTTP server answering the Messages API the way Twilio does, recording each
    request; `fail_next` queues error answers (status, Twilio error code); `stall_next` keeps
    the message but answers only after `seconds` (a timeout after sending, for the client).
    The Messages list answers like Twilio's: newest first, filtered by To and From.
    It also answers the Content API's Create Content (`contents`, by SID; `fail_content_next`),
    and `bodies` shows a message sent with a content as the person sees it."""

    def __init__(self):
        self.requests: list[dict] = []
        self.failures: list[tuple[int, int]] = []
        self.stalls: list[float] = []
        self.contents: dict[str, dict] = {}
        self.content_failures: list[tuple[int, int]] = []
        self.approvals: dict[str, dict] = {}  # Content SID -> WhatsApp's approval (status, name, category)
        self.lock = threading.Lock()
        app = Flask("twilio-stand-in")

        @app.post("/v1/Content")
        def create_content():
            with self.lock:
                if self.content_failures:
                    status, code = self.content_failures.pop(0)
                    return {"code": code, "message": "stand-in failure", "more_info": "", "status": status}, status
                sid = "HX" + uuid.uuid4().hex
                self.contents[sid] = request.get_json()
            return {"sid": sid, "account_sid": ACCOUNT_SID, **self.contents[sid]}, 201

        @app.post("/v1/Content/<sid>/ApprovalRequests/whatsapp")
        def submit_for_approval(sid):
            with self.lock:
                if sid not in self.contents:
                    return {"code": 20404, "message": "not found", "more_info": "", "status": 404}, 404
                self.approvals[sid] = {"type": "whatsapp", "status": "received", "rejection_reason": "",
                                       **request.get_json()}
                return dict(self.approvals[sid]), 201

        @app.get("/v1/Content/<sid>/ApprovalRequests")
        def approval(sid):
            with self.lock:
                return {"sid": sid, "account_sid": ACCOUNT_SID,
                        "whatsapp": dict(self.approvals.get(sid, {"status": "unsubmitted"}))}

        @app.post("/2010-04-01/Accounts/<account>/Messages.json")
        def create(account):
            with self.lock:
                if self.failures:
                    status, code = self.failures.pop(0)
                    return {"code": code, "message": "stand-in failure", "more_info": "", "status": status}, status
                sid = "SM" + uuid.uuid4().hex
                self.requests.append({"account": account, "form": request.form.to_dict(flat=False), "sid": sid,
                                      "at": datetime.now(UTC)})
                stall = self.stalls.pop(0) if self.stalls else 0
            if stall:
                time.sleep(stall)
            return {"sid": sid, "status": "queued", "account_sid": account, "to": request.form["To"],
                    "from": request.form["From"], "body": request.form.get("Body", "")}, 201

        @app.get("/2010-04-01/Accounts/<account>/Messages.json")
        def listing(account):
            with self.lock:
                found = [r for r in self.requests if r["form"]["To"][0] == request.args.get("To", r["form"]["To"][0])
                         and r["form"]["From"][0] == request.args.get("From", r["form"]["From"][0])]
            page = [{"sid": r["sid"], "status": "sent", "to": r["form"]["To"][0], "from": r["form"]["From"][0],
                     "date_created": format_datetime(r["at"], usegmt=True)} for r in reversed(found)]
            return {"messages": page[:int(request.args.get("PageSize", 50))], "next_page_uri": None,
                    "page": 0, "page_size": len(page)}

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail_next(self, status: int, code: int, times: int = 1) -> None:
        self.failures += [(status, code)] * times

    def decide(self, status: str, reason: str = "", language: str | None = None) -> None:
        """WhatsApp answers every submitted template (of one language): approved, rejected…"""
        with self.lock:
            for sid, approval in self.approvals.items():
                if language is None or self.contents[sid]["language"] == language:
                    approval.update(status=status, rejection_reason=reason)

    def fail_content_next(self, status: int, code: int, times: int = 1) -> None:
        self.content_failures += [(status, code)] * times

    def shown(self, message: dict) -> str:
        """What WhatsApp shows for a sent message: its body, or a content's text with its
        buttons as [title], or its list as ☰ and the list's button, then a `- title — description` per row."""
        content = self.contents.get(message.get("ContentSid", ""))
        if content is None:
            return message.get("Body", "")
        variables = json.loads(message.get("ContentVariables") or "{}")
        kind, data = next(iter(content["types"].items()))
        body = data["body"]
        for name, value in variables.items():
            body = body.replace("{{" + name + "}}", value)
        if kind == "twilio/quick-reply":
            return body + "\n\n" + " ".join(f"[{action['title']}]" for action in data["actions"])
        rows = [f"- {item['item']}" + (f" — {item['description']}" if item.get("description") else "")
                for item in data.get("items", [])]
        return "\n".join([body, "", f"☰ {data.get('button')}", *rows])

    def stall_next(self, seconds: float, times: int = 1) -> None:
        self.stalls += [seconds] * times

    def sent(self, to: str | None = None) -> list[dict]:
        """The messages sent so far, as flat dicts, optionally only those to one number."""
        found = [{k: v[0] if len(v) == 1 else v for k, v in r["form"].items()} | {"Sid": r["sid"]}
                 for r in self.requests]
        return [m for m in found if to is None or m["To"] == f"whatsapp:{to}"]

    def bodies(self, to: str | None = None) -> list[str]:
        return [self.shown(m) for m in self.sent(to)]

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="session")
def twilio_server():
    server = TwilioStandIn()
    yield server
    server.close()


@pytest.fixture
def twilio(twilio_server, monkeypatch):
    twilio_server.requests.clear()
    twilio_server.failures.clear()
    twilio_server.stalls.clear()
    twilio_server.content_failures.clear()
    twilio_server.contents.clear()
    twilio_server.approvals.clear()
    monkeypatch.setenv("TWILIO_API_BASE_URL", twilio_server.url)
    return twilio_server


@pytest.fixture(scope="session", autouse=True)
def _patient_drain():
    """The suite waits for the workers as `flask chat` does, but longer: that wait only guards
    against a hang, and on CI's crowded machine (the suite 3.5 times slower than on an idle one)
    single turns went past 30 s and failed tests that were right."""
    from delivery.tasks import Tasks

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Tasks, "drain", functools.partialmethod(Tasks.drain, timeout_ms=SUITE_WAIT_MS))
        yield


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def app(backend, request, twilio, monkeypatch):
    from webhook import create_app

    if backend == "services":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DDA_KEYRING_URL", request.getfixturevalue("postgres_keyring_url"))
        monkeypatch.setenv("REDIS_URL", SERVICES["redis"])
        import redis

        from delivery.tasks import QUEUE_MARKER

        queue = redis.Redis.from_url(SERVICES["redis"])
        queue.flushdb()
        # A new queue, not one that lost its jobs: else a worker's first look (a second after it
        # starts) queues again whatever waits then, and a test counting jobs counts that too.
        queue.set(QUEUE_MARKER, "1")
    else:
        url = request.getfixturevalue("sqlite_url")
        monkeypatch.setenv("DATABASE_URL", url)
    _empty_tables(url)
    application = create_app(embedded_worker=False)
    application.config["TESTING"] = True
    runtime = application.extensions["dda"]
    _remember_first_start(url, runtime)
    with runtime.data_keys.engine.begin() as connection:  # the keyring starts empty too (but its lookup secret)
        connection.execute(data_keys.delete().where(data_keys.c.id != LOOKUP_KEY_ID))
    runtime.data_keys.forget()
    runtime.tasks.start_worker(threads=3, sweep_every=3600, idle_ms=20)
    yield application
    runtime.close()


@pytest.fixture
def runtime(app):
    return app.extensions["dda"]


@pytest.fixture
def simulator_on(runtime, monkeypatch):
    """The phone simulator on. The suite's app speaks to Twilio, so it has the simulator off, as a
    production service does."""
    monkeypatch.setattr(runtime.settings.simulator, "enabled", True)


@pytest.fixture
def draft(tmp_path, runtime):
    """The editors' files (flows and catalogs) in a folder of their own, as the service reads
    them: what a test changes there is a draft until published (releases/flows.py)."""
    import shutil

    from settings import ROOT

    flows, catalogs = tmp_path / "flows", tmp_path / "translations"
    shutil.copytree(ROOT / "flows", flows, ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(ROOT / "translations", catalogs, ignore=shutil.ignore_patterns("*.py", "*.mo", "__pycache__"))
    runtime.settings.content.flows, runtime.settings.content.translations = flows, catalogs
    return tmp_path


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def sign(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


class WhatsApp:
    """Posts signed webhook requests as Twilio would, and waits for the bot to finish."""

    def __init__(self, client, runtime, twilio):
        self.client = client
        self.runtime = runtime
        self.twilio = twilio
        self.counter = 0

    def post(self, path: str, params: dict, *, signature: str | None = None, url: str | None = None):
        body = urlencode(params)
        signature = signature if signature is not None else sign(url or PUBLIC_URL + path, params)
        return self.client.post(path, data=body, content_type="application/x-www-form-urlencoded",
                                headers={"X-Twilio-Signature": signature})

    def send(self, text: str = "", phone: str = "+31612345678", wait: bool = True, **extra):
        self.counter += 1
        params = fixture("inbound_text") | {"Body": text, "From": f"whatsapp:{phone}", "WaId": phone[1:]}
        if not phone.startswith("+"):  # a WhatsApp user ID (username user): Twilio sends no WaId
            del params["WaId"]
        sid = "SM" + uuid.uuid4().hex
        params.update(MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
        params.update(extra)
        response = self.post("/twilio/whatsapp", params)
        assert response.status_code == 200, response.data
        if wait:
            self.wait()
        return response

    def wait(self):
        self.runtime.tasks.drain()

    def replies(self, phone: str = "+31612345678") -> list[str]:
        return self.twilio.bodies(phone)

    def conversation(self, *messages: str, phone: str = "+31612345678") -> list[str]:
        """Send each message in turn; return the replies to the last one."""
        for message in messages:
            before = len(self.replies(phone))
            self.send(message, phone=phone)
        return self.replies(phone)[before:]


@pytest.fixture
def whatsapp(client, runtime, twilio):
    return WhatsApp(client, runtime, twilio)
