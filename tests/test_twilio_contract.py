"""Contract test: the Twilio adapter against Twilio's own OpenAPI description, served by Prism.

The other tests answer the adapter with a hand-written stand-in (conftest.TwilioStandIn), which
accepts whatever we send. Here Prism serves ../shared/specs/twilio_api_v2010.json as a mock Twilio
that validates every request (parameter names, required fields, SID patterns, URI formats, Basic
auth) and answers 422 when a request breaks the API, so a change in the adapter or in the Twilio SDK
that real Twilio would refuse fails in CI instead of in production.

Prism is a Node tool (package.json, `npm ci`; `.ci/run` installs it). Without
node_modules/.bin/prism, or without the shared specs, the module is skipped, not failed.
Prism starts once for the module and answers in milliseconds, so the module stays well under 60 s.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from twilio.base.exceptions import TwilioRestException

from bot.menus import layout
from bot.messages import numbered
from channels.base import Outgoing, PermanentFailure, Sent
from channels.twilio_content import content_request
from channels.twilio_sender import TwilioChannel
from delivery.outbox import split_text
from settings import ROOT
from store.db import make_engine, make_sessionmaker
from store.models import Base, WhatsAppContent

PRISM = ROOT / "node_modules" / ".bin" / "prism"
SPEC = ROOT.parent / "shared" / "specs" / "twilio_api_v2010.json"
CONTENT_SPEC = ROOT.parent / "shared" / "specs" / "twilio_content_v1.json"
START_TIMEOUT = 60  # seconds; Prism needs about two to read the spec

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "contract-test-auth-token"
SERVICE_NUMBER = "+14155238886"
STATUS_CALLBACK = "https://dda.example.org/twilio/status"
RECIPIENT = "+31612345678"
CONTENT_SID = "HX" + "fedcba9876543210" * 2
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")


def with_default_form_encodings(spec: dict) -> dict:
    """The spec with OpenAPI's default encoding of form-body arrays written out.

    OpenAPI 3 says an array property of an application/x-www-form-urlencoded body defaults to
    style `form`, explode `true`: `MediaUrl=https://…` (repeated for more) is a one-item array,
    which is what the Twilio SDK sends and what Twilio accepts. Prism (up to 5.16.0 at least) only
    deserialises a form array when the spec names an encoding for it, and otherwise rejects a
    valid media message with "Request body property MediaUrl must be array"
    (stoplightio/prism#2473, #2654). Spelling out the default changes nothing else in the spec:
    every other constraint is still checked.
    """
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            form = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
            if not form:
                continue
            encoding = form.setdefault("encoding", {})
            for name, schema in form.get("schema", {}).get("properties", {}).items():
                if schema.get("type") == "array" and name not in encoding:
                    encoding[name] = {"style": "form", "explode": True}
    return spec


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    """Prism mocking Twilio's REST API on a free port, with `--errors` so any request or response
    that violates the spec is answered with an error; stopped when the module is done."""
    yield from serve(SPEC, tmp_path_factory)


@pytest.fixture(scope="module")
def prism_content(tmp_path_factory):
    """Prism mocking Twilio's Content API (content.twilio.com), on a port of its own."""
    yield from serve(CONTENT_SPEC, tmp_path_factory)


def serve(source: Path, tmp_path_factory):
    if not PRISM.exists():
        pytest.skip("Prism is not installed: run `npm ci` in the project root for the Twilio contract test")
    if not source.is_file():
        pytest.skip(f"Twilio's OpenAPI description is missing at {source} (the shared ../shared/specs)")
    folder = tmp_path_factory.mktemp("prism")
    spec = folder / source.name
    spec.write_text(json.dumps(with_default_form_encodings(json.loads(source.read_text(encoding="utf-8")))),
                    encoding="utf-8")
    port = free_port()
    log_path = folder / "prism.log"
    with open(log_path, "wb") as log, pytest.MonkeyPatch.context() as patch:
        # A proxy in the environment must not intercept requests to the local mock.
        patch.setenv("NO_PROXY", ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"])))
        process = subprocess.Popen(
            [str(PRISM), "mock", "--host", "127.0.0.1", "--port", str(port), "--errors", str(spec)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if process.poll() is not None:
                    pytest.fail(f"Prism exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"Prism did not listen within {START_TIMEOUT} s:\n{log_path.read_text()[-3000:]}")
                    time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


@pytest.fixture
def channel(prism, prism_content, tmp_path):
    """The adapter as the service builds it, with its table of contents in a database of its own."""
    engine = make_engine(f"sqlite:///{tmp_path / 'contents.sqlite3'}")
    Base.metadata.create_all(engine, tables=[WhatsAppContent.__table__])
    yield TwilioChannel(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, whatsapp_number=SERVICE_NUMBER,
                        status_callback=STATUS_CALLBACK, api_base_url=prism, timeout=10,
                        session_factory=make_sessionmaker(engine), content_base_url=prism_content)
    engine.dispose()


def last_answer(channel: TwilioChannel) -> str:
    """Prism's answer to the last request (problem+json with `validation` on a 422)."""
    response = getattr(channel.client.http_client, "_test_only_last_response", None)
    return response.text if response is not None else ""


def assert_accepted(sent: Sent, channel: TwilioChannel) -> None:
    assert isinstance(sent, Sent), last_answer(channel)
    assert isinstance(sent.provider_sid, str) and MESSAGE_SID.fullmatch(sent.provider_sid), sent
    assert sent.status == "queued"  # the status in the spec's example answer


def test_text_message(channel):
    """A plain WhatsApp text with a status callback is a valid Create Message request."""
    assert_accepted(channel.send(Outgoing(to=RECIPIENT, body="Your voucher of € 25 is ready. 👍")), channel)
    request = channel.client.http_client._test_only_last_request
    assert request.url.endswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert request.data["From"] == f"whatsapp:{SERVICE_NUMBER}" and request.data["To"] == f"whatsapp:{RECIPIENT}"


def test_media_message(channel):
    """Body plus one MediaUrl: the SDK sends `MediaUrl` once, a one-item array."""
    message = Outgoing(to=RECIPIENT, body="The map to the help desk", media_url="https://dda.example.org/media/map.png")
    assert_accepted(channel.send(message), channel)


def test_template_message(channel):
    """A Content API template: ContentSid (HX + 32 hex) with ContentVariables as a JSON string."""
    message = Outgoing(to=RECIPIENT, content_sid=CONTENT_SID, content_variables={"1": "Amira", "2": "€ 25"})
    assert_accepted(channel.send(message), channel)


def test_split_text_message(channel):
    """A text longer than WhatsApp's 1600 characters goes out as several messages, each valid."""
    paragraph = ("Welkom bij Direct Digital Aid. مرحبا بك. Bienvenue. Your weekly voucher can be used in "
                 "every participating supermarket; ask a helper if anything is unclear. ")
    text = "\n\n".join(paragraph * 3 for _ in range(8))
    parts = split_text(text, 1600)
    assert len(parts) >= 3 and all(len(part) <= 1600 for part in parts)
    for part in parts:
        assert_accepted(channel.send(Outgoing(to=RECIPIENT, body=part)), channel)


def test_request_without_recipient_is_rejected(channel):
    """The contract is enforced: Create Message without the required `To` is refused (422),
    so the positive tests above prove something."""
    with pytest.raises(TwilioRestException) as refused:
        channel.client.messages.create(to=None, from_=channel.sender, body="no recipient",
                                       status_callback=STATUS_CALLBACK)
    assert refused.value.status == 422
    problems = json.loads(last_answer(channel))["validation"]
    assert any(problem["code"] == "required" and "'To'" in problem["message"] for problem in problems), problems


def test_malformed_content_sid_is_rejected_through_the_adapter(channel):
    """A ContentSid that is not HX + 32 hex breaks the spec and comes back from the adapter as an
    error (whether it calls the refusal permanent is its retry policy, not the contract)."""
    with pytest.raises((TwilioRestException, PermanentFailure)):
        channel.send(Outgoing(to=RECIPIENT, content_sid="HX123", content_variables={"1": "Amira"}))
    assert channel.client.http_client._test_only_last_response.status_code == 422
    problems = json.loads(last_answer(channel))["validation"]
    assert any(problem["location"] == ["body", "ContentSid"] and problem["code"] == "pattern"
               for problem in problems), problems


# -- the Content API: reply buttons and list pickers -----------------------------------------
BUTTONS = [{"payload": "delete_data.confirm.1", "label": "Yes, delete everything", "short": "Yes, delete all"},
           {"payload": "delete_data.confirm.2", "label": "No, keep my data"}]
ROWS = [{"payload": f"main.menu.{n}", "label": label} for n, label in enumerate(
    ["Register for the program", "Talk to a person", "Change language", "Delete my data", "Stop messages",
     "My vouchers", "Find help near you"], 1)] + [
    {"payload": "pick.amsterdam-noord-huisartsenpraktijk", "label": "Huisartsenpraktijk Amsterdam-Noord (walk-in)"}]
CONTENT = re.compile(r"HX[0-9a-fA-F]{32}")


def test_quick_reply_content_is_a_valid_create_content_request(channel):
    menu = layout("Are you sure?", BUTTONS)
    assert menu.kind == "buttons"
    sid, made = channel.contents.ensure(content_request(menu, "en", "Choose"))
    assert made and CONTENT.fullmatch(sid), last_answer(channel)
    request = channel.client.http_client._test_only_last_request
    assert request.url.endswith("/v1/Content") and request.method == "POST"
    assert channel.contents.ensure(content_request(menu, "en", "Choose")) == (sid, False)  # from the table


def test_list_picker_content_with_descriptions_is_valid(channel):
    menu = layout("هل تريد؟", ROWS)
    assert menu.kind == "list" and any(item.description for item in menu.items)
    sid, made = channel.contents.ensure(content_request(menu, "ar", "اختر"))
    assert made and CONTENT.fullmatch(sid), last_answer(channel)


def test_a_menu_is_sent_with_its_content_and_variables(channel):
    """The whole path: the content is made at the Content API, then Create Message carries
    ContentSid and ContentVariables (no Body), both accepted by their specs."""
    message = Outgoing(to=RECIPIENT, body=numbered("Are you sure?", [o["label"] for o in BUTTONS]),
                       options=tuple(BUTTONS), language="en")
    assert_accepted(channel.send(message), channel)
    request = channel.client.http_client._test_only_last_request
    assert request.url.endswith("/Messages.json") and "Body" not in request.data
    assert CONTENT.fullmatch(request.data["ContentSid"])
    assert json.loads(request.data["ContentVariables"]) == {"1": "Are you sure?"}


def test_create_content_contract_is_enforced(channel):
    """A content without `types` breaks the Content API's spec and is refused (422), so the tests
    above prove something; the adapter raises it when asked to (`flask whatsapp sync`)."""
    request = content_request(layout("Are you sure?", BUTTONS), "en", "Choose")
    broken = type(request)(key=request.key, kind=request.kind, language="en", body={"language": "en"})
    with pytest.raises(TwilioRestException) as refused:
        channel.contents.ensure(broken)
    assert refused.value.status == 422


def test_message_to_a_whatsapp_user_id(channel):
    """A person who hides their number behind a WhatsApp username is written to at their
    business-scoped user ID: `To` is `whatsapp:NL.…`, a valid Create Message request."""
    user_id = "NL.13491208655302741918"
    assert_accepted(channel.send(Outgoing(to=user_id, body="Uw bon van € 17,50 staat klaar.")), channel)
    request = channel.client.http_client._test_only_last_request
    assert request.data["To"] == f"whatsapp:{user_id}"
    template = Outgoing(to="NL.ENT.4471aBc9", content_sid=CONTENT_SID, content_variables={"1": "€ 17,50"})
    assert_accepted(channel.send(template), channel)


def test_a_template_is_made_submitted_for_approval_and_its_state_read_as_the_spec_says(channel):
    """`flask whatsapp sync`'s three calls for an approved template (channels/twilio_templates.py):
    Create Content (a text, and one with a quick-reply button), Create Approval Request (name,
    category) and Fetch Approval Requests, each accepted by the Content API's spec."""
    from channels.twilio_templates import approval, submit, template_request

    text = template_request("invitation", "nl", "Hallo. Open deze link: {{1}}", None, {"1": "https://wa.me/1"})
    button = template_request("voucher_ready", "ar", "قسيمتك بقيمة {{1}} جاهزة.", ("voucher.claim", "نعم"),
                              {"1": "€17.50"})
    for request in (text, button):
        sid, made = channel.contents.ensure(request)
        assert made and CONTENT.fullmatch(sid), last_answer(channel)
        status, _reason = submit(channel.client, sid, "voucher_ready", "ar")
        assert status, last_answer(channel)
        assert channel.client.http_client._test_only_last_request.url.endswith(
            f"/v1/Content/{sid}/ApprovalRequests/whatsapp")
        status, _reason = approval(channel.client, sid)
        assert isinstance(status, str) and status, last_answer(channel)
