"""The web service: `create_app()` builds the Flask app around one Runtime.

Run it with `flask run` (see README) or `gunicorn 'webhook:create_app()'`.
"""
from __future__ import annotations

import logging
import threading

from flask import Flask, jsonify
from sqlalchemy import text

from settings import SettingsError, load_settings


def create_app(overrides: dict | None = None, *, embedded_worker: bool = True) -> Flask:
    """`overrides` sets dotted settings (tests); `embedded_worker=False` leaves the in-process
    worker to the caller. With REDIS_URL set, workers run separately (`flask worker`)."""
    try:
        settings = load_settings(overrides=overrides)
    except SettingsError as error:
        raise SystemExit(f"Configuration error: {error}") from None

    from bot.flows import FlowError
    from runtime import Runtime

    _configure_logging()
    try:
        runtime = Runtime(settings)
    except FlowError as error:
        raise SystemExit(f"Flows are invalid, not starting:\n{error}") from None

    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secrets.secret_key, MAX_CONTENT_LENGTH=1024 * 1024)
    app.extensions["dda"] = runtime

    from channels import twilio_webhook
    from cli import register
    from delivery import metrics
    from vouchers import media, pos

    app.register_blueprint(twilio_webhook.blueprint)
    app.register_blueprint(pos.blueprint)
    app.register_blueprint(media.blueprint)
    metrics.init_app(app, runtime)
    register(app)

    import staff

    staff.init_app(app, runtime)
    import helpdesk_web
    helpdesk_web.init_app(app)  # /helpdesk and /simulator: staff pages outside /staff
    import info_web
    info_web.init_app(app)  # /info: the public information pages, no sign-in and no cookies

    if embedded_worker and not settings.uses_redis:
        _start_worker_on_first_request(app, runtime)

    @app.get("/healthz")
    def healthz():
        checks = {}
        try:
            with runtime.db.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = type(error).__name__
        try:
            runtime.redis.ping()
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = type(error).__name__
        healthy = all(value == "ok" for value in checks.values())
        return jsonify(status="ok" if healthy else "failing", checks=checks), 200 if healthy else 503

    return app


def _start_worker_on_first_request(app: Flask, runtime) -> None:
    """Without Redis the queue lives in this process, so this process must also work it;
    started on the first request so that CLI commands do not start threads."""
    started = threading.Lock()
    state = {"running": False}

    @app.before_request
    def _ensure_worker():
        if not state["running"]:
            with started:
                if not state["running"]:
                    runtime.tasks.start_worker()
                    state["running"] = True


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("twilio.http_client", "dramatiq", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
