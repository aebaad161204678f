"""CPU per request of the Pushover client, per httpx transport, against an instant fake.

    python bench/client.py [--requests 3000] [--concurrency 2]

Starts ``servers.py pushover`` (answers at once, in its own process), then sends the same
message ``--requests`` times through ``PushoverClient`` over ``--concurrency`` kept-alive
connections with each transport, and prints requests/s and this process's CPU microseconds per
request (the server's CPU is not counted). Bounded: one pass per transport.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from collections.abc import Callable, Sequence

import httpx
from ingest import TOKEN, USER, Children, start_server

from pushoverd.pushover.client import PushoverClient, aiohttp_transport
from pushoverd.pushover.message import Message

TRANSPORTS: dict[str, Callable[[int], httpx.AsyncBaseTransport | None]] = {
    "httpx (httpcore)": lambda connections: httpx.AsyncHTTPTransport(limits=httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections)),
    "httpx-aiohttp": aiohttp_transport,  # the client's default
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(url: str, name: str, requests: int, concurrency: int) -> None:
    transport = TRANSPORTS[name](concurrency)
    client = PushoverClient(url, TOKEN, USER, max_connections=concurrency, transport=transport)
    message = Message.build("disk full on db1", priority=1, title="disk")
    async with client:
        await client.send(message)  # connect before measuring
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                await client.send(message)

        started, cpu = time.perf_counter(), _cpu()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, used = time.perf_counter() - started, _cpu() - cpu
    print(f"{name:>18}: {requests / wall:7,.0f} requests/s, "
          f"{used / requests * 1e6:5.0f} us CPU per request")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    children = Children()
    try:
        _, base = start_server(children, "pushover")
        for name in TRANSPORTS:
            asyncio.run(measure(f"{base}/1/messages.json", name, args.requests,
                                args.concurrency))
    finally:
        children.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
