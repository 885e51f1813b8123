"""delivery/notices.route: the one rule for every notice the service starts (status changes,
invitations, voucher notices and reminders, the inactivity warning, "a message is waiting", a
helper's answer). Worked out in memory: no database, no app."""
from __future__ import annotations

from datetime import timedelta

import pytest

from delivery.notices import route
from settings import load_settings
from store.models import Contact, utcnow

SID = "HX" + "7" * 32


@pytest.fixture
def settings():
    loaded = load_settings(overrides={"templates": {"status_verified": {"en": SID}}})
    assert loaded.uses_twilio
    return loaded


def person(*, hours_ago: float | None, language: str = "en", channel: str = "whatsapp") -> Contact:
    last = utcnow() - timedelta(hours=hours_ago) if hours_ago is not None else None
    return Contact(language=language, channel=channel, last_inbound_at=last)


def test_inside_the_window_a_notice_goes_as_free_text(settings):
    assert route(settings, person(hours_ago=23), "status_verified").how == "text"


def test_outside_the_window_the_approved_template_in_the_persons_language_goes(settings):
    routed = route(settings, person(hours_ago=25), "status_verified")
    assert (routed.how, routed.content_sid) == ("template", SID)


def test_someone_who_never_wrote_gets_the_template(settings):
    assert route(settings, person(hours_ago=None), "status_verified").how == "template"


def test_without_a_template_in_their_language_the_notice_waits_and_says_why(settings):
    routed = route(settings, person(hours_ago=25, language="nl"), "status_verified")
    assert routed.how == "hold" and routed.why_not == "no approved status_verified template for nl"


def test_an_unknown_template_is_held_not_an_error(settings):
    assert route(settings, person(hours_ago=25), "no_such_template").how == "hold"


def test_a_local_test_number_has_no_window(settings):
    assert route(settings, person(hours_ago=None, channel="local"), "status_verified").how == "text"


def test_without_twilio_there_is_no_window():
    settings = load_settings(environ={"SECRET_KEY": "kQ3v9Zp1Lx7Rt2Wm8Yb4",
                                      "DDA_ENCRYPTION_KEY": "Hd6Jf0Ns5Ue1Gc7Va3Xq"})
    assert not settings.uses_twilio
    assert route(settings, person(hours_ago=None), "status_verified").how == "text"


def test_when_whatsapp_says_the_window_closed_the_template_goes_whatever_the_clock_says(settings):
    routed = route(settings, person(hours_ago=1), "status_verified", window_closed=True)
    assert routed.how == "template"


def test_templates_are_a_section_of_their_own_in_config_yml():
    settings = load_settings()
    assert {"invitation", "status_verified", "voucher_ready", "message_waiting", "inactivity_warning"} \
        <= set(settings.templates)
    assert not hasattr(settings.registration, "templates")
