"""Prometheus metrics at /metrics. Counts come from the database at scrape time, so they are
right across any number of web and worker processes; the webhook's latency is measured in
the process that answers."""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from store.models import Message, OutboxItem

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
            depth = session.execute(select(OutboxItem.queue, func.count()).where(OutboxItem.state == "pending")
                                    .group_by(OutboxItem.queue)).all()
        messages = CounterMetricFamily("dda_messages", "Messages kept, by direction and status",
                                       labels=["direction", "status"])
        for direction, status, count in directions:
            messages.add_metric([direction, status], count)
        failed = CounterMetricFamily("dda_delivery_failures", "Messages Twilio refused, by error code",
                                     labels=["code"])
        for code, count in failures:
            failed.add_metric([code], count)
        queued = GaugeMetricFamily("dda_outbox_pending", "Replies waiting for delivery, by queue", labels=["queue"])
        for queue, count in depth:
            queued.add_metric([queue], count)
        yield from (messages, failed, queued)


def init_app(app, runtime) -> None:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(runtime))
    latency = Histogram("dda_webhook_seconds", "Time to answer Twilio's inbound webhook", registry=registry,
                        buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1))
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


@blueprint.get("/metrics")
def metrics():
    return Response(generate_latest(current_app.extensions["dda_metrics"]), mimetype=CONTENT_TYPE_LATEST)
