"""The staff web side: sign-in, registrations, partner imports and invitations.

Everything lives under one parent blueprint, `staff`, so that its security headers, its error
pages and its sign-in check cover every staff page (and its static files) and nothing else:
the Twilio webhook and /healthz answer machines and keep their own rules.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge

blueprint = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates",
                      static_folder="static")

# Machines post to these without a browser session, so a CSRF token cannot apply; Twilio's
# requests are authenticated by their signature instead.
CSRF_EXEMPT_BLUEPRINTS = frozenset({"twilio"})
CSRF_EXEMPT_PREFIXES = ("/api/",)

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'self'; "
                               "form-action 'self'; frame-ancestors 'none'",
}
# Staff pages show personal data: no copy of them should stay in a shared browser's cache.
NO_STORE = "no-store"


def init_app(app: Flask, runtime) -> None:
    """Wire the staff side into the app: cookie settings, CSRF and the blueprints."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=runtime.settings.connections.public_base_url.startswith("https"),
        PERMANENT_SESSION_LIFETIME=auth.SESSION_LIFETIME,
        # The cookie is sent only when the session changes. Sent on every answer, a request that
        # left before a change (the simulator's poll, before "Start again as a new person") could
        # answer after it and put the old session back. The sign-in ends at a fixed time anyway.
        SESSION_REFRESH_EACH_REQUEST=False,
        # The check runs in our own hook below, so that exemptions can go by path too.
        WTF_CSRF_CHECK_DEFAULT=False,
        # Flask-WTF's https check wants a Referer, which our Referrer-Policy withholds; the
        # token plus a SameSite cookie already tie each form post to our own page.
        WTF_CSRF_SSL_STRICT=False,
    )
    csrf = CSRFProtect(app)

    @app.before_request
    def _csrf_protect():
        if not app.config.get("WTF_CSRF_ENABLED", True) or request.endpoint is None:
            return
        if CSRF_EXEMPT_BLUEPRINTS.intersection(request.blueprints) or request.path.startswith(CSRF_EXEMPT_PREFIXES):
            return
        csrf.protect()

    app.register_blueprint(blueprint)


def protect(pages: Blueprint) -> None:
    """What every blueprint of staff pages gets: the security headers, no copies in a browser's
    cache (but for its static files), and the signed-in user and program name in templates."""
    static = f"{pages.name}.static"

    @pages.after_request
    def _security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != static:
            response.headers["Cache-Control"] = NO_STORE
        return response

    @pages.context_processor
    def _page_context():
        return {"user": auth.current_user(), "program": current_app.extensions["dda"].settings.program.name}


protect(blueprint)


@blueprint.errorhandler(CSRFError)
def _csrf_error(error):
    return render_template("staff/error.html", title="Form refused",
                           message="This form was refused because its security token is missing or has "
                                   "expired. Go back, reload the page and send it again."), 400


@blueprint.errorhandler(404)
def _not_found(error):
    return render_template("staff/error.html", title="Not found",
                           message="There is no such page or record, or it is not yours to see."), 404


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(error):
    return render_template("staff/error.html", title="File too large",
                           message="The upload is larger than 1 MB. Split the file into smaller parts "
                                   "and import them one by one."), 413


# Nested here, once per process, because the blueprint objects outlive any one app (tests build many).
from staff import (  # noqa: E402
    audit,
    auth,
    content,
    desk,
    imports,
    issue,
    merge,
    registrations,
    releases,
    statistics,
    stores,
    texts,
    users,
    vouchers,
)
from staff.display import mask_phone, when  # noqa: E402

blueprint.add_app_template_filter(mask_phone, "mask_phone")
blueprint.add_app_template_filter(when, "when")
for _child in (auth.blueprint, registrations.blueprint, imports.blueprint, vouchers.blueprint, audit.blueprint,
               content.blueprint, merge.blueprint, texts.blueprint, statistics.blueprint, stores.blueprint,
               desk.blueprint, users.blueprint, releases.blueprint, issue.blueprint):
    blueprint.register_blueprint(_child)
