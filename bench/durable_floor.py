"""A second floor for the webhook benchmark: the least any durable webhook does on this machine.

The bare app (bench/bare_app.py) says what the HTTP stack costs. This one adds what no webhook
that keeps its promise can leave out, the message committed to PostgreSQL before the 200, and
nothing else: no signature, no encryption, no person, no hand-over to the workers. One plain
INSERT on a connection of the thread's own, in autocommit, deduplicated by the MessageSid. So
floor/bare says how much of the bare app's throughput durability alone costs here, and
webhook/floor what the service's own work costs on top of it.

Served as `gunicorn bench.durable_floor:app` with the bench's DATABASE_URL; its table lives in
the bench's database only and is dropped before each run (`empty`).
"""
from __future__ import annotations

import os
import threading

import psycopg
from flask import Flask, Response, request

from channels.twilio_webhook import EMPTY_TWIML

TABLE = "bench_floor_messages"
_CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, sid text UNIQUE NOT NULL, body text)"
_INSERT = f"INSERT INTO {TABLE} (sid, body) VALUES (%s, %s) ON CONFLICT (sid) DO NOTHING"

app = Flask(__name__)
_thread = threading.local()


def store(sid: str, body: str | None) -> None:
    """The floor's whole work: the message committed, once, on this thread's own connection."""
    connection = getattr(_thread, "connection", None)
    if connection is None or connection.closed:
        connection = _thread.connection = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
        connection.execute(_CREATE)
    connection.execute(_INSERT, (sid, body))


def empty(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {TABLE}")


@app.post("/twilio/whatsapp")
def inbound():
    sid = request.form.get("MessageSid")
    if not sid:
        return Response("MessageSid is required\n", status=400)
    store(sid, request.form.get("Body"))
    return Response(EMPTY_TWIML, mimetype="application/xml")


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
