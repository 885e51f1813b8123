"""The composition root: the running service's parts, built once per process from the settings
and shared by the web app, the workers and the CLI. Each part is a port with an embedded
default: no REDIS_URL means an in-process Redis and queue; no Twilio token means the local
channel. The actions and lists of choices flows may name are registered here, explicitly, and
nothing below this module imports it (tests/test_architecture.py).
"""
from __future__ import annotations

import logging
import time

import redis as redis_lib
from sqlalchemy import exists, select
from sqlalchemy.exc import SQLAlchemyError

import bot.builtin_actions
import handoff.actions
import privacy.actions
import referrals.actions
import registration.actions
import releases.flows as flows_release
import vouchers.actions
from bot.actions import Actions, Choices
from bot.engine import Engine
from bot.flows import FlowSet
from bot.i18n import Translator
from bot.menus import LIST_BUTTON
from channels.local import LocalChannel
from delivery.hooks import DeliveryHooks
from delivery.rate_limit import RateLimiter
from delivery.tasks import Tasks
from handoff.ready_answers import ReadyAnswers
from inbox.process import process_contact
from jobs.scheduled import scheduled_jobs
from jobs.staff import staff_jobs
from nlu.service import NluService
from referrals.release import ReferralContent
from releases.flows import LiveFlows
from settings import Settings
from store import personal
from store.conversation import Conversation
from store.db import make_engine, make_sessionmaker
from store.locks import Locks
from store.models import Contact
from vouchers.delivery import mark_claimed
from vouchers.provider import LocalLedger

log = logging.getLogger(__name__)


def flow_functions() -> tuple[Actions[Conversation], Choices[Conversation]]:
    """Every action and list of choices a flow may name, from the capabilities that offer them."""
    actions: Actions[Conversation] = Actions()
    choices: Choices[Conversation] = Choices()
    for capability in (bot.builtin_actions, handoff.actions, privacy.actions, referrals.actions,
                       registration.actions, vouchers.actions):
        capability.register(actions, choices)
    return actions, choices


TEMPLATES_REFRESH_SECONDS = 60


