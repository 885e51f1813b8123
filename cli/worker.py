from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--threads", default=8, show_default=True, help="Threads for inbound messages and replies.")
@click.option("--bulk-threads", default=2, show_default=True,
              help="Threads for bulk sends (voucher notices, invitations), which never take the others'.")
@with_appcontext
def group(threads, bulk_threads):
    """Work the queues (inbound processing, delivery) until stopped. Run as many as needed."""
    runtime = current_app.extensions["dda"]
    if not runtime.settings.uses_redis:
        raise click.ClickException("REDIS_URL is not set: without Redis the web process works its own queue")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runtime.nlu.warm_up()  # before taking messages: the first ones would wait for it
    runtime.tasks.start_worker(threads=threads, bulk_threads=bulk_threads)
    click.echo(f"worker running with {threads} threads for replies and {bulk_threads} for bulk sends; "
               "stop with Ctrl-C")
    stop.wait()
    runtime.tasks.stop_worker()
    click.echo("worker stopped")
