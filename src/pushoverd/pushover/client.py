"""The Pushover messages API client: one kept-alive httpx client, failures classified here.

A 2xx is success (as in Kapacitor, whatever the body says); 429 is ``PushoverRateLimited``;
any other 4xx is ``PushoverRejected`` (never retried: repeated 4xx get the sending IP
blocked); 5xx, timeouts and connection failures are ``PushoverTransientError``. The token
and user keys are scrubbed from every error message raised here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from pushoverd.errors import (
    PushoverError,
    PushoverRateLimited,
    PushoverRejected,
    PushoverTransientError,
)
from pushoverd.pushover.message import Message

log = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
_EXCERPT_LIMIT = 200
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
Observer = Callable[[str, str, float], None]
"""Told of each request: its endpoint, its answer (an HTTP status, or ``error`` when none came)
and how long it took in seconds (metrics; the client knows nothing of them)."""
# Most specific first: ConnectTimeout is both a timeout and a connect failure.
# httpx-aiohttp maps most aiohttp failures to ConnectTimeout; its cause says what happened.
_AIOHTTP_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (aiohttp.ServerTimeoutError, "timeout"),
    (TimeoutError, "timeout"),
    (aiohttp.ServerDisconnectedError, "connection closed"),
    (aiohttp.ClientConnectorError, "connection failed"),
    (aiohttp.ClientPayloadError, "read error"),
    (aiohttp.ClientOSError, "connection error"),
)
_TRANSPORT_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (httpx.ConnectTimeout, "connect timeout"),
    (httpx.TimeoutException, "timeout"),
    (httpx.ConnectError, "connection failed"),
    (httpx.RemoteProtocolError, "connection closed"),
    (httpx.ReadError, "read error"),
    (httpx.WriteError, "write error"),
)


def _user_agent() -> str:
    """Return ``pushoverd/<installed version>``."""
    try:
        return f"pushoverd/{metadata.version('pushoverd')}"
    except metadata.PackageNotFoundError:
        return "pushoverd/0"


def _int_or_none(value: str | None) -> int | None:
    """Parse a header value as an integer, or None when absent or garbage."""
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The application's monthly quota as reported in ``X-Limit-App-*`` headers."""

    limit: int | None
    remaining: int | None
    reset: int | None  # Unix time of the next monthly reset

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        """Parse the quota headers; None when none of them is present."""
        # One pass over the headers: each httpx.Headers lookup decodes every header again.
        items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
        found = {k.lower(): v for k, v in items if k[:12].lower() == "x-limit-app-"}
        raw = [found.get(f"x-limit-app-{name}") for name in ("limit", "remaining", "reset")]
        if all(v is None for v in raw):
            return None
        return cls(*(_int_or_none(v) for v in raw))


@dataclass(frozen=True, slots=True)
class SendResult:
    """What Pushover answered to an accepted message."""

    request_id: str | None
    info: str | None  # e.g. "no active devices to send to": queued, but nobody will see it
    receipt: str | None  # emergency priority only
    status_code: int
    limits: RateLimit | None
    canceled: int = 0  # cancel_by_tag only: how many emergencies it stopped


@dataclass(frozen=True, slots=True)
class ReceiptStatus:
    """An emergency's receipt as ``receipts/<receipt>.json`` reports it (Unix times)."""

    acknowledged: bool
    acknowledged_at: int | None
    acknowledged_by: str | None  # a user key: a secret, never shown whole
    acknowledged_by_device: str | None
    expired: bool
    expires_at: int | None


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every non-empty secret in ``text`` with ``[REDACTED]``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """Return the body as a JSON object, or None when it is not one."""
    try:
        payload = json.loads(response.content)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _str_or_none(payload: dict[str, Any] | None, key: str) -> str | None:
    """Return ``payload[key]`` if it is a string."""
    value = (payload or {}).get(key)
    return value if isinstance(value, str) else None


def _excerpt(body: bytes) -> str:
    """Return a short, printable, single-line excerpt of a body that is not JSON."""
    text = body.decode("utf-8", errors="replace")
    text = re.sub(r"\s+", " ", "".join(c if c.isprintable() else " " for c in text)).strip()
    return text if len(text) <= _EXCERPT_LIMIT else text[:_EXCERPT_LIMIT] + "…"


