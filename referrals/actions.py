"""What flows/referral.yml can do with referral content: the lists a person chooses from, the
rights and answers they read, the offer card, and their "was this helpful?".

Content texts are already per language (content files); only the words around them (More,
Change region…) come from the gettext catalogs.
"""
from __future__ import annotations

from bot.actions import ActionContext, Actions, Choices
from bot.i18n import N_
from bot.menus import BODY
from bot.messages import Location, Option, Reply
from referrals.card import national_summary, offer_card
from referrals.content import Content
from store.conversation import Conversation
from store.models import ReferralFeedback

CHANGE_REGION = N_("Change region")
QUESTIONS = N_("Questions and answers")
# NOTE: a row in the list of regions (at most 24 characters): the person lives somewhere else.
NOT_LISTED = N_("My region is not listed")
NOT_LISTED_ID = "_national"
# NOTE: above the organisations that help anywhere in the country (phone lines, websites).
NATIONAL_INTRO = N_("These organisations help people anywhere in the Netherlands, for free. In danger now? Call 112.")
# NOTE: the last line of a place's card in the chat, before a link to the public information page
# of the person's region and need (all places, their rights), in their language.
ON_THE_WEB = N_("All places and your rights, on the web:")
SLOTS = ("region", "category", "subcategory", "offer", "question")


def _content(context: ActionContext[Conversation]) -> Content:
    return context.host.runtime.referrals.current()


def _language(context: ActionContext[Conversation]) -> str | None:
    return context.profile.language


def _translated(context: ActionContext[Conversation], source: str) -> str:
    return context.host.runtime.translator.text(source, _language(context))


def referral_begin(context: ActionContext[Conversation]) -> str:
    """A fresh search: the category the person's words asked for, the region they chose before.
    Outcomes: unavailable (no content), no_region, ok."""
    content = _content(context)
    for slot in SLOTS:
        context.slots.pop(slot, None)
    if not content.regions or not content.categories:
        return "unavailable"
    category = content.category_for_intent(context.slots.get("_intent"))
    if category is not None:
        context.slots["category"] = category.id
    region = content.region(context.host.contact.region)
    if region is None and len(content.regions) == 1 and content.national is None:
        region = content.regions[0]
    if region is None:
        return "no_region"
    context.slots["region"] = region.id
    return "ok"


def referral_remember_region(context: ActionContext[Conversation]) -> str:
    context.host.contact.region = context.slots.get("region")
    return "ok"


def referral_rights(context: ActionContext[Conversation]) -> str:
    """Rights first: what the person is entitled to, before where to go."""
    category = _content(context).category(context.slots.get("category"))
    if category is None:
        return "gone"
    if category.rights is not None:
        context.turn.replies.append(Reply(text=category.rights.get(_language(context))))
    return "ok"


def referral_card(context: ActionContext[Conversation]) -> str:
    offer = _content(context).offer(context.slots.get("offer"))
    if offer is None:
        return "gone"
    language = _language(context)
    _append_with_link(context, offer_card(offer, language), f"{offer.region}/{offer.category}/")
    if offer.location is not None:
        label = offer.menu_title(language) + (f", {offer.address}" if offer.address else "")
        context.turn.replies.append(Reply(text=label, location=Location(*offer.location, label=label)))
    return "ok"


def referral_national(context: ActionContext[Conversation]) -> str:
    """For a person whose region is not listed: the help that works anywhere, in one message.
    Outcomes: ok, or none when the content has no national help (the person is offered a human)."""
    offers = _content(context).national_offers()
    intro = _translated(context, NATIONAL_INTRO)
    summary = national_summary(offers, _language(context))
    national = _content(context).national
    _append_with_link(context, f"{intro}\n\n{summary}" if summary else intro,
                      f"{national.id}/" if national is not None else "")
    return "ok" if offers else "none"


