"""Conversations as data: every file in tests/conversations/ is a list of conversations, each a
list of turns (what the person sends, what the bot's replies to it must and must not say).

A behaviour a person would notice is pinned down here in the person's own language, so a new
case is a YAML file, not Python. Each conversation runs through the real service: signed
webhooks, the worker, the Twilio stand-in. The format is described in tests/conversations/README.md.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from store import conversations
from store.models import Contact, Message, Ticket
from tests.conftest import BACKENDS, fixture

FOLDER = Path(__file__).parent / "conversations"
TURN_KINDS = ("say", "tap", "pick", "media")
TURN_KEYS = set(TURN_KINDS) | {"text", "expect", "reject", "any", "silent", "messages", "state", "check"}
SETUP_KEYS = {"language", "registered", "included", "flags", "voucher", "opted_out", "handoff", "helpdesk",
              "username"}
# setup `helpdesk: closed | open`: the helpers' hours as on a Sunday night or a Monday noon in Amsterdam
HELPDESK_CLOCK = {"closed": datetime(2026, 11, 29, 22, 0, tzinfo=UTC),
                  "open": datetime(2026, 11, 30, 11, 0, tzinfo=UTC)}
USERNAME_SETUPS = ("linked", "unlinked")
LANGUAGE_NAMES = {"ar": "العربية", "en": "English", "es": "Español", "fr": "Français", "id": "Bahasa Indonesia",
                  "nl": "Nederlands", "pt": "Português", "tl": "Tagalog", "uk": "Українська", "fa": "فارسی",
                  "ti": "ትግርኛ", "so": "Soomaali", "tr": "Türkçe", "ru": "Русский", "am": "አማርኛ"}


def _cases(with_backends: bool = False) -> list:
    """Conversations are about understanding, so they run on the embedded backend; a file or a
    conversation that is about storage too (`backends: all`) also runs on PostgreSQL and Redis."""
    cases = []
    for path in sorted(FOLDER.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conversation in data.get("conversations") or []:
            name = f"{path.stem}::{conversation.get('name')}"
            if not with_backends:
                cases.append(pytest.param(path.name, conversation, id=name))
                continue
            every = "all" in (data.get("backends"), conversation.get("backends"))
            for backend in BACKENDS if every else BACKENDS[:1]:
                cases.append(pytest.param(backend, path.name, conversation, id=f"{backend}-{name}"))
    return cases


class Person:
    """One person on WhatsApp: a fresh number, their messages, the bot's replies to each."""

    def __init__(self, whatsapp, runner, runtime):
        self.whatsapp, self.runner, self.runtime = whatsapp, runner, runtime
        self.phone = "+3161" + str(uuid.uuid4().int)[:7]
        self.bsuid = "NL." + str(uuid.uuid4().int)[:20]  # their WhatsApp user ID, once they hide the number
        self.address = self.phone  # what they write from; replies are expected there
        self.last_sid: str | None = None

    def send(self, turn: dict) -> list[str]:
        before = len(self.whatsapp.replies(self.address))
        sid = "SM" + uuid.uuid4().hex
        if "say" in turn:
            extra = {"Body": str(turn["say"])}
        elif "tap" in turn:
            extra = {"Body": turn.get("text", ""), "MessageType": "button", "ButtonPayload": str(turn["tap"]),
                     "ButtonText": turn.get("text", "")}
        elif "pick" in turn:
            extra = {"Body": turn.get("text", ""), "MessageType": "interactive", "ListId": str(turn["pick"]),
                     "ListTitle": turn.get("text", "")}
        else:
            kind = turn["media"]
            name = {"audio": "inbound_voice_note", "image": "inbound_image", "location": "inbound_location"}[kind]
            extra = {k: v for k, v in fixture(name).items() if k not in ("From", "WaId")}
        extra.update(MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
        self.whatsapp.send(phone=self.address, **extra)
        self.last_sid = sid
        return self.whatsapp.replies(self.address)[before:]

    def say(self, text: str) -> list[str]:
        return self.send({"say": text})

    def cli(self, *args: str) -> None:
        result = self.runner.invoke(args=list(args))
        self.runtime.tasks.drain()
        assert result.exit_code == 0, result.output

    def contact_id(self) -> int:
        with self.runtime.session() as session:
            return session.scalar(select(Message.contact_id).where(Message.provider_sid == self.last_sid))

    def contact(self, session) -> Contact:
        return session.get(Contact, self.contact_id())


# -- setup: how the person got where the conversation starts; each goes through the real service --
def _start(person: Person, setup: dict) -> None:
    """Registration goes the English path tests/test_registration.py pins down; then the person
    switches to the conversation's language, as they might."""
    language = setup.get("language")
    registering = setup.get("registered") or setup.get("included")
    if registering or language:
        person.say("hello")
        person.say(LANGUAGE_NAMES["en" if registering else language])
    if registering:
        for answer in ("register", "1", "Amina", "1", "Stichting Hulp", "1"):
            person.say(answer)
        if language and language != "en":
            person.say("language")
            person.say(LANGUAGE_NAMES[language])
    if setup.get("included"):
        for status in ("verified", "included"):
            person.cli("registrations", "set-status", "--phone", person.phone, "--status", status,
                       "--reason", "test", "--no-notify")
    for flag in setup.get("flags") or []:
        person.cli("registrations", "flag", "--phone", person.phone, "--flag", flag)
    if setup.get("voucher"):
        person.cli("vouchers", "issue")
    if setup.get("handoff"):
        person.send({"tap": "cmd.human"})
    if setup.get("opted_out"):
        person.send({"tap": "cmd.stop"})
    if setup.get("username"):
        # From now on the person uses a WhatsApp username and hides their number. `linked`: one
        # message carried both (as Twilio sends them) before; `unlinked`: nothing ties the two.
        assert setup["username"] in USERNAME_SETUPS, f"username: one of {USERNAME_SETUPS}"
        if setup["username"] == "linked":
            person.whatsapp.send("🙏", phone=person.phone, ExternalUserIdentifier=person.bsuid)
        person.address = person.bsuid


# -- checks: what a turn must have changed beyond the replies ------------------------------------
def _tickets(person: Person) -> list[Ticket]:
    with person.runtime.session() as session:
        return list(session.scalars(select(Ticket).where(Ticket.contact_id == person.contact_id())))


def _erased(person: Person) -> bool:
    with person.runtime.session() as session:
        contact = session.get(Contact, person.contact_id()) if person.contact_id() else None
        return contact is None or contact.erased_at is not None


def _state(person: Person) -> dict:
    with person.runtime.session() as session:
        return conversations.load(session, person.contact_id(), timedelta(days=365)) or {}


def _survives_redis_restart(person: Person) -> bool:
    """Redis loses everything (a restart without persistence); where the person is stays."""
    before = _state(person)
    person.runtime.redis.flushdb()
    return bool(before) and _state(person) == before


def _sent_as(person: Person, kind: str) -> bool:
    """The bot's last message to the person went as a Content API content of this kind."""
    twilio = person.whatsapp.twilio
    last = twilio.sent(person.phone)[-1]
    return kind in twilio.contents.get(last.get("ContentSid", ""), {}).get("types", {})


CHECKS: dict[str, Callable[[Person], bool]] = {
    "urgent_ticket": lambda person: any(t.reason == "urgent" and t.status == "open" for t in _tickets(person)),
    "open_ticket": lambda person: any(t.status == "open" for t in _tickets(person)),
    "no_ticket": lambda person: not _tickets(person),
    "erased": _erased,
    "not_erased": lambda person: not _erased(person),
    "survives_redis_restart": _survives_redis_restart,
    "sent_as_buttons": lambda person: _sent_as(person, "twilio/quick-reply"),
    "sent_as_list": lambda person: _sent_as(person, "twilio/list-picker"),
}


def _validate(name: str, conversation: dict) -> None:
    """A mistake in a conversation file is reported as one, not as a puzzling failure."""
    where = f"{name}::{conversation.get('name')}"
    assert conversation.get("name"), f"{name}: a conversation without a name"
    assert set(conversation.get("setup") or {}) <= SETUP_KEYS, f"{where}: unknown setup {conversation['setup']}"
    assert conversation.get("turns"), f"{where}: no turns"
    for number, turn in enumerate(conversation["turns"], 1):
        assert sum(kind in turn for kind in TURN_KINDS) == 1, f"{where} turn {number}: one of {TURN_KINDS}"
        assert set(turn) <= TURN_KEYS, f"{where} turn {number}: unknown keys {set(turn) - TURN_KEYS}"
        assert turn.get("check") in (None, *CHECKS), f"{where} turn {number}: unknown check {turn['check']}"


def test_every_conversation_file_is_well_formed():
    cases = _cases()
    assert cases, "no conversations found"
    names = [case.id for case in cases]
    assert len(names) == len(set(names)), "two conversations share a name in one file"
    for case in cases:
        _validate(*case.values)


@pytest.mark.parametrize(("backend", "name", "conversation"), _cases(with_backends=True))
def test_conversation(backend, name, conversation, whatsapp, runner, runtime, monkeypatch):
    _validate(name, conversation)
    person = Person(whatsapp, runner, runtime)
    if (conversation.get("setup") or {}).get("helpdesk"):
        moment = HELPDESK_CLOCK[conversation["setup"]["helpdesk"]]
        monkeypatch.setattr("handoff.actions.utcnow", lambda: moment)
    _start(person, conversation.get("setup") or {})
    for number, turn in enumerate(conversation["turns"], 1):
        where = f"turn {number} ({turn.get('say', turn.get('tap', turn.get('pick', turn.get('media'))))!r})"
        replies = person.send(turn)
        said = "\n".join(replies)
        folded = said.casefold()
        if turn.get("silent"):
            assert not replies, f"{where}: expected silence, the bot said:\n{said}"
        if "messages" in turn:
            assert len(replies) == turn["messages"], \
                f"{where}: {len(replies)} WhatsApp messages, expected {turn['messages']}:\n" + "\n---\n".join(replies)
        for expected in turn.get("expect") or []:
            assert str(expected).casefold() in folded, f"{where}: {expected!r} not in the replies:\n{said}"
        for unwanted in turn.get("reject") or []:
            assert str(unwanted).casefold() not in folded, f"{where}: {unwanted!r} in the replies:\n{said}"
        if turn.get("any"):
            assert any(str(option).casefold() in folded for option in turn["any"]), \
                f"{where}: none of {turn['any']!r} in the replies:\n{said}"
        if turn.get("state"):
            state = _state(person)
            for key, value in turn["state"].items():
                assert state.get(key) == value, f"{where}: state {key} is {state.get(key)!r}, expected {value!r}"
        if turn.get("check"):
            assert CHECKS[turn["check"]](person), f"{where}: check {turn['check']} failed"
