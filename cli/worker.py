from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--threads", default=8, show_default=True, help="Worker threads in this process.")
@with_appcontext
def group(threads):
    """Work the queues (inbound processing, delivery) until stopped. Run as many as needed."""
    runtime = current_app.extensions["dda"]
    if not runtime.settings.uses_redis:
        raise click.ClickException("REDIS_URL is not set: without Redis the web process works its own queue")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runtime.tasks.start_worker(threads=threads)
    click.echo(f"worker running with {threads} threads; stop with Ctrl-C")
    stop.wait()
    runtime.tasks.stop_worker()
    click.echo("worker stopped")
