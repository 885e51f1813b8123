"""Serving an app the way production does (gunicorn, threaded workers) for the length of a
measurement, so that numbers include the real server, its worker processes and its sockets
rather than Flask's test client.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import ROOT
from settings import ENVIRONMENT, SECRETS

GUNICORN = Path(sys.executable).parent / "gunicorn"
# A machine shared with other work may need longer: BENCH_STARTUP_SECONDS.
STARTUP_SECONDS = int(os.environ.get("BENCH_STARTUP_SECONDS") or 60)
STOP_SECONDS = 10
# gunicorn restarts a worker that exits during boot with any code but 3, so an app that stops
# itself with SystemExit (as create_app does on a bad setting) would never become healthy.
WORKER_DIED = "exited with code"


class ServerFailed(RuntimeError):
    """The server did not start; the message holds the end of its log."""


def free_port() -> int:
    """A port the app's own settings can name before it starts (PUBLIC_BASE_URL must hold it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(app: str, port: int, environment: dict[str, str], log: Path, workers: int = 2,
             cwd: Path = ROOT) -> Iterator[None]:
    """Run `gunicorn app` on 127.0.0.1:port until the block ends, ready when /healthz says 200.

    The service's own variables are removed from the inherited environment first, so a
    DATABASE_URL or DDA_CONFIG set in the shell cannot point the bench at other data.
    GUNICORN_CMD_ARGS does pass, to every server alike, for trying other worker settings. `cwd`:
    the checkout whose code is served (another version, to compare in the same run)."""
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT and k not in SECRETS and k != "DDA_CONFIG"}
    env.update(environment)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen([str(GUNICORN), "-w", str(workers), "--worker-class", "gthread", "--threads", "4",
                                    "-b", f"127.0.0.1:{port}", app],
                                   cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_until_healthy(process, port, log)
            yield
        finally:
            _stop(process)


def _wait_until_healthy(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"gunicorn exited with {process.returncode}; see {log}:\n{_tail(log)}")
        if WORKER_DIED in log.read_text(errors="replace"):
            raise ServerFailed(f"a gunicorn worker died while starting; see {log}:\n{_tail(log)}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            body = response.read()
            connection.close()
            if response.status == 200:
                return
            detail = body.decode(errors="replace").strip()
        except OSError as error:
            detail = str(error)
        time.sleep(0.2)
    raise ServerFailed(f"gunicorn on port {port} not healthy after {STARTUP_SECONDS} s ({detail}); see {log}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM lets the gunicorn master stop its workers; SIGKILL only if it does not."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
