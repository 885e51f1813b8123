"""Prometheus metrics at /metrics. Counts come from the database at scrape time, so they are
right across any number of web and worker processes; the webhook's latency is measured in
the process that answers."""
from __future__ import annotations

import hmac
import time
from datetime import UTC

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from delivery.tasks import QUEUES
from store.models import Message, OutboxItem, utcnow

WAITING = ("pending", "sending", "uncertain", "held")


def _aware(moment):
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

blueprint = Blueprint("metrics", __name__)


class DatabaseCollector:
    def __init__(self, runtime):
        self.runtime = runtime

    def collect(self):
        with self.runtime.session() as session:
            directions = session.execute(select(Message.direction, Message.status, func.count())
                                         .group_by(Message.direction, Message.status)).all()
            failures = session.execute(select(Message.error_code, func.count()).where(Message.error_code.is_not(None))
                                       .group_by(Message.error_code)).all()
            depth = session.execute(select(OutboxItem.queue, OutboxItem.state, func.count(),
                                           func.min(OutboxItem.created_at))
                                    .where(OutboxItem.state.in_(WAITING))
                                    .group_by(OutboxItem.queue, OutboxItem.state)).all()
            aside = session.scalar(select(func.count()).select_from(Message)
                                   .where(Message.set_aside_at.is_not(None))) or 0
        now = utcnow()
        messages = CounterMetricFamily("dda_messages", "Messages kept, by direction and status",
                                       labels=["direction", "status"])
        for direction, status, count in directions:
            messages.add_metric([direction, status], count)
        failed = CounterMetricFamily("dda_delivery_failures", "Messages Twilio refused, by error code",
                                     labels=["code"])
        for code, count in failures:
            failed.add_metric([code], count)
        queued = GaugeMetricFamily("dda_outbox_pending", "Replies waiting for delivery, by queue", labels=["queue"])
        rows = GaugeMetricFamily("dda_outbox_rows", "Outbox rows not yet sent, by queue and state (pending, "
                                 "sending, uncertain: may be at Twilio, held: waits for the 24-hour window)",
                                 labels=["queue", "state"])
        oldest = GaugeMetricFamily("dda_outbox_oldest_pending_seconds",
                                   "Age of the oldest message waiting to be sent, by queue", labels=["queue"])
        ages: dict[str, float] = {}
        for queue, state, count, first in depth:
            rows.add_metric([queue, state], count)
            if state == "pending":
                queued.add_metric([queue], count)
                ages[queue] = max(0.0, (now - _aware(first)).total_seconds())
        for queue, age in ages.items():
            oldest.add_metric([queue], age)
        jobs = GaugeMetricFamily("dda_queue_jobs", "Jobs waiting in the worker queues", labels=["queue"])
        for queue in QUEUES:
            try:
                jobs.add_metric([queue], self.runtime.tasks.waiting(queue))
            except Exception:  # noqa: BLE001  (the broker is down: the other metrics still count)
                pass
        set_aside = GaugeMetricFamily("dda_inbound_set_aside", "Inbound messages set aside after failing "
                                      "(flask inbox failed)")
        set_aside.add_metric([], aside)
        yield from (messages, failed, queued, rows, oldest, jobs, set_aside)


def init_app(app, runtime) -> None:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(runtime))
    latency = Histogram("dda_webhook_seconds", "Time to answer Twilio's inbound webhook", registry=registry,
                        buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1))
    # Delivery latency across processes is dda_outbox_oldest_pending_seconds (from the database);
    # this is the webhook's, measured in the process that answers.
    app.extensions["dda_metrics"] = registry

    @app.before_request
    def _start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response):
        if request.endpoint == "twilio.inbound" and "started" in g:
            latency.observe(time.perf_counter() - g.started)
        return response

    app.register_blueprint(blueprint)


CACHE_SECONDS = 10  # scrapes come every 15-60 s; more often than this, the last figures are served


@blueprint.get("/metrics")
def metrics():
    """Behind a bearer token when METRICS_TOKEN is set; counted from the database at most once
    every CACHE_SECONDS per process, so hammering the URL cannot load the database."""
    token = current_app.extensions["dda"].settings.secrets.metrics_token
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return Response("a bearer token is needed\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    cached = current_app.extensions.get("dda_metrics_cache")
    now = time.monotonic()
    if cached is None or now - cached[0] > CACHE_SECONDS:
        cached = (now, generate_latest(current_app.extensions["dda_metrics"]))
        current_app.extensions["dda_metrics_cache"] = cached
    return Response(cached[1], mimetype=CONTENT_TYPE_LATEST)
