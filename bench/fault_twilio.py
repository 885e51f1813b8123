"""A mock of Twilio for the fault benchmark (bench/faults.py), closer to Twilio than
bench/mock_twilio.py where faults need it: every message it accepts is called back to its
StatusCallback URL ("sent", signed like Twilio's), and the Messages list answers from what it
has, so a row a killed worker left in doubt is settled the way production settles it. Menus'
contents (Content API) are accepted; a menu's text is in its variables.

`python -m bench.fault_twilio PORT AUTH_TOKEN`. GET /log?since=N answers the messages accepted
from the N-th on (to, body, outbox row, time received), for the benchmark to read replies from.
"""
from __future__ import annotations

import json
import queue
import re
import sys
import threading
import time
import urllib.request
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

OUTBOX = re.compile(r"outbox=(\d+)")
CALLBACK_DELAY = 0.2
CALLBACK_THREADS = 4

lock = threading.Lock()
log: list[dict] = []
callbacks: queue.Queue = queue.Queue()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, document) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length).decode()
        if urlsplit(self.path).path.startswith("/v1/Content"):  # a menu's buttons or list, made once
            self._answer(201, {"sid": "HX" + uuid.uuid4().hex} | json.loads(data or "{}"))
            return
        form = {key: values[0] for key, values in parse_qs(data).items()}
        sid = "SM" + uuid.uuid4().hex
        callback = form.get("StatusCallback", "")
        found = OUTBOX.search(callback)
        text = form.get("Body") or " ".join(json.loads(form.get("ContentVariables") or "{}").values())
        record = {"sid": sid, "to": form.get("To", ""), "from": form.get("From", ""), "body": text,
                  "outbox": int(found.group(1)) if found else None, "at": time.time()}
        with lock:
            log.append(record)
        if callback:
            callbacks.put((time.monotonic() + CALLBACK_DELAY, callback, sid))
        self._answer(201, {"sid": sid, "status": "queued", "to": record["to"], "from": record["from"],
                           "body": record["body"]})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/log":
            with lock:
                self._answer(200, log[int(query.get("since", 0)):])
            return
        with lock:
            found = [r for r in log
                     if r["to"] == query.get("To", r["to"]) and r["from"] == query.get("From", r["from"])]
        page = [{"sid": r["sid"], "status": "sent", "to": r["to"], "from": r["from"],
                 "date_created": formatdate(r["at"], usegmt=True)} for r in reversed(found)]
        self._answer(200, {"messages": page[:int(query.get("PageSize", 50))], "next_page_uri": None, "page": 0,
                           "page_size": len(page)})


def call_back(token: str) -> None:
    """Twilio calls back a moment after accepting; a web server that does not answer is tried
    again a few times, as Twilio does."""
    validator = RequestValidator(token)
    while True:
        due, url, sid = callbacks.get()
        time.sleep(max(0.0, due - time.monotonic()))
        params = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": "sent", "SmsStatus": "sent",
                  "AccountSid": "AC" + "0123456789abcdef" * 2}
        request = urllib.request.Request(url, data=urlencode(params).encode(), method="POST", headers={
            "X-Twilio-Signature": validator.compute_signature(url, params),
            "Content-Type": "application/x-www-form-urlencoded"})
        for attempt in range(5):
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    answer.read()
                break
            except OSError:
                time.sleep(1 + attempt)


def main(port: int, token: str) -> None:
    for _ in range(CALLBACK_THREADS):
        threading.Thread(target=call_back, args=(token,), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
