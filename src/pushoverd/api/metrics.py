"""``GET /metrics`` (Prometheus text format) and the count of bad requests by reason."""

from __future__ import annotations

from aiohttp import web

from pushoverd.api.http import Handler
from pushoverd.errors import Conflict, Forbidden, InvalidHandlerSpec, NotFound, ValidationError
from pushoverd.metrics import CONTENT_TYPE, Metrics

METRICS = web.AppKey("metrics", Metrics)

_BY_STATUS = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "not_found",
              409: "conflict", 413: "body_too_large"}


async def metrics(request: web.Request) -> web.Response:
    """Every metric family, brought up to date first (the outbox, pauses, the breaker)."""
    body = await request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def routes() -> list[web.RouteDef]:
    """``/metrics``, where Prometheus looks by default."""
    return [web.get("/metrics", metrics, allow_head=False)]


def reason(request: web.Request, exc: BaseException) -> str | None:
    """Why a request was refused as the client's mistake, in a word from a fixed set (never
    the error's text, which holds the client's input); None when it was not its mistake."""
    if isinstance(exc, InvalidHandlerSpec):
        return "invalid_handler"
    if isinstance(exc, ValidationError):
        return _invalid(request)
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, Forbidden):
        return "forbidden"
    if isinstance(exc, Conflict):
        return "conflict"
    if isinstance(exc, web.RequestPayloadError):
        return "unreadable_body"
    if isinstance(exc, web.HTTPException) and 400 <= exc.status < 500:
        return _BY_STATUS.get(exc.status, "invalid_request")
    return None


def _invalid(request: web.Request) -> str:
    """What was invalid, from the route the request was for."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else ""
    if request.method == "POST" and path.endswith("/events"):
        return "invalid_alert"
    if "/handlers" in path:
        return "invalid_handler"
    if "/config" in path:
        return "invalid_config"
    if request.method == "GET":
        return "invalid_query"
    return "invalid_request"


@web.middleware
async def count_bad_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count each 4xx by reason (inside the error middleware, so it sees the exception)."""
    recorder = request.app[METRICS]
    try:
        response = await handler(request)
    except BaseException as exc:
        if (why := reason(request, exc)) is not None:
            recorder.bad_request(why)
        raise
    if 400 <= response.status < 500:
        recorder.bad_request(_BY_STATUS.get(response.status, "invalid_request"))
    return response
