"""A mock of Twilio's Messages API for the delivery benchmarks, fast enough not to be what is
measured: asyncio, keep-alive, no framework. It answers every create with 201 and a new sid
(a Content API create with an HX sid, not counted as a send),
and counts sends per outbox row (from the StatusCallback URL), so a benchmark can check that
nothing was sent twice.

`python -m bench.mock_twilio PORT`; GET /stats answers the counts as JSON.
"""
from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import uuid
from urllib.parse import unquote_plus

OUTBOX = re.compile(rb"outbox%3D(\d+)")
TO = re.compile(rb"(?:^|&)To=([^&]*)")
stats = {"requests": 0, "duplicates": 0, "first": None, "last": None}
seen: set[int] = set()
arrivals: dict[str, list[float]] = {}  # To -> when each send to it arrived (wall clock), for reply latency


def _answer(status: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: keep-alive\r\n\r\n").encode() + body


def _created(body: bytes) -> bytes:
    now = time.time()
    stats["requests"] += 1
    stats["first"] = stats["first"] or now
    stats["last"] = now
    found = OUTBOX.search(body)
    if found:
        outbox = int(found.group(1))
        if outbox in seen:
            stats["duplicates"] += 1
        seen.add(outbox)
    to = TO.search(body)
    if to:
        arrivals.setdefault(unquote_plus(to.group(1).decode()), []).append(now)
    sid = "SM" + uuid.uuid4().hex
    return _answer("201 Created", json.dumps({"sid": sid, "status": "queued"}).encode())


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"POST /v1/Content"):  # a menu's buttons or list, made once: not a send
                writer.write(_answer("201 Created", json.dumps({"sid": "HX" + uuid.uuid4().hex}).encode()))
            elif head.startswith(b"POST"):
                writer.write(_created(body))
            elif head.startswith(b"GET /arrivals"):
                writer.write(_answer("200 OK", json.dumps(arrivals).encode()))
            elif head.startswith(b"GET /stats"):
                writer.write(_answer("200 OK", json.dumps(stats).encode()))
            elif head.startswith(b"GET /reset"):
                stats.update(requests=0, duplicates=0, first=None, last=None)
                seen.clear()
                arrivals.clear()
                writer.write(_answer("200 OK", b"{}"))
            else:
                writer.write(_answer("200 OK", json.dumps({"messages": [], "next_page_uri": None}).encode()))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