def _describe(response: httpx.Response, payload: dict[str, Any] | None) -> str:
    """Word a failed answer as Kapacitor does; the body's ``error`` string wins."""
    if error := _str_or_none(payload, "error"):
        return error
    errors = (payload or {}).get("errors")
    if isinstance(errors, list):
        content = ", ".join(str(e) for e in errors)
    else:
        content = _excerpt(response.content) if payload is None else ""
    code = response.status_code
    return f"failed to understand Pushover response. code: {code} content: {content}"


def _invalid_param(payload: dict[str, Any] | None) -> str | None:
    """Return the parameter Pushover marked ``"invalid"``, e.g. ``user``."""
    invalid = [k for k, v in (payload or {}).items() if v == "invalid"]
    return invalid[0] if invalid else None


def _transport_kind(exc: httpx.RequestError) -> str:
    """Name the kind of transport failure in a few words."""
    cause = exc.__cause__
    for kinds, failure in ((_AIOHTTP_KINDS, cause), (_TRANSPORT_KINDS, exc)):
        found = next((kind for cls, kind in kinds if isinstance(failure, cls)), None)
        if found:
            return found
    return "transport error"


class PushoverClient:
    """Sends messages to Pushover over at most ``max_connections`` kept-alive connections."""

    def __init__(self, url: str, token: str, user_key: str, *, timeout: float = 10.0,
                 max_connections: int = 2,
                 transport: httpx.AsyncBaseTransport | None = None,
                 observe: Observer | None = None) -> None:
        self.reconfigure(url, token, user_key)
        self._observe = observe or _ignore
        # Pushover allows 2 concurrent connections per client; the semaphore keeps callers
        # from queueing more requests than the pool serves at once.
        self._gate = asyncio.Semaphore(max_connections)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections),
            # Every request is a form: set once here instead of merging headers per request.
            headers={"User-Agent": _user_agent(), **_FORM_HEADERS},
            transport=transport or aiohttp_transport(max_connections),
        )

    def __repr__(self) -> str:
        return f"PushoverClient(url={self._url!r})"

    def reconfigure(self, url: str, token: str, user_key: str) -> None:
        """Use another messages URL, token and default user key from the next request on
        (requests in flight finish with the old ones)."""
        self._url = url
        self._validate_url = _sibling_url(url, "users/validate.json")
        self._host = httpx.URL(url).host or url
        self._token = token
        self._user_key = user_key

    async def __aenter__(self) -> PushoverClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the kept-alive connections."""
        await self._http.aclose()

    @property
    def can_validate(self) -> bool:
        """Whether the users/validate endpoint can be derived from the messages URL."""
        return self._validate_url is not None

    async def validate(self, user: str = "") -> SendResult:
        """Check the token and a user key (default: the configured one) without sending.

        Pushover's ``users/validate.json`` costs no message; raises like ``send``.
        """
        if self._validate_url is None:
            raise PushoverTransientError("no users/validate.json endpoint beside the messages URL")
        user = user or self._user_key
        body = urlencode([("token", self._token), ("user", user)])
        return await self._post(self._validate_url, body, (self._token, self._user_key, user),
                                "validate")

    async def limits(self) -> RateLimit | None:
        """The application's quota from ``GET apps/limits.json`` (costs no message); None when
        the figures cannot be read. Raises like ``send`` when the request fails."""
        response = await self._get("apps/limits.json", "limits")
        return _limits_body(_json_object(response))

    async def receipt(self, receipt: str) -> ReceiptStatus:
        """An emergency's receipt (``GET receipts/<receipt>.json``, no message spent; Pushover
        asks for no more than one check every 5 seconds). Raises like ``send``."""
        payload = _json_object(await self._get(f"receipts/{quote(receipt, safe='')}.json",
                                                   "receipt"))
        return _receipt_body(payload or {})

    async def cancel_by_tag(self, tag: str) -> int:
        """Stop the repeats of every unacknowledged emergency carrying ``tag``; how many
        (``POST receipts/cancel_by_tag/<tag>.json``, no message spent)."""
        url = self._endpoint(f"receipts/cancel_by_tag/{quote(tag, safe='')}.json")
        result = await self._post(url, urlencode([("token", self._token)]), (self._token,),
                                  "cancel")
        return result.canceled

    async def _get(self, endpoint: str, name: str) -> httpx.Response:
        url = self._endpoint(endpoint)
        async with self._gate:
            started = time.perf_counter()
            try:
                response = await self._http.get(url, params={"token": self._token})
            except httpx.RequestError as exc:
                self._observe(name, "error", time.perf_counter() - started)
                text = f"Pushover {_transport_kind(exc)} ({self._host}): {type(exc).__name__}"
                raise PushoverTransientError(text) from None
            self._observe(name, str(response.status_code), time.perf_counter() - started)
        _classify(response, (self._token,))
        return response

    def _endpoint(self, endpoint: str) -> str:
        url = _sibling_url(self._url, endpoint)
        if url is None:
            raise PushoverTransientError(f"no {endpoint} endpoint beside the messages URL")
        return url

    async def send(self, message: Message) -> SendResult:
        """POST one message; raise a ``PushoverError`` subclass when it was not accepted."""
        body = urlencode(message.form(self._token, self._user_key))
        return await self._post(self._url, body,
                                (self._token, self._user_key, *message.user.split(",")),
                                "messages")

    async def _post(self, url: str, body: str, secrets: tuple[str, ...],
                    name: str) -> SendResult:
        async with self._gate:
            started = time.perf_counter()
            try:
                response = await self._http.post(url, content=body)
            except httpx.RequestError as exc:
                self._observe(name, "error", time.perf_counter() - started)
                kind = _transport_kind(exc)
                log.debug("POST to %s failed: %s", self._host, kind)
                text = f"Pushover {kind} ({self._host}): {type(exc).__name__}: {exc}"
                # "from None": the httpx error holds the request, whose body holds the token.
                raise PushoverTransientError(redact(text, secrets)) from None
            self._observe(name, str(response.status_code), time.perf_counter() - started)
        log.debug("POST to %s answered %d", self._host, response.status_code)
        return _classify(response, secrets)


def _ignore(endpoint: str, code: str, seconds: float) -> None:
    """No observer: nothing to tell."""


def aiohttp_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    """httpx's API over aiohttp's connection pool: about 45% less CPU per request than httpx's
    own transport (``bench/client.py``), with at most ``max_connections`` kept alive."""
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    return AiohttpTransport(limits=limits)


def _sibling_url(messages_url: str, endpoint: str) -> str | None:
    """``.../1/<endpoint>`` beside ``.../1/messages.json``, if the URL has that shape."""
    base, _, last = messages_url.rpartition("/")
    return f"{base}/{endpoint}" if last == "messages.json" else None


def _int_field(payload: dict[str, Any], key: str) -> int | None:
    value = payload.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value else None


def _receipt_body(payload: dict[str, Any]) -> ReceiptStatus:
    """A ``receipts/<receipt>.json`` answer; absent or zero times read as None."""
    by = payload.get("acknowledged_by")
    device = payload.get("acknowledged_by_device")
    return ReceiptStatus(
        acknowledged=payload.get("acknowledged") == 1,
        acknowledged_at=_int_field(payload, "acknowledged_at"),
        acknowledged_by=by if isinstance(by, str) and by else None,
        acknowledged_by_device=device if isinstance(device, str) and device else None,
        expired=payload.get("expired") == 1, expires_at=_int_field(payload, "expires_at"))


def _limits_body(payload: dict[str, Any] | None) -> RateLimit | None:
    """The figures of a ``limits.json`` answer, each an integer or None."""
    figures = [(payload or {}).get(k) for k in ("limit", "remaining", "reset")]
    if all(not isinstance(v, int) or isinstance(v, bool) for v in figures):
        return None
    return RateLimit(*(v if isinstance(v, int) and not isinstance(v, bool) else None
                       for v in figures))


def _classify(response: httpx.Response, secrets: Iterable[str]) -> SendResult:
    """Turn Pushover's answer into a ``SendResult`` or raise the matching error."""
    limits = RateLimit.from_headers(response.headers)
    status = response.status_code
    payload = _json_object(response)
    if 200 <= status < 300:
        canceled = (payload or {}).get("canceled")
        return SendResult(_str_or_none(payload, "request"), _str_or_none(payload, "info"),
                          _str_or_none(payload, "receipt"), status, limits,
                          canceled if isinstance(canceled, int) else 0)
    text = redact(_describe(response, payload), secrets)
    error: PushoverError
    if status == 429:
        error = PushoverRateLimited(text, reset=limits.reset if limits else None, limits=limits)
    elif 400 <= status < 500:
        error = PushoverRejected(text, status=status, param=_invalid_param(payload),
                                 limits=limits)
    else:  # 5xx, and the 1xx/3xx Pushover never sends: retry rather than drop the alert
        error = PushoverTransientError(text, status=status, limits=limits)
    raise error
