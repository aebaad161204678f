"""``POST /pushoverd/v1/callback/{token}``: Pushover reporting an acknowledged emergency.

One of the routes ``[http] auth-enabled`` leaves open (``api/auth.py``): it carries its own
token. A callback whose
token and receipt do not name the same emergency is a 404 that changes nothing.
"""

from __future__ import annotations

from aiohttp import web

from pushoverd.api.http import error_response, json_response
from pushoverd.handlers.pushover.callback import CALLBACK_PATH, CallbackReceiver

RECEIVER = web.AppKey("callback_receiver", CallbackReceiver)


async def receive(request: web.Request) -> web.Response:
    """Record an acknowledgement Pushover calls back with."""
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not await request.app[RECEIVER].receive(request.match_info["token"], fields):
        return error_response("unknown callback", 404)
    return json_response({"status": 1})


def routes() -> list[web.RouteDef]:
    """The callback route."""
    return [web.post(f"{CALLBACK_PATH}/{{token}}", receive)]
