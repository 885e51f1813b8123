"""The start page at /: where a newcomer who just ran `make run` finds the phone simulator,
the helpdesk and the staff pages. It shows links only, never a person's data, so it needs
no sign-in; each page it links to asks for one.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

blueprint = Blueprint("start", __name__)


@blueprint.get("/")
def page():
    return render_template("helpdesk/start.html", simulator=current_app.extensions["dda"].settings.simulator_on)
