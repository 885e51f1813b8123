"""The floor the webhook is measured against: Flask under gunicorn answering Twilio's route with
the same empty TwiML, but without signature check, database or queue. The form is still parsed,
because any handler of a Twilio callback must read it; what remains is the service's own cost.

Served as `gunicorn bench.bare_app:app`.
"""
from __future__ import annotations

from flask import Flask, Response, request

from channels.twilio_webhook import EMPTY_TWIML

app = Flask(__name__)


@app.post("/twilio/whatsapp")
def inbound():
    if not request.form.get("MessageSid"):
        return Response("MessageSid is required\n", status=400)
    return Response(EMPTY_TWIML, mimetype="application/xml")


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
