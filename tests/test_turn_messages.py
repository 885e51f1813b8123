"""A turn's replies reach the person as few WhatsApp messages as WhatsApp's limits allow: every
message is a notification on their phone, and at the sender's 70-80 messages a second six
messages per first contact made people wait. What they read stays the same, in the same order."""
from __future__ import annotations

import json

import pytest

from bot.menus import BODY
from bot.messages import Option, Reply
from delivery.outbox import compose
from tests.test_conversations import LANGUAGE_NAMES

MAX_BODY = 1600  # config.yml delivery.max_body_chars: Twilio's limit for a message body


def shown(twilio, phone: str, since: int) -> list[dict]:
    """The messages sent to `phone` from the `since`-th on: what WhatsApp shows, and the text
    above the buttons or list when it is one."""
    messages = twilio.sent(phone)[since:]
    return [{"text": twilio.shown(m), "body": m.get("Body"),
             "menu": json.loads(m["ContentVariables"])["1"] if m.get("ContentSid") else None,
             "kind": next(iter(twilio.contents[m["ContentSid"]]["types"])) if m.get("ContentSid") else None}
            for m in messages]


def assert_within_limits_and_fewest(messages: list[dict]) -> None:
    """Each message within WhatsApp's limits, and no two neighbours that could have been one."""
    for message in messages:
        if message["menu"] is not None:
            assert len(message["menu"]) <= BODY
        else:
            assert len(message["body"]) <= MAX_BODY
    for before, after in zip(messages, messages[1:], strict=False):
        assert before["menu"] is None  # only the last message of a turn is a menu here
        if after["menu"] is not None:
            assert len(before["body"]) + 2 + len(after["menu"]) > BODY
        else:
            assert len(before["body"]) + 2 + len(after["body"]) > MAX_BODY


FIRST_CONTACT = {  # a first message that says which language and asks to register; what must follow, in order
    "nl": ("Hallo, ik wil me aanmelden", ["in het Nederlands", "Welkom bij", "VEILIG", "boodschappenbon",
                                         "politie", "Vind je het goed"]),
    "ar": ("مرحبا، أريد التسجيل في البرنامج من فضلك", ["العربية", "أهلًا بك", "آمنًا", "قسيمة أسبوعي",
                                                       "قبل التسجيل", "هل توافق"]),
    "ti": ("ሰላም ኣብ ፕሮግራም ክምዝገብ እደሊ", ["ብትግርኛ", "እንቋዕ ብደሓን", "ውሑስ", "ሰሙናዊ", "ቅድሚ ምምዝጋብኩም",
                                      "ትሰማምዑዶ"]),
}


@pytest.mark.parametrize("language", sorted(FIRST_CONTACT))
def test_a_first_contact_reads_welcome_privacy_and_consent_question_in_one_message(whatsapp, twilio, language):
    first, in_order = FIRST_CONTACT[language]
    phone = "+31612340001"
    whatsapp.send(first, phone=phone)
    messages = shown(twilio, phone, 0)
    assert_within_limits_and_fewest(messages)
    assert len(messages) == 1
    (message,) = messages
    assert message["kind"] == "twilio/quick-reply"  # the consent question keeps its buttons
    positions = [message["text"].find(words) for words in in_order]
    assert -1 not in positions and positions == sorted(positions)


@pytest.mark.parametrize("language", sorted(LANGUAGE_NAMES))
def test_welcome_and_registration_fit_the_limits_in_the_fewest_messages_in_every_language(whatsapp, twilio,
                                                                                          language):
    """Chosen from the language menu: the welcome with the main menu, then (registering, the
    menu's first choice) what we keep and why with the consent question."""
    phone = "+31612340003"
    whatsapp.send("hello", phone=phone)
    for answer, kind in ((LANGUAGE_NAMES[language], "twilio/list-picker"), ("1", "twilio/quick-reply")):
        before = len(twilio.sent(phone))
        whatsapp.send(answer, phone=phone)
        messages = shown(twilio, phone, before)
        assert_within_limits_and_fewest(messages)
        assert len(messages) == 1 and messages[-1]["kind"] == kind


def test_texts_join_in_order_and_never_across_a_picture_a_map_pin_or_a_tag():
    replies = [Reply("one"), Reply("two"), Reply("your voucher", media_url="v.png", tag="voucher:1"),
               Reply("three"), Reply("claimed?", tag="voucher:2"), Reply("four"), Reply("five"),
               Reply("yes or no?", options=[Option("y", "Yes"), Option("n", "No")])]
    assert [(r.text, r.media_url, r.tag, bool(r.options)) for r in compose(replies, MAX_BODY)] == [
        ("one\n\ntwo", None, None, False), ("your voucher", "v.png", "voucher:1", False),
        ("three", None, None, False), ("claimed?", None, "voucher:2", False),
        ("four\n\nfive\n\nyes or no?", None, None, True)]


def test_texts_too_long_for_one_message_fill_the_menu_first_then_as_few_messages_as_fit():
    paragraphs = [Reply(letter * 700) for letter in "abcd"]
    menu = Reply("ok?", options=[Option("y", "Yes"), Option("n", "No")])
    composed = compose([*paragraphs, menu], MAX_BODY)
    assert [r.text for r in composed] == ["a" * 700 + "\n\n" + "b" * 700, "c" * 700,
                                          "d" * 700 + "\n\nok?"]
    assert composed[-1].options == menu.options
    too_long_for_buttons = Reply("x" * 1100)
    assert compose([too_long_for_buttons, menu], MAX_BODY)[-1].text == "ok?"  # buttons need ≤ 1,024 above them


def test_a_list_of_more_than_ten_stays_numbered_text_and_may_take_texts_up_to_a_message():
    options = [Option(str(n), f"Option {n}") for n in range(12)]
    composed = compose([Reply("x" * 1200), Reply("Choose:", options=options)], MAX_BODY)
    assert len(composed) == 1 and len(composed[0].rendered()) <= MAX_BODY


def test_a_menu_without_words_of_its_own_takes_the_text_before_it_as_its_words():
    options = [Option("y", "Yes"), Option("n", "No")]
    (composed,) = compose([Reply("Shall we go on?"), Reply("", options=options)], MAX_BODY)
    assert composed.text == "Shall we go on?" and composed.options == options
