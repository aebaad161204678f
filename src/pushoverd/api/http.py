"""HTTP plumbing shared by every route: Kapacitor's headers, errors, gzip, CORS, access log."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from pushoverd.api import wire
from pushoverd.auth.privileges import User
from pushoverd.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PushoverdError,
    StoreError,
    Unauthorized,
    ValidationError,
)
from pushoverd.logs import request_context

KAPACITOR_VERSION = "1.5.7"
"""The Kapacitor API version we answer as: the one whose wire captures we match."""

JSON_TYPE = "application/json; charset=utf-8"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USER = web.RequestKey("authenticated_user", User)
"""The user the auth middleware authenticated (absent when auth is off or the route is open)."""

_STATUS = ((ValidationError, 400), (Unauthorized, 401), (Forbidden, 403), (NotFound, 404),
           (Conflict, 409), (StoreError, 500))
_CORS_METHODS = "DELETE, GET, OPTIONS, POST, PATCH"
_CORS_HEADERS = ("Accept, Accept-Encoding, Authorization, Content-Length, Content-Type, "
                 "X-CSRF-Token, X-HTTP-Method-Override")

log = logging.getLogger(__name__)


def json_response(value: Any, status: int = 200, *, pretty: bool = True) -> web.Response:
    """A JSON body encoded as Kapacitor encodes it."""
    return web.Response(body=wire.go_json(value, pretty=pretty), status=status,
                        headers={"Content-Type": JSON_TYPE})


def error_response(message: str, status: int) -> web.Response:
    """Kapacitor's error body."""
    return json_response(wire.error_body(message), status)


def no_content() -> web.Response:
    """204 with Kapacitor's JSON content type (it sets one even on empty replies)."""
    return web.Response(status=204, headers={"Content-Type": JSON_TYPE})


def status_for(exc: PushoverdError) -> int:
    """The HTTP status an error maps to."""
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)


@web.middleware
async def kapacitor_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn errors into Kapacitor's error bodies and add its headers to every reply.

    Whatever goes wrong, the client gets a JSON error body: an unexpected exception is logged
    with its traceback and answered 500 with only the request id, which names the log line.
    """
    request_id = str(uuid.uuid4())  # uuid1 takes a lock and costs 10x more
    with request_context(request_id):  # on every log line of the work it causes
        response = await _answer(request, handler, request_id)
    _decorate(request, response, request_id)
    return response


async def _answer(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    try:
        return await handler(request)
    except PushoverdError as exc:
        return error_response(str(exc), status_for(exc))
    except web.HTTPError as exc:
        return _http_error(exc)
    except web.RequestPayloadError as exc:
        return _payload_error(exc)
    except web.HTTPException:
        raise  # a redirect or success raised on purpose: aiohttp sends it as it is
    except Exception:
        log.exception("internal error answering %s %s (request id %s)",
                      request.method, request.path, request_id)
        return error_response(f"internal error (request id {request_id})", 500)


def _http_error(exc: web.HTTPError) -> web.Response:
    """aiohttp's own refusals (unknown route, body too large...) as Kapacitor error bodies."""
    if isinstance(exc, web.HTTPNotFound | web.HTTPMethodNotAllowed):
        # Kapacitor answers 404 for unknown paths and wrong methods alike, never 405.
        return error_response("Not Found", 404)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return error_response(f"request body too large: {exc.text}", 413)
    return error_response(exc.text or exc.reason, exc.status)


def _payload_error(exc: web.RequestPayloadError) -> web.Response:
    """A body the client garbled (bad gzip, broken chunking) is its mistake: 400."""
    cause = exc.__cause__
    detail = cause.message if isinstance(cause, HttpProcessingError) else "unreadable"
    response = error_response(f"invalid request body: {detail}", 400)
    response.force_close()  # the rest of the body cannot be framed: drop the connection
    return response


def _decorate(request: web.Request, response: web.StreamResponse, request_id: str) -> None:
    headers = response.headers
    headers.setdefault("Content-Type", JSON_TYPE)
    headers["X-Kapacitor-Version"] = KAPACITOR_VERSION
    headers["Request-Id"] = request_id
    origin = request.headers.get("Origin")
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Methods"] = _CORS_METHODS
        headers["Access-Control-Allow-Headers"] = _CORS_HEADERS
    body = getattr(response, "body", None)
    if body and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.enable_compression(web.ContentCoding.gzip)


def logged_uri(request: web.BaseRequest) -> str:
    """The request's path and query, with a ``p`` (password) query parameter's value hidden."""
    if "p" not in request.query:
        return request.path_qs
    return str(request.rel_url.update_query(p="[REDACTED]"))


class AccessLogger(AbstractAccessLogger):
    """One logfmt line per request, with the fields Kapacitor logs."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Log the request at INFO."""
        user = request.get(USER)
        self.logger.info(
            "http request", extra={"fields": {
                "service": "http", "host": request.remote or "-",
                "username": getattr(user, "name", "-"), "method": request.method,
                "uri": logged_uri(request), "protocol": f"HTTP/{request.version.major}."
                f"{request.version.minor}", "status": response.status,
                "user-agent": request.headers.get("User-Agent", "-"),
                "request-id": response.headers.get("Request-Id", "-"),
                "duration": f"{time * 1e6:.3f}µs"}})

    @property
    def enabled(self) -> bool:
        """Whether the logger would emit anything."""
        return self.logger.isEnabledFor(logging.INFO)
