"""The two bare aiohttp servers the ingest benchmark runs, each in its own subprocess.

``python bench/servers.py ceiling`` answers ``POST /kapacitor/v1/alerts/topics/{topic}/events``
the cheapest way an aiohttp app can while still doing the work every ingest must do: read the
body, ``json.loads`` it, answer 204. Its requests/s is the ceiling pushoverd is compared with.

``python bench/servers.py pushover`` is a fake Pushover messages API: it answers every form
POST at once with 200 ``{"status":1,"request":"<uuid>"}`` and records, per ``message`` text,
the ``time.monotonic()`` at which the request was read (CLOCK_MONOTONIC is system-wide on
Linux, so the benchmark can compare it with the ack times its load generator records).
``GET /_stats`` gives the counts, ``GET /_receipts`` every receipt, ``POST /_reset`` clears.

Both bind 127.0.0.1 on a free port, print ``port=<n>`` on stdout, and run until killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import defaultdict

from aiohttp import web

HOST = "127.0.0.1"


def ceiling_app() -> web.Application:
    """Read, parse, 204: the least any Kapacitor ingest endpoint must do."""
    async def post_events(request: web.Request) -> web.Response:
        json.loads(await request.read())
        return web.Response(status=204)

    async def ping(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/kapacitor/v1/alerts/topics/{topic}/events", post_events)
    app.router.add_get("/kapacitor/v1/ping", ping)
    return app


def pushover_app(delay: float = 0.0) -> web.Application:
    """A Pushover that accepts everything after ``delay`` seconds (a round trip), remembers when
    each message came, and counts the connections it was sent on and how many overlapped."""
    receipts: dict[str, list[float]] = defaultdict(list)
    counts = {"received": 0, "in_flight": 0, "max_in_flight": 0}
    peers: set[object] = set()

    async def messages(request: web.Request) -> web.Response:
        counts["in_flight"] += 1
        counts["max_in_flight"] = max(counts["max_in_flight"], counts["in_flight"])
        if request.transport is not None:
            peers.add(request.transport.get_extra_info("peername"))
        try:
            form = await request.post()
            receipts[str(form.get("message", ""))].append(time.monotonic())
            counts["received"] += 1
            if delay:
                await asyncio.sleep(delay)
            return web.json_response({"status": 1, "request": str(uuid.uuid4())})
        finally:
            counts["in_flight"] -= 1

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"received": counts["received"], "distinct": len(receipts),
                                  "connections": len(peers),
                                  "max_in_flight": counts["max_in_flight"]})

    async def dump(request: web.Request) -> web.Response:
        return web.json_response(receipts)

    async def reset(request: web.Request) -> web.Response:
        receipts.clear()
        peers.clear()
        counts.update(received=0, max_in_flight=0)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/1/messages.json", messages)
    app.router.add_get("/_stats", stats)
    app.router.add_get("/_receipts", dump)
    app.router.add_post("/_reset", reset)
    return app


async def serve(app: web.Application) -> None:
    """Serve ``app`` on a free loopback port (no access log), announce it, run until killed."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"port={port}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str]) -> int:
    """``servers.py ceiling`` or ``servers.py pushover [DELAY_SECONDS]``."""
    if argv == ["ceiling"]:
        app = ceiling_app()
    elif argv[:1] == ["pushover"] and len(argv) <= 2:
        app = pushover_app(float(argv[1]) if len(argv) == 2 else 0.0)
    else:
        print("usage: servers.py ceiling | servers.py pushover [DELAY_SECONDS]", file=sys.stderr)
        return 2
    asyncio.run(serve(app))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
