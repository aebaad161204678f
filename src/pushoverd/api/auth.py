"""The authentication middleware for ``[http] auth-enabled = true``.

Every route needs credentials **unless it is listed open here**, so a route added later is
protected without anyone remembering to protect it. Open: ``/kapacitor/v1/ping`` (and its
``v1preview`` alias), the Pushover acknowledgement callback (it carries its own token), and
``OPTIONS`` preflights (browsers send them without credentials; Kapacitor answers them before
authenticating too). An unknown route needs credentials before it is a 404, as in Kapacitor.

Answers, as Kapacitor 1.5.7's (compact bodies, no ``WWW-Authenticate``): 401 when credentials
are missing or wrong, 403 ``user <name> does not have "<privilege>" privilege for API endpoint
"<path>"``, and, of our own, 429 while the client's address is cooling down after too many
failed attempts. Each failed attempt is logged in one line, without its password or token.
"""

from __future__ import annotations

import logging
import math

from aiohttp import web

from pushoverd.api import wire
from pushoverd.api.http import JSON_TYPE, USER, Handler
from pushoverd.auth import Authenticator, FailureLimiter, parse_credentials
from pushoverd.auth.privileges import required_privileges
from pushoverd.errors import Unauthorized
from pushoverd.handlers.pushover.callback import CALLBACK_PATH

OPEN_ROUTES = frozenset({
    ("GET", "/kapacitor/v1/ping"), ("HEAD", "/kapacitor/v1/ping"),
    ("GET", "/kapacitor/v1preview/ping"), ("HEAD", "/kapacitor/v1preview/ping"),
    ("POST", f"{CALLBACK_PATH}/{{token}}"),
})
"""(method, route pattern) pairs that need no credentials; everything else does."""

log = logging.getLogger(__name__)


def is_open(request: web.Request) -> bool:
    """Whether ``request`` matched a route that needs no credentials."""
    if request.method == "OPTIONS":
        return True
    resource = request.match_info.route.resource  # None when no route matched (404, 405)
    return resource is not None and (request.method, resource.canonical) in OPEN_ROUTES


def _refusal(message: str, status: int) -> web.Response:
    # Kapacitor writes auth errors with json.Marshal: compact, no trailing newline.
    body = wire.go_json(wire.error_body(message), pretty=False).rstrip(b"\n")
    return web.Response(body=body, status=status, headers={"Content-Type": JSON_TYPE})


class AuthGuard:
    """Authenticates and authorizes each request that is not open."""

    def __init__(self, authenticator: Authenticator, limiter: FailureLimiter) -> None:
        self._authenticator, self._limiter = authenticator, limiter

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer 401/403/429, or pass the request on with its user in ``request[USER]``."""
        if is_open(request):
            return await handler(request)
        address = request.remote or "-"
        wait = self._limiter.wait(address)
        if wait > 0:
            response = _refusal("too many failed authentication attempts; try again later", 429)
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        try:
            credentials = parse_credentials(request.headers.get("Authorization"), request.query)
        except Unauthorized as exc:  # nothing was tried: not counted
            return _refusal(str(exc), 401)
        try:
            user = await self._authenticator.authenticate(credentials)
        except Unauthorized as exc:
            self._failed(address, credentials.scheme, credentials.username, str(exc))
            return _refusal(str(exc), 401)
        missing = user.missing(required_privileges(request.method))
        if missing is not None:
            return _refusal(f'user {user.name} does not have "{missing.value}" privilege for '
                            f'API endpoint "{request.path}"', 403)
        request[USER] = user
        return await handler(request)

    def _failed(self, address: str, scheme: str, username: str, reason: str) -> None:
        log.warning("authentication failed", extra={"fields": {
            "service": "http", "host": address, "scheme": scheme,
            "username": username or "-", "reason": reason}})
        if self._limiter.failed(address):
            log.warning("too many failed authentication attempts: refusing the address for a "
                        "while", extra={"fields": {
                            "service": "http", "host": address,
                            "failures": self._limiter.max_failures,
                            "cooldown": f"{self._limiter.cooldown:g}s"}})
