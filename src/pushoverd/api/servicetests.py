"""Kapacitor's ``/service-tests`` endpoints (compact JSON with a trailing newline, as Kapacitor)."""

from __future__ import annotations

import json

from aiohttp import web

from pushoverd.api.http import json_response
from pushoverd.api.wire import BASE, link
from pushoverd.errors import ValidationError
from pushoverd.handlers.pushover.servicetest import PushoverServiceTest, decode
from pushoverd.topics.patterns import matches

SERVICE_TESTS = web.AppKey("service_tests", PushoverServiceTest)


def _entry(tests: PushoverServiceTest, name: str) -> dict[str, object]:
    return {"link": link(f"{BASE}/service-tests/{name}"), "name": name,
            "options": tests.options(name).wire()}


async def list_tests(request: web.Request) -> web.Response:
    """The testable services matching ``pattern`` (default ``*``)."""
    tests = request.app[SERVICE_TESTS]
    pattern = request.query.get("pattern") or "*"
    try:
        names = [n for n in tests.names() if matches(pattern, n)]
    except ValidationError as exc:
        raise ValidationError(f"bad pattern: {exc}") from None
    return json_response({"link": link(f"{BASE}/service-tests"),
                          "services": [_entry(tests, n) for n in names]}, pretty=False)


async def get_test(request: web.Request) -> web.Response:
    """One service's default test options."""
    return json_response(_entry(request.app[SERVICE_TESTS], request.match_info["name"]),
                         pretty=False)


async def run_test(request: web.Request) -> web.Response:
    """Run a test; always 200 with the outcome, 400 for a body that is not JSON."""
    tests = request.app[SERVICE_TESTS]
    name = request.match_info["name"]
    tests.options(name)
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = "EOF" if not raw.strip() else str(exc)
        raise ValidationError(f"failed to decode JSON body:{reason}") from None
    success, message = await tests.run(name, decode(body))
    return json_response({"success": success, "message": message}, pretty=False)


def routes(prefix: str) -> list[web.RouteDef]:
    """The routes under ``prefix``."""
    return [
        web.get(f"{prefix}/service-tests", list_tests, allow_head=False),
        web.get(f"{prefix}/service-tests/{{name}}", get_test, allow_head=False),
        web.post(f"{prefix}/service-tests/{{name}}", run_test),
    ]
