"""Kapacitor's JSON shapes for topics, events and handlers, encoded the way Go encodes them.

Field order, link shapes and escaping follow the 1.5.7 captures: API bodies are indented with
four spaces and have no trailing newline, and ``<``, ``>``, ``&`` are written as ``\\u003c``,
``\\u003e``, ``\\u0026`` like Go's encoding/json does.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from pushoverd.models import EventState, HandlerSpec, TopicState
from pushoverd.timefmt import format_go_duration, format_rfc3339nano

BASE = "/kapacitor/v1"
TOPICS = f"{BASE}/alerts/topics"

# Go's url.PathEscape leaves these (and letters, digits, "-_.~") alone; Kapacitor's captured
# links show ":" and "=" unescaped (".../events/cpu:host=serverA").
_SEGMENT_SAFE = "$&+:=@"

_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_json(value: Any, *, pretty: bool = True) -> bytes:
    """Encode like Go: MarshalIndent with four spaces (pretty) or compact with a newline."""
    if pretty:
        text = json.dumps(value, indent=4, ensure_ascii=False)
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"
    return text.translate(_GO_ESCAPES).encode()


def segment(text: str) -> str:
    """``text`` as one path segment: percent-encoded like Go's ``url.PathEscape``, so an id
    holding ``/``, ``%``, ``?``, ``#`` or a space still names itself.

    Letters beyond ASCII (all that topic and handler ids may hold besides ``-._:`` and
    digits) stay as they are: the Go client sets ``url.Path = href`` and would escape an
    escaped ``%C3%A9`` a second time, while other clients encode the letter themselves.
    """
    if text in (".", ".."):  # a client would resolve a dot segment away
        return text.replace(".", "%2E")
    return "".join(c if c.isalpha() else quote(c, safe=_SEGMENT_SAFE) for c in text)


def link(href: str, rel: str = "self") -> dict[str, str]:
    """A Kapacitor link object."""
    return {"rel": rel, "href": href}


def error_body(message: str) -> dict[str, str]:
    """Kapacitor 1.6+'s error body (1.5 sent only ``error``)."""
    return {"error": message, "message": message}


def topic(state: TopicState) -> dict[str, Any]:
    """One topic."""
    href = f"{TOPICS}/{segment(state.id)}"
    return {
        "link": link(href),
        "id": state.id,
        "level": state.level.name,
        "collected": state.collected,
        "events-link": link(f"{href}/events", "events"),
        "handlers-link": link(f"{href}/handlers", "handlers"),
    }


def topics(self_href: str, states: list[TopicState]) -> dict[str, Any]:
    """The topics list."""
    return {"link": link(self_href), "topics": [topic(s) for s in states]}


def event(topic_id: str, state: EventState) -> dict[str, Any]:
    """One event's state, with its duration as Go duration text."""
    return {
        "link": link(f"{TOPICS}/{segment(topic_id)}/events/{segment(state.id)}"),
        "id": state.id,
        "state": {
            "message": state.message,
            "details": state.details,
            "time": format_rfc3339nano(state.time_ns),
            "duration": format_go_duration(state.duration_ns),
            "level": state.level.name,
        },
    }


def events(topic_id: str, states: list[EventState]) -> dict[str, Any]:
    """A topic's events; the self link carries no query string, as in Kapacitor."""
    return {
        "link": link(f"{TOPICS}/{segment(topic_id)}/events"),
        "topic": topic_id,
        "events": [event(topic_id, s) for s in states],
    }


def handler(spec: HandlerSpec) -> dict[str, Any]:
    """One handler spec as given (redact secrets first; Kapacitor leaves ``topic`` out, and
    options keys come out sorted)."""
    return {
        "link": link(f"{TOPICS}/{segment(spec.topic)}/handlers/{segment(spec.id)}"),
        "id": spec.id,
        "kind": spec.kind,
        "options": _sorted_maps(spec.options),
        "match": spec.match,
    }


def handlers(self_href: str, topic_id: str, specs: list[HandlerSpec]) -> dict[str, Any]:
    """A topic's handler specs."""
    return {"link": link(self_href), "topic": topic_id, "handlers": [handler(s) for s in specs]}


def _sorted_maps(value: Any) -> Any:
    # Go encodes map keys in sorted order, at every depth.
    if isinstance(value, dict):
        return {k: _sorted_maps(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_maps(v) for v in value]
    return value