class Runtime:
    """Implements store.conversation.Services: what the application and the domain use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        # Before any session exists: every personal column is encrypted with these keys.
        personal.configure(settings.secrets.encryption_key, settings.secrets.previous_encryption_keys)
        self.data_keys = personal.open_data_keys(settings.connections.keyring_url)
        local_keyring = self.data_keys.engine.dialect.name == "sqlite"
        if local_keyring and not settings.connections.database_url.startswith("sqlite"):
            log.warning("the keyring is a local file (DDA_KEYRING_URL unset); with more than one machine, "
                        "set DDA_KEYRING_URL to a separate small database")
        self.db = make_engine(settings.connections.database_url)
        check_keyring(self.db, self.data_keys)
        self.session = make_sessionmaker(self.db)
        self.merge_approved_templates()
        self._templates_merged_at = time.monotonic()
        self.redis = _redis(settings.connections.redis_url)
        self.locks = Locks(self.redis, wait_seconds=settings.conversation.lock_timeout_seconds)
        self.actions, self.choices = flow_functions()
        self.nlu = NluService(settings)
        # The last published flows release, not the files on disk (releases/flows.py).
        self.flows: LiveFlows[Engine[Conversation]] = LiveFlows(self, self._engine)
        flows_release.publish_on_first_start(self)
        self.flows.current()
        self.channel = self._channel()
        self.local_channel = LocalChannel(self.redis)
        self.rate_limiter = RateLimiter(self.redis, f"dda:rate:{settings.connections.twilio_whatsapp_number}",
                                        settings.delivery.rate_per_second, settings.delivery.reply_reserve) \
            if settings.uses_twilio else None
        self.vouchers = LocalLedger()
        self.referrals = ReferralContent(settings, self.session)
        self.ready_answers = ReadyAnswers(self.session, settings.languages.all, settings.languages.source,
                                          lambda: settings.content.refresh_seconds)
        # Delivery knows messages, not vouchers: a voucher counts as claimed once its message is delivered.
        self.delivery_hooks = DeliveryHooks()
        self.delivery_hooks.on_delivered("voucher", mark_claimed)
        self.tasks = Tasks(self, settings.connections.redis_url, self.redis,
                           process=lambda contact_id: process_contact(self, contact_id),
                           scheduled=scheduled_jobs(self), jobs=staff_jobs(self))

    @property
    def bot(self) -> Engine[Conversation]:
        return self.flows.current().engine

    @property
    def translator(self) -> Translator:
        return self.flows.current().translator

    def _engine(self, flows: FlowSet, translator: Translator) -> Engine[Conversation]:
        nlu = self.settings.nlu
        return Engine(flows, translator, self.actions, choices=self.choices,
                      fallback_limit=self.settings.conversation.fallback_limit,
                      placeholders=self.settings.placeholders(), understand=self.nlu,
                      guess_language=self.nlu.guess_language, confidence_threshold=nlu.confidence_threshold,
                      suggestion_threshold=nlu.suggestion_threshold, urgent_threshold=nlu.urgent_threshold,
                      out_of_scope_threshold=nlu.out_of_scope_threshold)

    def _channel(self):
        c, s = self.settings.connections, self.settings.secrets
        if not self.settings.uses_twilio:
            return LocalChannel(self.redis)
        from channels.twilio_sender import TwilioChannel

        return TwilioChannel(c.twilio_account_sid, s.twilio_auth_token, c.twilio_whatsapp_number,
                             status_callback=f"{c.public_base_url}/twilio/status", api_base_url=c.twilio_api_base_url,
                             sms_number=c.twilio_sms_number, timeout=self.settings.delivery.send_timeout_seconds,
                             session_factory=self.session,
                             list_button=lambda language: self.translator.text(LIST_BUTTON, language))

    def channel_for(self, contact):
        """Test numbers from `flask chat` and the simulator never leave this service."""
        return self.local_channel if contact.channel == "local" else self.channel

    def reload_if_changed(self) -> None:
        """Called before each turn: serve the newest flows release (a cheap look, at most every
        content.refresh_seconds), so a publication reaches every worker without a restart; and,
        once a minute, the templates `flask whatsapp sync` has since seen approved."""
        self.flows.current()
        if time.monotonic() - self._templates_merged_at >= TEMPLATES_REFRESH_SECONDS:
            self._templates_merged_at = time.monotonic()
            self.merge_approved_templates()

    def merge_approved_templates(self) -> int:
        """The templates `flask whatsapp sync` saw approved join config.yml's `templates:` (which
        wins where it names a SID): what delivery/notices.route offers outside the 24-hour window."""
        from channels.twilio_templates import approved, merge

        try:
            with self.session() as session:
                found = approved(session)
        except SQLAlchemyError:
            return 0  # not migrated yet: `flask db upgrade` is about to run
        return merge(self.settings.templates, found)

    def close(self) -> None:
        self.tasks.close()
        self.db.dispose()


def check_keyring(db, data_keys) -> None:
    """Stop at start-up, not at the first person's message, when the keyring is not the one
    this database was written with; and note whether contacts from before per-person keys are
    still there (then their old lookup hashes are looked for too)."""
    try:
        with db.connect() as connection:
            sample = connection.scalar(select(Contact.data_key_id).where(Contact.data_key_id.is_not(None)).limit(1))
            older = connection.scalar(select(exists().where(Contact.data_key_id.is_(None))))
    except SQLAlchemyError:
        return  # not migrated yet: `flask db upgrade` is about to run
    personal.expect_old_lookup_hashes(bool(older))
    if sample is not None:
        data_keys.load([sample])


def load_checked_flows(runtime: Runtime) -> FlowSet:
    """The draft flows and texts on disk, checked as a release would be (FlowError if wrong)."""
    return flows_release.check(runtime)


def _redis(url: str):
    if url:
        return redis_lib.Redis.from_url(url)
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())
