"""Publish and aggregate handlers form a graph between topics; it must have no cycle.

Kapacitor checks nothing: a topic that publishes to itself (directly or around a loop)
re-collects the same event until the process falls over. pushoverd refuses the handler that
would close a loop when it is defined, naming the loop, and still bounds how far one event
travels in case a loop got past that (a second writer to a shared store, say).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pushoverd.errors import ValidationError

MAX_HOPS = 32
"""The most publish handlers one posted event may pass through."""

Edges = Mapping[str, Iterable[str]]
"""topic -> the topics its publish and aggregate handlers collect into."""


def check_no_cycle(edges: Edges, topic: str, targets: Iterable[str], option: str) -> None:
    """ValidationError naming ``option`` if a handler on ``topic`` that collects into
    ``targets`` closes a loop in ``edges`` (which must not hold that handler itself)."""
    for target in targets:
        path = _path(edges, target, topic)
        if path is not None:
            loop = " -> ".join([topic, *path])
            raise ValidationError(f"'{option}' in options would make a loop: {loop}")


def _path(edges: Edges, start: str, goal: str) -> list[str] | None:
    """The topics from ``start`` to ``goal`` along ``edges`` (both included), if any."""
    came_from: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        here = frontier.pop()
        if here == goal:
            path = [here]
            while (before := came_from[path[-1]]) is not None:
                path.append(before)
            return path[::-1]
        for nxt in edges.get(here, ()):
            if nxt not in came_from:
                came_from[nxt] = here
                frontier.append(nxt)
    return None
