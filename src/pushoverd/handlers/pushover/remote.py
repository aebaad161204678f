"""Sending from a child process, so HTTPS work runs on another core than ingest.

Python runs one thread at a time per process, and an httpx request costs far more CPU than
acknowledging an alert, so sends made in the daemon's own process slow ingest down. The
daemon keeps every decision and every store write; only the requests cross over, as
length-prefixed JSON frames on a socket pair, and their results or errors come back the same
way. The child is started (and answers a ping) before the daemon accepts its first alert.
New credentials from the config API reach it as a ``configure`` frame (with the secrets its
log must now redact), and a child started later is started with them.
The child times each HTTP request it makes and hands the figures back with its next answer,
so the daemon's metrics show them (``observe``).
When the daemon dies the child reads end-of-file and exits; when the child dies the requests
it had in hand fail as transient (they are retried) and the next request starts a new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import multiprocessing
import signal
import socket
import struct
from collections.abc import Iterable
from typing import Any

from pushoverd import logs
from pushoverd.errors import (
    PushoverError,
    PushoverRateLimited,
    PushoverRejected,
    PushoverTransientError,
)
from pushoverd.pushover.client import (
    Observer,
    PushoverClient,
    RateLimit,
    ReceiptStatus,
    SendResult,
)
from pushoverd.pushover.message import Message

log = logging.getLogger(__name__)
_HEADER = struct.Struct("!I")
_ERRORS: dict[str, type[PushoverError]] = {
    cls.__name__: cls for cls in (PushoverTransientError, PushoverRateLimited, PushoverRejected)}


async def _read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    size = _HEADER.unpack(await reader.readexactly(_HEADER.size))[0]
    return json.loads(await reader.readexactly(size))


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return _HEADER.pack(len(body)) + body


async def _perform(client: PushoverClient, request: dict[str, Any]) -> Any:
    """Run one request in the child; its JSON-ready result."""
    op = request["op"]
    if op == "ping":
        return None
    if op == "configure":  # applied before any later frame's request starts
        client.reconfigure(request["url"], request["token"], request["user_key"])
        logs.redact_also(request["secrets"])
        return None
    if op == "limits":
        return _limits_json(await client.limits())
    if op == "validate":
        return _result_json(await client.validate())
    if op == "receipt":
        status = await client.receipt(request["receipt"])
        return {f: getattr(status, f) for f in ReceiptStatus.__dataclass_fields__}
    if op == "cancel":
        return await client.cancel_by_tag(request["tag"])
    return _result_json(await client.send(Message.from_dict(request["payload"])))


# Plain dicts by hand: dataclasses.asdict deep-copies, a cost paid on every send.
def _result_json(result: SendResult) -> dict[str, Any]:
    return {"request_id": result.request_id, "info": result.info, "receipt": result.receipt,
            "status_code": result.status_code, "limits": _limits_json(result.limits)}


def _limits_json(limits: RateLimit | None) -> dict[str, Any] | None:
    if limits is None:
        return None
    return {"limit": limits.limit, "remaining": limits.remaining, "reset": limits.reset}


def _result(data: dict[str, Any]) -> SendResult:
    limits = data.get("limits")
    return SendResult(**{**data, "limits": RateLimit(**limits) if limits else None})


def _error_json(exc: PushoverError) -> dict[str, Any]:
    limits = exc.limits if isinstance(exc.limits, RateLimit) else None
    return {"type": type(exc).__name__, "message": str(exc), "status": exc.status,
            "reset": getattr(exc, "reset", None), "param": getattr(exc, "param", None),
            "limits": _limits_json(limits)}


def _error(data: dict[str, Any]) -> Exception:
    if data["type"] == "ValueError":  # the payload itself is unreadable: the worker drops it
        return ValueError(data["message"])
    kind = _ERRORS.get(data["type"], PushoverTransientError)
    limits = RateLimit(**data["limits"]) if data.get("limits") else None
    extra = {"reset": data.get("reset")} if kind is PushoverRateLimited else (
        {"param": data.get("param")} if kind is PushoverRejected else {})
    return kind(data["message"], status=data.get("status"), limits=limits, **extra)


class RemoteTransport:
    """A Pushover transport whose requests run in a child process."""

    def __init__(self, url: str, token: str, user_key: str, *, timeout: float,
                 max_connections: int, log_level: str, log_file: str,
                 secrets: Iterable[str], log_format: str = "logfmt",
                 observe: Observer | None = None) -> None:
        self._observe = observe
        self._args = (url, token, user_key, timeout, max_connections, log_level, log_file,
                      log_format, list(secrets))
        self._process: multiprocessing.process.BaseProcess | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        self._starting = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The child's process id, once started."""
        return None if self._process is None else self._process.pid

    @property
    def can_validate(self) -> bool:
        """Whether the breaker can probe the credentials (a ``.../messages.json`` URL)."""
        return self._args[0].rpartition("/")[2] == "messages.json"

    async def reconfigure(self, url: str, token: str, user_key: str,
                          secrets: Iterable[str] = ()) -> None:
        """Send with new credentials: a running child is told at once (before any request
        queued after this call); a child started later gets them as its arguments."""
        rest = self._args[3:-1]  # timeout, connections, log level, file and format stay
        redact = sorted({*self._args[-1], *secrets, token, user_key} - {""})
        self._args = (url, token, user_key, *rest, redact)
        if self._writer is None or self._writer.is_closing():
            return  # the next request starts a child with the new arguments
        try:
            await self._call({"op": "configure", "url": url, "token": token,
                              "user_key": user_key, "secrets": redact})
        except PushoverTransientError as exc:
            log.warning("could not reconfigure the delivery process: %s", exc)

    async def start(self) -> None:
        """Start the child and wait until it answers, so the first alert does not wait."""
        await self._call({"op": "ping"})

    async def send(self, payload: dict[str, Any]) -> SendResult:
        """Send one stored payload through the child."""
        return _result(await self._call({"op": "send", "payload": payload}))

    async def validate(self) -> SendResult:
        """Check the token and user key through the child (the breaker's probe)."""
        return _result(await self._call({"op": "validate"}))

    async def limits(self) -> RateLimit | None:
        """The quota figures, read by the child."""
        figures = await self._call({"op": "limits"})
        return RateLimit(**figures) if figures else None

    async def receipt(self, receipt: str) -> ReceiptStatus:
        """An emergency's receipt, read by the child."""
        return ReceiptStatus(**await self._call({"op": "receipt", "receipt": receipt}))

    async def cancel_by_tag(self, tag: str) -> int:
        """Cancel the emergencies carrying ``tag``, through the child."""
        return int(await self._call({"op": "cancel", "tag": tag}))

    async def _call(self, request: dict[str, Any]) -> Any:
        writer = await self._ensure_started()
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        try:  # the child's log lines for it name the request that caused it, as ours do
            writer.write(_frame({"id": call_id, "origin": logs.REQUEST_ID.get(), **request}))
            await writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            self._pending.pop(call_id, None)
            raise PushoverTransientError(f"the delivery process is gone: {exc}") from None
        return await future

    async def _ensure_started(self) -> asyncio.StreamWriter:
        async with self._starting:
            if self._writer is None or self._writer.is_closing():
                await self._start()
            assert self._writer is not None
            return self._writer

    async def _start(self) -> None:
        ours, theirs = socket.socketpair()
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(target=child_main, args=(theirs, *self._args),
                                        name="pushoverd-sender", daemon=True)
        self._process.start()
        theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours)
        self._reading = asyncio.create_task(self._read(reader), name="sender-replies")
        log.info("delivery process started", extra={"fields": {"pid": self._process.pid}})

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                reply = await _read_frame(reader)
                self._replay(reply.get("observed", ()))
                future = self._pending.pop(reply["id"], None)
                if future is None or future.done():
                    continue
                if "error" in reply:
                    future.set_exception(_error(reply["error"]))
                else:
                    future.set_result(reply["result"])
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._fail_pending()

    def _replay(self, observed: Iterable[list[Any]]) -> None:
        """Record the requests the child timed (endpoint, answer, seconds)."""
        if self._observe is not None:
            for endpoint, code, seconds in observed:
                self._observe(str(endpoint), str(code), float(seconds))

    def _fail_pending(self) -> None:
        if self._writer is not None:
            self._writer.close()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(PushoverTransientError(
                    "the delivery process exited during the send; it will be retried"))

    async def aclose(self) -> None:
        """Stop the child: close its socket, then wait for it to exit."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reading is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
        if self._process is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._join)

    def _join(self) -> None:
        assert self._process is not None
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def child_main(sock: socket.socket, url: str, token: str, user_key: str, timeout: float,
               max_connections: int, log_level: str, log_file: str, log_format: str,
               secrets: list[str]) -> None:
    """The child: serve send requests until the daemon closes the socket."""
    # The daemon decides when to stop; a Ctrl-C aimed at it must not kill sends halfway.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.setup(log_level, log_file, secrets, log_format)
    observed: list[tuple[str, str, float]] = []
    client = PushoverClient(url, token, user_key, timeout=timeout, max_connections=max_connections,
                            observe=lambda *figures: observed.append(figures))
    asyncio.run(_serve(sock, client, grace=timeout + 1.0, observed=observed))


async def _serve(sock: socket.socket, client: PushoverClient, grace: float,
                 observed: list[tuple[str, str, float]] | None = None) -> None:
    reader, writer = await asyncio.open_connection(sock=sock)
    running: set[asyncio.Task[None]] = set()
    async with client:
        while True:
            try:
                request = await _read_frame(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            task = asyncio.create_task(_answer(client, request, writer, observed))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:  # sends already in hand finish, even though nobody may read the answer
            await asyncio.wait(running, timeout=grace)
    writer.close()


async def _answer(client: PushoverClient, request: dict[str, Any],
                  writer: asyncio.StreamWriter,
                  observed: list[tuple[str, str, float]] | None = None) -> None:
    reply: dict[str, Any] = {"id": request["id"]}
    try:
        with logs.request_context(request.get("origin")):
            reply["result"] = await _perform(client, request)
    except PushoverError as exc:
        reply["error"] = _error_json(exc)
    except (ValueError, TypeError, KeyError) as exc:
        reply["error"] = {"type": "ValueError", "message": str(exc)}
    if observed:  # this request's figures, and any a request whose answer was lost left
        reply["observed"] = observed[:]
        observed.clear()
    with contextlib.suppress(ConnectionError, RuntimeError):
        writer.write(_frame(reply))
        await writer.drain()
