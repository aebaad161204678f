"""A fake Pushover messages API on 127.0.0.1, validating requests like the real one.

It runs an aiohttp server in its own thread and event loop, so sync tests, async tests and a
daemon running as a subprocess can all use it::

    with FakePushover(token=TOKEN, users={USER}) as fake:
        ...  # point pushoverd at fake.url
        fake.wait_for(1)

Answers follow pushover.net/api: 200 ``{"status":1,"request":...}`` (plus ``receipt`` for
priority 2), 400 ``{"status":0,"errors":[...],"<param>":"invalid"}``, 429 once the quota
is spent, and ``X-Limit-App-*`` headers on every answer. Tests script failures with
``fail_next``, ``hang_next``, ``drop_next`` and ``rate_limit``.
"""

from __future__ import annotations

import asyncio
import calendar
import collections
import contextlib
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import httpx
from aiohttp import web

MESSAGES_PATH = "/1/messages.json"
VALIDATE_PATH = "/1/users/validate.json"
LIMITS_PATH = "/1/apps/limits.json"
_RECEIPT_PATH = re.compile(r"/1/receipts/([A-Za-z0-9]+)\.json")
_CANCEL_PATH = re.compile(r"/1/receipts/cancel_by_tag/([^/]+)\.json")
_KEY = re.compile(r"[A-Za-z0-9]{30}")
_DEVICE = re.compile(r"[A-Za-z0-9_-]{1,25}")
_INT = re.compile(r"-?[0-9]+")
_MAX_USERS = 50
# Longest documented texts, in characters.
_LENGTHS = {"message": 1024, "title": 250, "url": 512, "url_title": 100}
_TOO_LONG = {
    "message": "message cannot be longer than 1024 characters",
    "title": "title cannot be longer than 250 characters",
    "url": "supplementary URL cannot be longer than 512 characters",
    "url_title": "supplementary URL title cannot be longer than 100 characters",
}
_BAD_USER = "user identifier is not a valid user, group, or subscribed user key"

Problem = tuple[str, str]  # (parameter, error text)


@dataclass(frozen=True, slots=True)
class Received:
    """One request the fake received, valid or not, and the status it answered (0: dropped)."""

    form: dict[str, str]
    raw_body: str
    headers: dict[str, str]
    path: str
    at: float
    status: int


@dataclass(frozen=True, slots=True)
class _Failure:
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] | None


def _is_int(text: str | None) -> bool:
    return text is not None and _INT.fullmatch(text.strip()) is not None


def _check_token(token: str | None, expected: str | None) -> list[Problem]:
    ok = token is not None and _KEY.fullmatch(token) and expected in (None, token)
    return [] if ok else [("token", "application token is invalid")]


def _check_user(user: str | None, allowed: set[str] | None) -> list[Problem]:
    keys = (user or "").split(",")
    ok = bool(user) and len(keys) <= _MAX_USERS and all(_KEY.fullmatch(k) for k in keys)
    if not ok or (allowed is not None and not set(keys) <= allowed):
        return [("user", _BAD_USER)]
    return []


def _check_texts(form: dict[str, str]) -> list[Problem]:
    problems = []
    if not form.get("message", "").strip():
        problems.append(("message", "message cannot be blank"))
    for name, limit in _LENGTHS.items():
        if len(form.get(name, "")) > limit:
            problems.append((name, _TOO_LONG[name]))
    return problems


def _check_priority(form: dict[str, str]) -> list[Problem]:
    priority = form.get("priority", "0")
    if not _is_int(priority) or not -2 <= int(priority) <= 2:
        return [("priority", "priority is invalid")]
    if int(priority) != 2:
        return []
    problems = []
    if not _is_int(form.get("retry")) or int(form["retry"]) < 30:
        problems.append(("retry", "retry is required and must be at least 30 seconds"))
    if not _is_int(form.get("expire")) or int(form["expire"]) > 10800:
        problems.append(("expire", "expire is required and must be at most 10800 seconds"))
    return problems


def _check_others(form: dict[str, str]) -> list[Problem]:
    problems = []
    if "timestamp" in form and not _is_int(form["timestamp"]):
        problems.append(("timestamp", "timestamp is invalid"))
    if "ttl" in form and not (_is_int(form["ttl"]) and int(form["ttl"]) > 0):
        problems.append(("ttl", "ttl must be a positive number of seconds"))
    if form.get("html") == "1" and form.get("monospace") == "1":
        problems.append(("html", "html and monospace cannot both be set"))
    devices = form.get("device", "")
    if devices and not all(_DEVICE.fullmatch(d) for d in devices.split(",")):
        problems.append(("device", "device name is invalid"))
    return problems