def info_link(context: ActionContext[Conversation], page: str) -> str:
    """The public information page (info_web) in the person's language: no sign-in, no cookies."""
    base = context.host.runtime.settings.connections.public_base_url.rstrip("/")
    return f"{base}/info/{_language(context) or 'en'}/{page}"


def _append_with_link(context: ActionContext[Conversation], text: str, page: str) -> None:
    """The text with the link to the information page under it, or the link as a message of its
    own when together they would pass WhatsApp's 1024 characters."""
    link = f"🔗 {_translated(context, ON_THE_WEB)}\n{info_link(context, page)}"  # own line: stays a link in RTL
    if len(text) + 2 + len(link) <= BODY:
        context.turn.replies.append(Reply(text=f"{text}\n\n{link}"))
    else:
        context.turn.replies += [Reply(text=text), Reply(text=link)]


def referral_feedback(context: ActionContext[Conversation]) -> str:
    offer = context.slots.get("offer")
    if not offer:
        return "gone"
    context.host.session.add(ReferralFeedback(offer=offer, helpful=context.value == "yes",
                                              language=_language(context)))
    return "ok"


def referral_answer(context: ActionContext[Conversation]) -> str:
    category = _content(context).category(context.slots.get("category"))
    index = str(context.slots.get("question") or "")
    if category is None or not index.isdigit() or int(index) >= len(category.questions):
        return "gone"
    context.turn.replies.append(Reply(text=category.questions[int(index)].answer.get(_language(context))))
    return "ok"


# -- the lists a person chooses from --------------------------------------------------------
def referral_regions(context: ActionContext[Conversation]) -> list[Option]:
    language = _language(context)
    content = _content(context)
    regions = sorted(content.regions, key=lambda r: r.name.get(language).casefold())
    return [*(Option(region.id, region.name.get(language)) for region in regions),
            Option(NOT_LISTED_ID, _translated(context, NOT_LISTED))]


def referral_categories(context: ActionContext[Conversation]) -> list[Option]:
    content, language = _content(context), _language(context)
    region = context.slots.get("region")
    choices = [Option(c.id, c.name.get(language)) for c in content.categories]
    if len(content.regions) > 1 and region:
        choices.append(Option("_region", _translated(context, CHANGE_REGION)))
    return choices


def referral_subcategories(context: ActionContext[Conversation]) -> list[Option]:
    category = _content(context).category(context.slots.get("category"))
    if category is None:
        return []
    choices = [Option(s.id, s.name.get(_language(context))) for s in category.subcategories]
    if category.questions:
        choices.append(Option("_questions", _translated(context, QUESTIONS)))
    return choices


def referral_offers(context: ActionContext[Conversation]) -> list[Option]:
    slots, language = context.slots, _language(context)
    region = slots.get("region")
    offers = _content(context).offers_for(region, slots.get("category"), slots.get("subcategory"))
    return [Option(offer.id, offer.menu_title(language))
            for offer in sorted(offers, key=lambda o: (o.region != region, o.menu_title(language).casefold()))]


def referral_questions(context: ActionContext[Conversation]) -> list[Option]:
    category = _content(context).category(context.slots.get("category"))
    if category is None:
        return []
    return [Option(str(index), q.question.get(_language(context))) for index, q in enumerate(category.questions)]


def register(actions: Actions[Conversation], choices: Choices[Conversation]) -> None:
    actions.add("referral_begin", referral_begin)
    actions.add("referral_remember_region", referral_remember_region)
    actions.add("referral_rights", referral_rights)
    actions.add("referral_card", referral_card)
    actions.add("referral_national", referral_national)
    actions.add("referral_feedback", referral_feedback)
    actions.add("referral_answer", referral_answer)
    choices.add("referral_regions", referral_regions)
    choices.add("referral_categories", referral_categories)
    choices.add("referral_subcategories", referral_subcategories)
    choices.add("referral_offers", referral_offers)
    choices.add("referral_questions", referral_questions)
