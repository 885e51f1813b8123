"""The helpdesk console (/helpdesk), the web phone simulator (/simulator) and the start page (/).

They live outside /staff because helpers keep them open all day and share links to tickets,
but they are staff pages all the same: this parent blueprint gives them the staff side's
security headers, its no-store cache rule, its error pages and its sign-in (through
staff.auth.role_required). The app-wide CSRF check from staff.init_app covers their posts.
"""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from staff import protect

blueprint = Blueprint("helpdesk_web", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/helpdesk/static")


def init_app(app: Flask) -> None:
    """Register the pages; call after staff.init_app, which sets up sessions and CSRF."""
    app.register_blueprint(blueprint)


def wants_json() -> bool:
    """Scripts (the live views, the simulator) get errors as JSON they can show; browsers a page."""
    return (request.is_json or request.path.endswith(".json")
            or request.accept_mimetypes.best == "application/json")


protect(blueprint)


@blueprint.errorhandler(CSRFError)
def _csrf_error(error):
    message = ("This form was refused because its security token is missing or has expired. "
               "Reload the page and send it again.")
    if wants_json():
        return jsonify(error=message), 400
    return render_template("staff/error.html", title="Form refused", message=message), 400


@blueprint.errorhandler(404)
def _not_found(error):
    message = "There is no such page or record, or it is not yours to see."
    if wants_json():
        return jsonify(error=message), 404
    return render_template("staff/error.html", title="Not found", message=message), 404


# Nested here, once per process, because the blueprint objects outlive any one app (tests build many).
from helpdesk_web import console, ready_answers, simulator, start  # noqa: E402
from helpdesk_web.bidi import direction, isolated  # noqa: E402

blueprint.add_app_template_filter(isolated, "isolated")
blueprint.add_app_template_filter(direction, "direction")

for _child in (console.blueprint, ready_answers.blueprint, simulator.blueprint, start.blueprint):
    blueprint.register_blueprint(_child)