def validate(form: dict[str, str], token: str | None = None,
             users: set[str] | None = None) -> list[Problem]:
    """Return what the real API would refuse in ``form``; an empty list means valid.

    A bad token is reported alone, as Pushover stops there. Unknown parameters are ignored.
    """
    if problems := _check_token(form.get("token"), token):
        return problems
    return [*_check_user(form.get("user"), users), *_check_texts(form),
            *_check_priority(form), *_check_others(form)]


def _first_of_next_month() -> int:
    """Unix time of the next monthly reset (Pushover uses US Central; UTC is close enough)."""
    now = time.gmtime()
    year, month = (now.tm_year + 1, 1) if now.tm_mon == 12 else (now.tm_year, now.tm_mon + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0))


class FakePushover:
    """A fake ``POST /1/messages.json`` on 127.0.0.1 that records every request."""

    def __init__(self, token: str | None = None, users: set[str] | None = None) -> None:
        self.token, self.users = token, users
        self.url = ""
        self.max_concurrent = 0
        self._limit, self._remaining, self._reset = 10000, 10000, _first_of_next_month()
        self._failures: collections.deque[_Failure] = collections.deque()
        self._hangs: collections.deque[float] = collections.deque()
        self._drops = 0
        self._in_flight = 0
        self._peers: set[Any] = set()
        self._requests: list[Received] = []
        self._receipts: dict[str, dict[str, Any]] = {}
        self.cancelled_tags: list[str] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._start_error: Exception | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> FakePushover:
        """Start serving on a free port; ``url`` is set when this returns."""
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),),
                                        name="fake-pushover", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("FakePushover did not start within 10 s")
        if self._start_error is not None:
            raise RuntimeError("FakePushover failed to start") from self._start_error
        return self

    def stop(self) -> None:
        """Stop serving, ending any ``hang_next`` sleeps early; safe to call twice."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=15)
        self._thread = None

    def __enter__(self) -> FakePushover:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _serve(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        try:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}{MESSAGES_PATH}"
        except Exception as exc:  # re-raised by start() in the caller's thread
            self._start_error = exc
        finally:
            self._started.set()
        if self._start_error is None:
            await self._stopping.wait()
        await runner.cleanup()

    # --- scripting -------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 500, body: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` (and ``body``/``headers``)."""
        with self._changed:
            self._failures.extend([_Failure(status, body, headers)] * n)

    def hang_next(self, n: int, seconds: float) -> None:
        """Sleep ``seconds`` before handling each of the next ``n`` requests.

        The request is still handled afterwards, as a real server would, so a client that
        timed out may find it was delivered.
        """
        with self._changed:
            self._hangs.extend([seconds] * n)

    def drop_next(self, n: int) -> None:
        """Close the connection of the next ``n`` requests without answering."""
        with self._changed:
            self._drops += n

    def acknowledge(self, receipt: str, user: str, device: str = "phone") -> None:
        """Someone acknowledged the emergency behind ``receipt`` on ``device``."""
        with self._changed:
            self._receipts[receipt].update(acknowledged=1, acknowledged_at=int(time.time()),
                                           acknowledged_by=user, acknowledged_by_device=device)

    def call_back(self, receipt: str) -> int:
        """POST the acknowledgement to the emergency's callback URL, as Pushover does once it is
        acknowledged (call ``acknowledge`` first); the status the daemon answered."""
        with self._changed:
            state = dict(self._receipts[receipt])
        form = {"receipt": receipt, "acknowledged": str(state["acknowledged"]),
                "acknowledged_at": str(state["acknowledged_at"]),
                "acknowledged_by": state["acknowledged_by"],
                "acknowledged_by_device": state["acknowledged_by_device"]}
        return httpx.post(state["callback"], data=form, timeout=10).status_code

    def expire(self, receipt: str) -> None:
        """The emergency behind ``receipt`` ran out of repeats unacknowledged."""
        with self._changed:
            self._receipts[receipt]["expired"] = 1

    @property
    def receipts(self) -> dict[str, dict[str, Any]]:
        """Every receipt issued, with its state (tags, acknowledged, expired, cancelled)."""
        with self._changed:
            return {r: dict(state) for r, state in self._receipts.items()}

    @property
    def receipt_checks(self) -> list[Received]:
        """The ``receipts/<receipt>.json`` requests."""
        with self._changed:
            return [r for r in self._requests if _RECEIPT_PATH.fullmatch(r.path)]

    def rate_limit(self, remaining: int, reset: int, limit: int = 10000) -> None:
        """Set the quota figures; once ``remaining`` reaches 0, answer 429."""
        with self._changed:
            self._limit, self._remaining, self._reset = limit, remaining, reset

    # --- inspection ------------------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        """Every request received so far, including refused ones."""
        with self._changed:
            return list(self._requests)

    @property
    def accepted(self) -> list[Received]:
        """The messages answered 200."""
        with self._changed:
            return [r for r in self._requests if r.status == 200 and r.path == MESSAGES_PATH]

    @property
    def limit_queries(self) -> list[Received]:
        """The ``apps/limits.json`` requests."""
        with self._changed:
            return [r for r in self._requests if r.path == LIMITS_PATH]

    @property
    def validations(self) -> list[Received]:
        """The ``users/validate.json`` requests."""
        with self._changed:
            return [r for r in self._requests if r.path == VALIDATE_PATH]

    @property
    def connection_count(self) -> int:
        """How many distinct client connections (peer addresses) were seen."""
        with self._changed:
            return len(self._peers)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` messages were accepted; AssertionError after ``timeout``."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._accepted_count() >= count, timeout):
                raise AssertionError(self._shortfall(count, timeout))
        return self.accepted

    async def await_count(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Like ``wait_for`` but polls with ``asyncio.sleep``, leaving the loop free."""
        deadline = time.monotonic() + timeout
        while len(accepted := self.accepted) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(self._shortfall(count, timeout))
            await asyncio.sleep(0.01)
        return accepted

    def _accepted_count(self) -> int:
        return sum(1 for r in self._requests if r.status == 200 and r.path == MESSAGES_PATH)

    def _shortfall(self, count: int, timeout: float) -> str:
        return (f"FakePushover: {self._accepted_count()} of {count} messages accepted "
                f"after {timeout} s ({len(self._requests)} requests received)")

    # --- serving ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self._enter(request)
        try:
            raw = await request.text()  # before hanging: the client may be gone after it
            await self._maybe_hang()
            if self._take_drop():
                self._record(request, raw, 0)
                return self._drop(request)
            status, body, headers = self._answer(request, raw)
            self._record(request, raw, status)
            return web.json_response(body, status=status, headers=headers)
        finally:
            with self._changed:
                self._in_flight -= 1

    def _enter(self, request: web.Request) -> None:
        with self._changed:
            self._in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self._in_flight)
            if request.transport is not None:
                self._peers.add(request.transport.get_extra_info("peername"))

    async def _maybe_hang(self) -> None:
        with self._changed:
            seconds = self._hangs.popleft() if self._hangs else 0.0
        if seconds and self._stopping is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Close the connection; the response returned is never written."""
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=204)

    def _take_drop(self) -> bool:
        with self._changed:
            drop = self._drops > 0
            self._drops -= drop
        return drop

    def _answer(self, request: web.Request,
                raw: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Decide status, JSON body and headers for one request."""
        with self._changed:
            failure = self._failures.popleft() if self._failures else None
            status, body = self._verdict(request, raw, failure)
            if status == 200 and request.path == MESSAGES_PATH:
                self._remaining = max(self._remaining - 1, 0)
            headers = {"X-Limit-App-Limit": str(self._limit),
                       "X-Limit-App-Remaining": str(self._remaining),
                       "X-Limit-App-Reset": str(self._reset)}
        return status, body, headers | ((failure.headers or {}) if failure else {})

    def _verdict(self, request: web.Request, raw: str,
                 failure: _Failure | None) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4())
        if failure is not None:
            default = {"status": 0, "request": request_id,
                       "errors": [f"fake failure {failure.status}"]}
            return failure.status, failure.body if failure.body is not None else default
        if request.path == VALIDATE_PATH and request.method == "POST":
            return self._validation(raw, request_id)
        if request.path == LIMITS_PATH and request.method == "GET":
            return self._limits(request, request_id)
        if (found := _RECEIPT_PATH.fullmatch(request.path)) and request.method == "GET":
            return self._receipt(request, found.group(1), request_id)
        if (found := _CANCEL_PATH.fullmatch(request.path)) and request.method == "POST":
            return self._cancel(raw, found.group(1), request_id)
        if request.path != MESSAGES_PATH or request.method != "POST":
            return 404, {"status": 0, "request": request_id, "errors": ["resource not found"]}
        problems = self._problems(request, raw)
        if problems:
            body: dict[str, Any] = {"status": 0, "request": request_id,
                                    "errors": [text for _, text in problems]}
            return 400, body | {param: "invalid" for param, _ in problems}
        if self._remaining <= 0:
            return 429, {"status": 0, "request": request_id,
                         "errors": ["application has exceeded its monthly message limit"]}
        return 200, self._success(raw, request_id)

    def _validation(self, raw: str, request_id: str) -> tuple[int, dict[str, Any]]:
        """``POST /1/users/validate.json``: is the token valid, and the user key?"""
        form = _parse(raw)
        problems = (_check_token(form.get("token"), self.token)
                    or _check_user(form.get("user"), self.users))
        if problems:
            return 400, {"status": 0, "request": request_id,
                         "errors": [text for _, text in problems]} | {
                             param: "invalid" for param, _ in problems}
        return 200, {"status": 1, "group": 0, "devices": ["phone"], "request": request_id}

    def _limits(self, request: web.Request, request_id: str) -> tuple[int, dict[str, Any]]:
        """``GET /1/apps/limits.json?token=``: the quota figures (called with the lock held)."""
        if problems := _check_token(request.query.get("token"), self.token):
            return 400, {"status": 0, "request": request_id, "token": "invalid",
                         "errors": [text for _, text in problems]}
        return 200, {"status": 1, "limit": self._limit, "remaining": self._remaining,
                     "reset": self._reset, "request": request_id}

    def _receipt(self, request: web.Request, receipt: str,
                 request_id: str) -> tuple[int, dict[str, Any]]:
        """``GET /1/receipts/<receipt>.json?token=`` (called with the lock held)."""
        if problems := _check_token(request.query.get("token"), self.token):
            return 400, {"status": 0, "request": request_id, "token": "invalid",
                         "errors": [text for _, text in problems]}
        state = self._receipts.get(receipt)
        if state is None:
            return 404, {"status": 0, "request": request_id, "receipt": "not found",
                         "errors": ["receipt not found; may be invalid or expired"]}
        shown = {k: v for k, v in state.items() if k not in ("tags", "cancelled", "callback")}
        return 200, {"status": 1, "request": request_id, **shown}

    def _cancel(self, raw: str, tag: str, request_id: str) -> tuple[int, dict[str, Any]]:
        """``POST /1/receipts/cancel_by_tag/<tag>.json`` (called with the lock held)."""
        if problems := _check_token(_parse(raw).get("token"), self.token):
            return 400, {"status": 0, "request": request_id, "token": "invalid",
                         "errors": [text for _, text in problems]}
        self.cancelled_tags.append(tag)
        hit = [s for s in self._receipts.values()
               if tag in s["tags"] and not s["acknowledged"] and not s["cancelled"]]
        for state in hit:
            state["cancelled"] = True
        return 200, {"status": 1, "request": request_id, "canceled": len(hit)}

    def _problems(self, request: web.Request, raw: str) -> list[Problem]:
        # The real API also takes JSON and multipart; Kapacitor and pushoverd send forms,
        # so the fake insists on them to catch a client that drifts.
        if request.content_type != "application/x-www-form-urlencoded":
            return [("content_type", "request body must be form-encoded")]
        return validate(_parse(raw), self.token, self.users)

    def _success(self, raw: str, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"status": 1, "request": request_id}
        form = _parse(raw)
        if form.get("priority", "").strip() == "2":
            receipt = body["receipt"] = secrets.token_hex(15)  # 30 alphanumeric characters
            self._receipts[receipt] = {
                "tags": [t for t in form.get("tags", "").split(",") if t], "acknowledged": 0,
                "acknowledged_at": 0, "acknowledged_by": "", "acknowledged_by_device": "",
                "expired": 0, "expires_at": int(time.time()) + int(form["expire"]),
                "cancelled": False, "callback": form.get("callback", "")}
        return body

    def _record(self, request: web.Request, raw: str, status: int) -> None:
        received = Received(form=_parse(raw), raw_body=raw, headers=dict(request.headers),
                            path=request.path, at=time.time(), status=status)
        with self._changed:
            self._requests.append(received)
            self._changed.notify_all()


def _parse(raw: str) -> dict[str, str]:
    """Decode a form body; a repeated key keeps its last value."""
    return dict(parse_qsl(raw, keep_blank_values=True))
