"""The public information pages (/info/<language>/): the referral content as a small website a
person opens from the chat or a partner shares — regions, what people are entitled to, and the
places that help, in the person's language.

Who reads these pages may be afraid of being traced, on a cheap phone with little data. So: only
the published release (never the editors' draft), no sign-in, no cookie of any kind (the session
cookie is never set here), no tracking, no personal data, nothing loaded from another site, and
each page small (one stylesheet from here, no scripts, no images). Right-to-left languages get
dir="rtl"; every word around the content comes from the gettext catalogs.
"""
from __future__ import annotations

from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface

from bot.formats import is_right_to_left
from bot.i18n import N_
from info_web.cards import card
from info_web.names import language_name

blueprint = Blueprint("info", __name__, url_prefix="/info", template_folder="templates", static_folder="static",
                      static_url_path="/static")

# The words around the content. Texts the chat already says are reused, so they are translated.
TEXTS = {
    "title": N_("Find help near you"),
    "regions": N_("Where do you live or stay? Choose your region."),
    "not_listed": N_("My region is not listed"),
    "categories": N_("What do you need help with?"),
    "offers": N_("These places can help. Choose one to see how to reach it."),
    "questions": N_("Questions and answers"),
    "change_region": N_("Change region"),
    "national": N_("These organisations help people anywhere in the Netherlands, for free. In danger now? Call 112."),
    # NOTE: heading of the language switcher on the public information pages.
    "language": N_("Language"),
    # NOTE: a link that opens the place in a map app or site.
    "map": N_("Open in a map"),
    # NOTE: heading above what a person is entitled to (health care, legal aid...) on the public information pages.
    "rights": N_("Your rights"),
    # NOTE: footer of the public information pages: people may be afraid of being traced.
    "privacy": N_("This page stores nothing about you: no cookies, no tracking, no sign-in."),
    # NOTE: the public information pages when no referral content has been published.
    "empty": N_("Nothing has been published here yet."),
    # NOTE: a public information page that does not exist (an old or mistyped link).
    "not_found": N_("This page does not exist."),
}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=300",
}


class _NoCookieHere(SecureCookieSessionInterface):
    """The app's session, except that a public information page never sets (or clears) a cookie.

    A request without a session cookie (every Twilio callback) gets an empty session without the
    signer being built for it: there is nothing to verify, and on the webhook that was a tenth of
    what Flask costs per message."""

    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if request.blueprint == blueprint.name:
            return None
        return super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = _NoCookieHere()
    app.register_blueprint(blueprint)


def _runtime():
    return current_app.extensions["dda"]


def _language(language: str) -> str:
    if language not in _runtime().settings.languages.all:
        abort(404)
    return language


def _page(template: str, language: str, endpoint_args: dict, status: int = 200, **context):
    translator = _runtime().translator

    def t(key: str) -> str:
        return translator.text(TEXTS[key], language)

    endpoint = request.endpoint if status == 200 and request.endpoint else "info.home"
    switcher = [{"code": code, "name": language_name(code),
                 "url": url_for(endpoint, **{**(endpoint_args if status == 200 else {}), "language": code})}
                for code in _runtime().settings.languages.all]
    return render_template(template, language=language, dir="rtl" if is_right_to_left(language) else "ltr",
                           t=t, switcher=switcher, cards=lambda offer: card(offer, language), **context), status


def _content():
    """The published release only: the editors' files are a draft until published."""
    referrals = _runtime().referrals
    content = referrals.current()
    return content if referrals.release_id is not None else None


@blueprint.after_request
def _headers(response):
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


@blueprint.get("/")
def start():
    """The language the browser asks for, if we serve it; English otherwise."""
    languages = _runtime().settings.languages.all
    best = request.accept_languages.best_match(languages) or _runtime().settings.languages.source
    return redirect(url_for("info.home", language=best))


@blueprint.get("/<language>/")
def home(language: str):
    language = _language(language)
    content = _content()
    if content is None:
        return _page("info/empty.html", language, {})
    regions = sorted(content.regions, key=lambda r: r.name.get(language).casefold())
    return _page("info/home.html", language, {}, regions=regions, national=content.national)


@blueprint.get("/<language>/<region>/")
def region(language: str, region: str):
    language = _language(language)
    content = _content()
    where = _region(content, region)
    return _page("info/region.html", language, {"region": region}, region=where, categories=content.categories)


@blueprint.get("/<language>/<region>/<category>/")
def category(language: str, region: str, category: str):
    language = _language(language)
    content = _content()
    where = _region(content, region)
    need = content.category(category) if content is not None else None
    if need is None:
        abort(404)
    sections = [{"subcategory": sub, "offers": content.offers_for(where.id, need.id, sub.id)}
                for sub in need.subcategories]
    return _page("info/category.html", language, {"region": region, "category": category}, region=where,
                 category=need, sections=[s for s in sections if s["offers"]])


@blueprint.get("/<language>/offer/<offer_id>")
def offer(language: str, offer_id: str):
    language = _language(language)
    content = _content()
    found = content.offer(offer_id) if content is not None else None
    if found is None:
        abort(404)
    where = _region(content, found.region)
    return _page("info/offer.html", language, {"offer_id": offer_id}, offer=found, region=where,
                 category=content.category(found.category))


def _region(content, region_id: str):
    if content is None:
        abort(404)
    if content.national is not None and region_id == content.national.id:
        return content.national
    found = content.region(region_id)
    if found is None:
        abort(404)
    return found


@blueprint.errorhandler(404)
def _not_found(error):
    parts = request.path.split("/")
    language = parts[2] if len(parts) > 2 and parts[2] in _runtime().settings.languages.all else "en"
    return _page("info/not_found.html", language, {}, status=404)
