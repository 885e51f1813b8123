"""Load generation over keep-alive HTTP connections, one per thread, in two shapes. (gunicorn's
sync workers close the connection after each answer; the client then reconnects, as Twilio's
would, and the cost of that falls on both servers alike.)

`saturate` is closed-loop: each connection sends its next request when the previous answer
arrives, which finds the most the server can take. `paced` is open-loop: requests are due at
fixed times whatever the server does, and latency counts from the due time, so a server that
falls behind shows it in its latency instead of quietly slowing the load down.
"""
from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# A request as (path, body, headers); made fresh for each send.
Request = tuple[str, bytes, dict[str, str]]
MakeRequest = Callable[[], Request]

TIMEOUT_SECONDS = 10


@dataclass
class Result:
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, other: Result) -> None:
        self.latencies_ms += other.latencies_ms
        for kind, count in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + count

    def summary(self) -> dict:
        ordered = sorted(self.latencies_ms)
        return {
            "messages": len(ordered),
            "seconds": round(self.seconds, 3),
            "messages_per_s": round(len(ordered) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(_percentile(ordered, 50), 2),
            "p99_ms": round(_percentile(ordered, 99), 2),
            "max_ms": round(ordered[-1], 2) if ordered else 0.0,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
        }


def _percentile(ordered: list[float], percent: float) -> float:
    """Nearest rank: a value that was really measured, never an interpolation."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


class _Client:
    """One connection; a failed send counts as an error and the next send reconnects."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)

    def send(self, request: Request) -> str | None:
        """None when answered 200, otherwise what went wrong."""
        path, body, headers = request
        try:
            self.connection.request("POST", path, body, headers)
            response = self.connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            return type(error).__name__
        return None if response.status == 200 else f"HTTP {response.status}"

    def close(self) -> None:
        self.connection.close()


def saturate(port: int, make_request: MakeRequest, connections: int, seconds: float,
             warmup: float) -> Result:
    """Counts only answers that arrive within the `seconds` after the warm-up."""
    start = time.perf_counter() + warmup
    end = start + seconds
    results = [Result(seconds) for _ in range(connections)]

    def loop(index: int) -> None:
        client = _Client(port)
        try:
            while time.perf_counter() < end:
                request = make_request()
                sent = time.perf_counter()
                problem = client.send(request)
                done = time.perf_counter()
                if start <= sent and done <= end:
                    _record(results[index], problem, done - sent)
        finally:
            client.close()

    _run_threads(loop, len(results))
    return _merge(results, seconds)


def paced(port: int, make_request: MakeRequest, rate: float, seconds: float, senders: int = 32) -> Result:
    """Sends `rate` requests per second for `seconds`; the result's time runs to the last answer,
    so its messages/s falls below `rate` when the server cannot keep up."""
    total = int(rate * seconds)
    slots = iter(range(total))
    take = threading.Lock()
    start = time.perf_counter() + 0.1
    finished = [start] * senders
    results = [Result(seconds) for _ in range(senders)]

    def loop(index: int) -> None:
        client = _Client(port)
        try:
            while True:
                with take:
                    slot = next(slots, None)
                if slot is None:
                    return
                request = make_request()
                due = start + slot / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                problem = client.send(request)
                finished[index] = time.perf_counter()
                _record(results[index], problem, finished[index] - due)
        finally:
            client.close()

    _run_threads(loop, len(results))
    return _merge(results, max(finished) - start)


def _record(result: Result, problem: str | None, elapsed: float) -> None:
    """Latency is kept for answered requests only; failures are counted by kind beside it."""
    if problem is None:
        result.latencies_ms.append(elapsed * 1000)
    else:
        result.errors[problem] = result.errors.get(problem, 0) + 1


def _run_threads(loop: Callable[[int], None], count: int) -> None:
    threads = [threading.Thread(target=loop, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _merge(results: list[Result], seconds: float) -> Result:
    merged = Result(seconds)
    for result in results:
        merged.add(result)
    return merged
