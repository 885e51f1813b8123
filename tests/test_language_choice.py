"""Choosing the language: detected from a clear first message, else a menu in each language's
own name; changeable at any time; understood in the person's words."""
import pytest
from sqlalchemy import select

from store.models import Contact, Ticket


def language_of(runtime, phone="+31612345678"):
    from inbox.receive import contact_for

    with runtime.session() as session:
        return contact_for(session, phone).language


@pytest.mark.parametrize("first, language, says", [
    ("Hallo, ik wil me aanmelden voor de hulp", "nl", "Nederlands"),
    ("مرحبا، أحتاج مساعدة من فضلك", "ar", "العربية"),
    ("Bonjour, j'ai besoin d'aide s'il vous plaît", "fr", "français"),
    ("Привіт, мені потрібна допомога", "uk", "українською"),
    ("ሰላም ከመይ ኣለኹም ሓገዝ ደልየ ኣለኹ", "ti", None),
    ("ሰላም እንደምን ነህ እርዳታ እፈልጋለሁ", "am", None),
])
def test_clear_first_message_sets_the_language(whatsapp, runtime, first, language, says):
    replies = whatsapp.conversation(first)
    assert language_of(runtime) == language
    if says:
        assert says in replies[0]
    assert not replies[0].startswith("Choose your language")


@pytest.mark.parametrize("first", ["hi", "salam", "ok 👍", "🙏", "Hallo"])
def test_short_or_unclear_first_message_gets_the_language_menu(whatsapp, runtime, first):
    assert whatsapp.conversation(first)[-1].startswith("Choose your language")
    assert language_of(runtime) is None


def test_arabic_texts_keep_the_program_name_readable(whatsapp):
    replies = whatsapp.conversation("مرحبا، أحتاج مساعدة من فضلك")
    assert "\u2068Direct Digital Aid\u2069" in " ".join(replies)


@pytest.mark.parametrize("words", ["taal", "changer de langue", "تغيير اللغة", "мова", "LANGUAGE"])
def test_change_language_works_in_any_language_mid_conversation(whatsapp, words):
    whatsapp.send("hello")
    whatsapp.send("6")  # Nederlands
    whatsapp.send("verwijder mijn gegevens")  # now inside a confirmation
    assert whatsapp.conversation(words)[-1].startswith("Kies je taal") or \
        "العربية" in whatsapp.conversation(words)[-1]


def test_menu_number_changes_language_and_texts_follow(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    replies = whatsapp.conversation("3")  # main menu: 3. Change language
    assert "العربية" in replies[-1]
    replies = whatsapp.conversation("1")  # العربية
    assert language_of(runtime) == "ar"
    assert all(not reply.startswith("What can I do") for reply in replies)


def test_free_text_intent_starts_the_right_flow(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    replies = whatsapp.conversation("can i please talk with someone from your team")
    assert "person from our team" in replies[-1]
    with runtime.session() as session:
        assert session.scalar(select(Ticket.reason)) == "asked"


def test_a_clear_yes_in_words_confirms(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    whatsapp.send("please erase everything you have about me")
    assert whatsapp.conversation("yes sure go ahead")[-1].startswith("Your data has been deleted")


def test_not_any_text_counts_as_yes(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    whatsapp.send("delete my data")
    whatsapp.send("the weather is nice today")
    with runtime.session() as session:
        assert session.scalar(select(Contact.erased_at)) is None


def test_unsure_understanding_asks_did_you_mean_and_counts_as_a_fallback(whatsapp, runtime, monkeypatch):
    from bot.engine import Understanding

    whatsapp.send("hello")
    whatsapp.send("2")
    monkeypatch.setattr(runtime.bot, "understand",
                        lambda text, language: Understanding("human", 0.35, [("human", 0.35), ("stop", 0.3)]))
    reply = whatsapp.conversation("mumble mumble")[-1]
    assert reply.startswith("Sorry, I am not sure I understood. Did you mean:")
    assert "[Talk to a person] [Stop messages] [Something else]" in reply  # three buttons
    assert "person from our team" in whatsapp.conversation("1")[-1]


def test_two_unsure_answers_in_a_row_reach_a_person(whatsapp, runtime, monkeypatch):
    from bot.engine import Understanding

    whatsapp.send("hello")
    whatsapp.send("2")
    monkeypatch.setattr(runtime.bot, "understand",
                        lambda text, language: Understanding("stop", 0.3, [("stop", 0.3)]))
    whatsapp.send("mumble")
    assert "person from our team" in whatsapp.conversation("grumble")[-1]
