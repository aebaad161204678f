"""Kapacitor's alert-topic API (``/kapacitor/v1``), plus our ingest endpoint beside it."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from pushoverd.api import wire
from pushoverd.api.http import json_response, no_content
from pushoverd.api.metrics import METRICS
from pushoverd.api.schemas import parse_alerts
from pushoverd.errors import ValidationError
from pushoverd.models import Level, valid_topic_id
from pushoverd.topics.patterns import compile_pattern
from pushoverd.topics.service import TopicService, spec_from_mapping

SERVICE = web.AppKey("topic_service", TopicService)


def _service(request: web.Request) -> TopicService:
    return request.app[SERVICE]


def _pattern(request: web.Request) -> str:
    pattern = request.query.get("pattern", "")
    try:
        compile_pattern(pattern)
    except ValidationError as exc:
        raise ValidationError(f"invalid pattern: {exc}") from None
    return pattern


def _min_level(request: web.Request) -> Level:
    try:
        return Level.parse_query(request.query.get("min-level", ""))
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


async def _json_body(request: web.Request, what: str) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"{what}: {exc}") from None


async def ping(request: web.Request) -> web.Response:
    """204: the daemon is up (the CLI reads the version header)."""
    return no_content()


async def preflight(request: web.Request) -> web.Response:
    """CORS preflight: 204, the middleware adds the CORS headers."""
    return no_content()


async def list_topics(request: web.Request) -> web.Response:
    """Topics filtered by ``pattern`` and ``min-level``."""
    found = await _service(request).topics(_pattern(request), _min_level(request))
    return json_response(wire.topics(request.raw_path, found))


async def get_topic(request: web.Request) -> web.Response:
    """One topic."""
    return json_response(wire.topic(await _service(request).topic(request.match_info["topic"])))


async def delete_topic(request: web.Request) -> web.Response:
    """Delete a topic's state and events; 204 even if it did not exist."""
    await _service(request).delete_topic(request.match_info["topic"])
    return no_content()


async def list_events(request: web.Request) -> web.Response:
    """A topic's events at or above ``min-level``."""
    topic = request.match_info["topic"]
    found = await _service(request).events(topic, _min_level(request))
    return json_response(wire.events(topic, found))


async def get_event(request: web.Request) -> web.Response:
    """One event's state."""
    topic, event_id = request.match_info["topic"], request.match_info["event"]
    return json_response(wire.event(topic, await _service(request).event(topic, event_id)))


async def post_events(request: web.Request) -> web.Response:
    """Ingest one alert or an array of them; 204 once they are durably stored."""
    topic = request.match_info["topic"]
    if not valid_topic_id(topic):
        raise ValidationError(
            f"invalid topic ID \"{topic}\": topic must contain only letters, numbers, "
            "'-', ':', '.' and '_'")
    events = parse_alerts(await request.read())
    if events:
        await _service(request).collect(topic, events)
        if (metrics := request.app.get(METRICS)) is not None:
            for event in events:
                metrics.alert(topic, event.level.name)
    return no_content()


async def list_handlers(request: web.Request) -> web.Response:
    """A topic's handler specs matching ``pattern``."""
    topic = request.match_info["topic"]
    found = _service(request).handlers(topic, _pattern(request))
    shown = [_service(request).redacted(spec) for spec in found]
    return json_response(wire.handlers(request.raw_path, topic, shown))


async def get_handler(request: web.Request) -> web.Response:
    """One handler spec."""
    m = request.match_info
    service = _service(request)
    return json_response(wire.handler(service.redacted(service.handler(m["topic"], m["handler"]))))


async def create_handler(request: web.Request) -> web.Response:
    """Create a handler; the topic comes from the URL, never the body."""
    topic = request.match_info["topic"]
    body = await _json_body(request, "invalid handler json")
    service = _service(request)
    spec = await service.create_handler(spec_from_mapping(body, topic))
    return json_response(wire.handler(service.redacted(spec)))


async def put_handler(request: web.Request) -> web.Response:
    """Replace a handler's spec (a new ``id`` renames it)."""
    m = request.match_info
    service = _service(request)
    service.handler(m["topic"], m["handler"])
    body = await _json_body(request, "failed to unmarshal JSON")
    spec = spec_from_mapping(body, m["topic"])
    replaced = await service.replace_handler(m["topic"], m["handler"], spec)
    return json_response(wire.handler(service.redacted(replaced)))


async def patch_handler(request: web.Request) -> web.Response:
    """Apply a JSON Patch to a handler's spec."""
    m = request.match_info
    service = _service(request)
    service.handler(m["topic"], m["handler"])
    patch = await _json_body(request, "invalid patch json")
    patched = await service.patch_handler(m["topic"], m["handler"], patch)
    return json_response(wire.handler(service.redacted(patched)))


async def delete_handler(request: web.Request) -> web.Response:
    """Delete a handler; 204 even if it did not exist."""
    m = request.match_info
    await _service(request).delete_handler(m["topic"], m["handler"])
    return no_content()


def routes(prefix: str) -> list[web.RouteDef]:
    """Every route under ``prefix`` (``/kapacitor/v1`` and its ``v1preview`` alias)."""
    topic = f"{prefix}/alerts/topics/{{topic}}"
    handler = f"{topic}/handlers/{{handler}}"
    return [
        web.get(f"{prefix}/ping", ping, allow_head=True),
        web.get(f"{prefix}/alerts/topics", list_topics, allow_head=False),
        web.get(topic, get_topic, allow_head=False),
        web.delete(topic, delete_topic),
        web.get(f"{topic}/events", list_events, allow_head=False),
        web.post(f"{topic}/events", post_events),
        web.get(f"{topic}/events/{{event:.+}}", get_event, allow_head=False),
        web.get(f"{topic}/handlers", list_handlers, allow_head=False),
        web.post(f"{topic}/handlers", create_handler),
        web.get(handler, get_handler, allow_head=False),
        web.put(handler, put_handler),
        web.patch(handler, patch_handler),
        web.delete(handler, delete_handler),
        web.route("OPTIONS", f"{prefix}/{{tail:.*}}", preflight),
    ]
