"""Kapacitor's config override API (``/kapacitor/v1/config``), as Kapacitor 1.5.7 answers it.

Success bodies are compact JSON with a trailing newline (Kapacitor's ``json.Encoder``), unlike
the alert-topic API's indented ones; errors have the shape every route of ours uses.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from pushoverd.api import wire
from pushoverd.api.http import json_response, no_content
from pushoverd.config.overrides import ElementView, OverrideError, parse_action
from pushoverd.configservice import ConfigService
from pushoverd.errors import NotFound, ValidationError

CONFIG_SERVICE = web.AppKey("config_service", ConfigService)
CONFIG = f"{wire.BASE}/config"


def _service(request: web.Request) -> ConfigService:
    return request.app[CONFIG_SERVICE]


def _element_href(section: str, key: str) -> str:
    return f"{CONFIG}/{section}/{key}"


def _element(section: str, view: ElementView) -> dict[str, Any]:
    return {"link": wire.link(_element_href(section, view.key)), "options": view.options,
            "redacted": view.redacted}


def _section(name: str, views: list[ElementView]) -> dict[str, Any]:
    return {"link": wire.link(f"{CONFIG}/{name}"),
            "elements": [_element(name, v) for v in views] or None}


def _encoded(value: Any) -> web.Response:
    return json_response(value, pretty=False)


async def get_all(request: web.Request) -> web.Response:
    """Every overridable section."""
    found = await _service(request).sections()
    return _encoded({"link": wire.link(CONFIG),
                     "sections": {name: _section(name, found[name]) for name in sorted(found)}})


async def get_no_section(request: web.Request) -> web.Response:
    """``/config/``: Kapacitor's hint about the extra slash."""
    await _service(request).sections()  # 403 first when the API is off
    raise ValidationError("section not specified, do you have an extra trailing '/'?")


async def get_section(request: web.Request) -> web.Response:
    """One section and its elements."""
    name = request.match_info["section"]
    found = await _service(request).sections()
    if name not in found:
        raise NotFound(f"unknown section: {name}")
    return _encoded(_section(name, found[name]))


async def get_element(request: web.Request) -> web.Response:
    """One element: ``/config/pushover/``, ``/config/httppost/<endpoint>``."""
    name, key = request.match_info["section"], request.match_info.get("element", "")
    found = await _service(request).sections()
    if name not in found:
        raise NotFound(f"unknown section: {name}")
    view = next((v for v in found[name] if v.key == key), None)
    if view is None:
        raise NotFound(f"unknown section/element: {name}/{key}")
    return _encoded(_element(name, view))


async def post_update(request: web.Request) -> web.Response:
    """``set``/``delete`` on an element, ``add``/``remove`` on a list section: 204."""
    service = _service(request)
    await service.sections()  # 403 before the body is read
    section = request.match_info.get("section", "")
    element = request.match_info.get("element", "")
    has_element = bool(element) or (bool(section) and request.path.endswith("/"))
    body = _decode(await request.read())
    await service.update(parse_action(section, element, has_element, body))
    return no_content()


def _decode(raw: bytes) -> Any:
    """The body as JSON; Go's decoder error texts for the usual mistakes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OverrideError("failed to decode JSON:invalid UTF-8 in the body") from None
    if not text.strip():
        raise OverrideError("failed to decode JSON:EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text.lstrip())
    except json.JSONDecodeError as exc:
        raise OverrideError(f"failed to decode JSON:{go_decode_error(exc)}") from None
    return value


_CONTEXT = {"Expecting property name enclosed in double quotes":
            "looking for beginning of object key string",
            "Expecting value": "looking for beginning of value",
            "Expecting ':' delimiter": "after object key",
            "Expecting ',' delimiter": "after object key:value pair"}


def go_decode_error(exc: json.JSONDecodeError) -> str:
    """A Python JSON error worded as Go's ``encoding/json`` words it."""
    if exc.pos >= len(exc.doc):
        return "unexpected EOF"
    context = _CONTEXT.get(exc.msg)
    if context is None:
        return exc.msg
    if exc.msg == "Expecting ',' delimiter" and _in_array(exc.doc, exc.pos):
        context = "after array element"
    return f"invalid character {_go_char(exc.doc[exc.pos])} {context}"


def _go_char(char: str) -> str:
    return "'\\''" if char == "'" else f"'{char}'"


def _in_array(doc: str, pos: int) -> bool:
    # The innermost open bracket before pos, ignoring strings: good enough for an error text.
    stripped = re.sub(r'"(\\.|[^"\\])*"', '""', doc[:pos])
    depth: list[str] = []
    for char in stripped:
        if char in "[{":
            depth.append(char)
        elif char in "]}" and depth:
            depth.pop()
    return bool(depth) and depth[-1] == "["


def routes(prefix: str) -> list[web.RouteDef]:
    """The config routes under ``prefix`` (``/kapacitor/v1`` and its ``v1preview`` alias)."""
    base = f"{prefix}/config"
    return [
        web.get(base, get_all, allow_head=False),
        web.get(f"{base}/", get_no_section, allow_head=False),
        web.get(base + "/{section}", get_section, allow_head=False),
        web.get(base + "/{section}/", get_element, allow_head=False),
        web.get(base + "/{section}/{element}", get_element, allow_head=False),
        # No POST on the bare /config: Kapacitor has no such route either (404 Not Found).
        web.post(f"{base}/", post_update),
        web.post(base + "/{section}", post_update),
        web.post(base + "/{section}/", post_update),
        web.post(base + "/{section}/{element}", post_update),
    ]
