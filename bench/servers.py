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


def pushover_app() -> web.Application:
    """A Pushover that accepts everything instantly and remembers when each message came."""
    receipts: dict[str, list[float]] = defaultdict(list)
    counts = {"received": 0}

    async def messages(request: web.Request) -> web.Response:
        form = await request.post()
        receipts[str(form.get("message", ""))].append(time.monotonic())
        counts["received"] += 1
        return web.json_response({"status": 1, "request": str(uuid.uuid4())})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"received": counts["received"], "distinct": len(receipts)})

    async def dump(request: web.Request) -> web.Response:
        return web.json_response(receipts)

    async def reset(request: web.Request) -> web.Response:
        receipts.clear()
        counts["received"] = 0
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
    """``servers.py ceiling|pushover``."""
    apps = {"ceiling": ceiling_app, "pushover": pushover_app}
    if len(argv) != 1 or argv[0] not in apps:
        print("usage: servers.py ceiling|pushover", file=sys.stderr)
        return 2
    asyncio.run(serve(apps[argv[0]]()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
