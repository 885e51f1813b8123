"""The dialogue through signed webhooks: menus, global commands, fallbacks, opt-out, erasure."""
from sqlalchemy import func, select

from store.models import Contact, Message, Ticket

PHONE = "+31612345678"


def test_first_contact_offers_languages_in_their_own_names(whatsapp):
    reply = whatsapp.conversation("hello")[-1]
    assert reply.startswith("Choose your language")
    for name in ("العربية", "Nederlands", "Українська", "Français", "Tagalog"):
        assert name in reply


def test_number_chooses_and_the_bot_answers_in_that_language(whatsapp, runtime):
    whatsapp.send("hello")
    (reply,) = whatsapp.conversation("2")  # one message: the thanks, the welcome, then the menu as a list
    assert reply.startswith("Thank you. I will write to you in English.\n\nWelcome to Direct Digital Aid")
    assert reply.index("Welcome to") < reply.index("What can I do for you?") < \
        reply.index("- Register for the program\n- Talk to a person")
    with runtime.session() as session:
        assert session.scalar(select(Contact.language)) == "en"


def test_button_payload_is_matched_exactly(whatsapp):
    whatsapp.send("hello")
    whatsapp.send("2")
    before = len(whatsapp.replies())
    whatsapp.send("Change language", MessageType="button", ButtonPayload="cmd.language", ButtonText="Change language")
    assert whatsapp.replies()[before].startswith("Choose your language")


def test_menu_label_typed_out_is_understood(whatsapp):
    whatsapp.send("hello")
    whatsapp.send("2")
    assert whatsapp.conversation("change language!")[0].startswith("Choose your language")


def test_global_command_interrupts_a_flow(whatsapp):
    whatsapp.send("hello")
    whatsapp.send("2")
    assert "Are you sure?" in whatsapp.conversation("delete my data")[-1]
    assert whatsapp.conversation("MENU")[-1].startswith("What can I do for you?")
    with_nothing_deleted = whatsapp.conversation("2")  # now "2" is the menu's second option, not "no, keep"
    assert "person from our team" in with_nothing_deleted[-1]


def test_two_misunderstandings_hand_over_to_the_helpdesk(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    first = whatsapp.conversation("blorp")  # no known word: not understood, at most a "did you mean"
    assert first[0] in ("Sorry, I did not understand that.", "Sorry, I am not sure I understood. Did you mean:") \
        or first[0].startswith("Sorry, I am not sure I understood. Did you mean:")
    second = whatsapp.conversation("zzzz")
    assert "person from our team" in second[-1]
    with runtime.session() as session:
        ticket = session.scalar(select(Ticket))
        assert (ticket.reason, ticket.status, ticket.language) == ("fallback", "open", "en")
    # With a person on the case, the bot steps back: it only says, once, that the message arrived.
    assert "Your message has reached our team" in whatsapp.conversation("hello?")[0]
    assert whatsapp.conversation("hello??") == []


def test_stop_is_honoured_until_start(whatsapp):
    whatsapp.send("hello")
    whatsapp.send("2")
    assert "You will not get any more messages" in whatsapp.conversation("stop")[-1]
    assert whatsapp.conversation("menu") == []
    assert whatsapp.conversation("what is happening") == []
    (reply,) = whatsapp.conversation("START")
    assert reply.startswith("Welcome back. You will get our messages again.\n\nWhat can I do for you?")


def test_stop_works_while_a_person_has_the_chat(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    whatsapp.send("human")
    assert "You will not get any more messages" in whatsapp.conversation("STOP")[-1]


def test_delete_my_data_asks_once_then_erases(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    whatsapp.send("something private about me")
    assert "Are you sure?" in whatsapp.conversation("delete my data")[-1]
    assert whatsapp.conversation("1")[-1].startswith("Your data has been deleted")
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    # Writing again starts fresh, with the language question.
    assert whatsapp.conversation("hi")[-1].startswith("Choose your language")


def test_changing_language_switches_every_text(whatsapp, runtime):
    whatsapp.send("hello")
    whatsapp.send("2")
    whatsapp.send("language")
    replies = whatsapp.conversation("6")  # Nederlands
    with runtime.session() as session:
        assert session.scalar(select(Contact.language)) == "nl"
    assert replies == [replies[0]] and replies[0].startswith("Dank je. Ik schrijf je in het Nederlands.")
    assert "\n\nWat kan ik voor je doen?\n\n☰ Kies" in replies[0]


def test_messages_from_two_people_do_not_mix(whatsapp):
    whatsapp.send("hello", phone="+31600000001")
    whatsapp.send("hello", phone="+31600000002")
    whatsapp.send("2", phone="+31600000001")
    assert whatsapp.replies("+31600000002")[-1].startswith("Choose your language")
    assert "What can I do for you?" in whatsapp.replies("+31600000001")[-1]
