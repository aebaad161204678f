"""The benchmark's load generator: a separate process that POSTs Kapacitor alert bodies.

The parent starts one :class:`LoadGen`; it runs in a spawned child process (never in the
daemon's, never in the parent's event loop) and takes jobs over a pipe:

* ``closed``: ``concurrency`` keep-alive connections, each sending its next request as soon
  as the previous one is answered, until ``requests`` are done or ``seconds`` pass;
* ``paced``: an open-loop schedule of ``rate`` requests/s (request ``i`` is due at
  ``t0 + i/rate`` whatever happened to the others), at most ``max_inflight`` at once.

Alert ``n`` is one of the captured Kapacitor bodies (``post_handler_bodies.jsonl``, levels
INFO, WARNING, CRITICAL, OK in turn) with its host ``serverA`` renamed ``<tag><n>``, so every
alert has a distinct ``id`` (``cpu:host=<tag><n>``) and a distinct message
(``cpu:host=<tag><n> is <LEVEL>``) by which the fake Pushover's receipts are matched.
With ``batch`` > 1 a request is a JSON array of ``batch`` consecutive alerts.

Every time is ``time.monotonic()``, comparable with the fake Pushover's receipt times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import resource
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

HOST_IN_CAPTURE = "serverA"
_HEADERS = {"Content-Type": "application/json"}


def capture_templates(path: Path) -> list[str]:
    """The distinct captured alert bodies (one per level), in capture order."""
    bodies: list[str] = []
    for line in path.read_text().splitlines():
        body = json.loads(line)["body"].strip()
        if body not in bodies:
            bodies.append(body)
    if not bodies or any(HOST_IN_CAPTURE not in b for b in bodies):
        raise ValueError(f"{path}: expected alert bodies naming host {HOST_IN_CAPTURE}")
    return bodies


def alert_body(templates: list[str], tag: str, n: int, same_id: bool = False) -> str:
    """Alert ``n`` of a run tagged ``tag``: a captured body with a host of its own (or, with
    ``same_id``, the host ``tag`` for every alert, so they all update one event)."""
    host = tag if same_id else f"{tag}{n}"
    return templates[n % len(templates)].replace(HOST_IN_CAPTURE, host)


def alert_message(templates: list[str], tag: str, n: int) -> str:
    """The ``message`` of alert ``n``, which is what Pushover receives."""
    return json.loads(alert_body(templates, tag, n))["message"]


def request_bodies(templates: list[str], tag: str, requests: int, batch: int,
                   same_id: bool = False) -> list[bytes]:
    """Request bodies: one alert each, or JSON arrays of ``batch`` alerts."""
    def body(n: int) -> str:
        return alert_body(templates, tag, n, same_id)

    if batch <= 1:
        return [body(n).encode() for n in range(requests)]
    return [("[" + ",".join(body(r * batch + k) for k in range(batch)) + "]").encode()
            for r in range(requests)]


class Samples:
    """Per-request timings; index ``i`` of each list is request ``i``."""

    def __init__(self, n: int) -> None:
        self.due, self.sent, self.acked = [0.0] * n, [0.0] * n, [0.0] * n
        self.status = [-1] * n  # -1: never sent (stopped by the deadline)


async def _post(session: aiohttp.ClientSession, url: str, body: bytes, s: Samples,
                i: int) -> None:
    s.sent[i] = time.monotonic()
    try:
        async with session.post(url, data=body, headers=_HEADERS) as response:
            await response.read()
            s.status[i] = response.status
    except (aiohttp.ClientError, TimeoutError):
        s.status[i] = 0
    s.acked[i] = time.monotonic()


def _session(limit: int, timeout: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, force_close=False)  # keep-alive
    return aiohttp.ClientSession(connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=timeout))


async def closed_loop(url: str, bodies: list[bytes], concurrency: int, seconds: float,
                      timeout: float) -> Samples:
    """``concurrency`` connections, back to back, until every body is sent or time is up."""
    s = Samples(len(bodies))
    order = iter(range(len(bodies)))
    end = time.monotonic() + seconds

    async def connection(session: aiohttp.ClientSession) -> None:
        for i in order:  # shared: each index is taken by exactly one connection
            if time.monotonic() > end:
                return
            s.due[i] = time.monotonic()
            await _post(session, url, bodies[i], s, i)

    async with _session(concurrency, timeout) as session:
        await asyncio.gather(*(connection(session) for _ in range(concurrency)))
    return s


async def paced(url: str, bodies: list[bytes], rate: float, max_inflight: int, seconds: float,
                timeout: float) -> Samples:
    """Request ``i`` due at ``t0 + i/rate``; latency is counted from when it was due."""
    s = Samples(len(bodies))
    gate = asyncio.Semaphore(max_inflight)
    tasks: set[asyncio.Task[None]] = set()

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        try:
            await _post(session, url, bodies[i], s, i)
        finally:
            gate.release()

    async with _session(max_inflight, timeout) as session:
        t0 = time.monotonic() + 0.05
        end = t0 + seconds
        for i in range(len(bodies)):
            s.due[i] = due = t0 + i / rate
            if due > end:
                break
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            task = asyncio.create_task(one(session, i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout + 1)
    return s


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    templates = capture_templates(Path(job["captures"]))
    bodies = request_bodies(templates, job["tag"], job["requests"], job.get("batch", 1),
                            job.get("same_id", False))
    cpu0 = _cpu_seconds()
    if job["kind"] == "closed":
        coro = closed_loop(job["url"], bodies, job["concurrency"], job["seconds"],
                           job["timeout"])
    else:
        coro = paced(job["url"], bodies, job["rate"], job["concurrency"], job["seconds"],
                     job["timeout"])
    s = asyncio.run(coro)
    return {"due": s.due, "sent": s.sent, "acked": s.acked, "status": s.status,
            "client_cpu": _cpu_seconds() - cpu0}


def _serve(conn: Connection) -> None:
    while (job := conn.recv()) is not None:
        try:
            conn.send(_run_job(job))
        except Exception as exc:  # report to the parent rather than die silently
            conn.send({"error": f"{type(exc).__name__}: {exc}"})


class LoadGen:
    """The load-generator process, fed jobs one at a time."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child,), name="bench-loadgen",
                                   daemon=True)
        self.process.start()
        child.close()

    def run(self, job: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run ``job`` in the child; TimeoutError if it takes longer than ``timeout`` s."""
        self._conn.send(job)
        if not self._conn.poll(timeout):
            raise TimeoutError(f"load generator did not finish a {job['kind']} job in "
                               f"{timeout:.0f}s")
        result = self._conn.recv()
        if "error" in result:
            raise RuntimeError(f"load generator failed: {result['error']}")
        return result

    def close(self) -> None:
        """Stop the child; kill it if it does not stop at once."""
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        self._conn.close()
