"""The store interface: every named operation the daemon performs on its state.

Backends (SQLite now, PostgreSQL later) implement this protocol; the services above depend on
nothing else. Every write is durable when its awaitable returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from pushoverd.models import (
    Delivery,
    DeliveryFilter,
    Event,
    EventState,
    HandlerSpec,
    Level,
    NewDelivery,
    OutboxStats,
    TopicState,
)

Planner = Callable[[str, Event, Level], Sequence[NewDelivery]]
"""Decides, inside the ingest transaction, which deliveries an event causes.

Called with the topic, the event and the level that event ID had before it in that topic.
"""

Summarizer = Callable[[str, str, list[Delivery], float], NewDelivery | None]
"""Builds the summary of one handler's coalesced deliveries (oldest first), or None if it is
not due yet; called with the topic, the handler ID, the deliveries and the current time."""


class Store(Protocol):
    """The daemon's durable state: handler specs, topic and event state, the outbox."""

    async def open(self) -> None:
        """Connect, create or migrate the schema."""

    async def close(self) -> None:
        """Finish pending writes and release connections."""

    # Handler specs -------------------------------------------------------------------------
    async def load_handlers(self) -> list[tuple[HandlerSpec, str | None]]:
        """Every handler spec with its source (a file path, or None when made through the API)."""

    async def create_handler(self, spec: HandlerSpec, source: str | None) -> None:
        """Store a new spec and create its topic; raise Conflict if the ID is taken."""

    async def replace_handler(self, topic: str, handler_id: str, spec: HandlerSpec,
                              source: str | None) -> None:
        """Replace (and possibly rename) a spec; NotFound if absent, Conflict on a taken ID."""

    async def delete_handler(self, topic: str, handler_id: str) -> bool:
        """Delete a spec; whether it existed."""

    # Topics and events ---------------------------------------------------------------------
    async def ensure_topic(self, topic: str) -> None:
        """Create the topic if it does not exist."""

    async def collect(self, topic: str, events: Sequence[Event], plan: Planner) -> int:
        """Record events and the deliveries ``plan`` derives, atomically; the count enqueued."""

    async def topics(self) -> list[TopicState]:
        """Every topic, sorted by ID."""

    async def topic(self, topic: str) -> TopicState | None:
        """One topic, or None."""

    async def delete_topic(self, topic: str) -> bool:
        """Delete a topic and its events (handlers stay); whether it existed."""

    async def events(self, topic: str, min_level: Level) -> list[EventState] | None:
        """A topic's events at or above ``min_level``; None if the topic does not exist."""

    async def event(self, topic: str, event_id: str) -> EventState | None:
        """One event's state, or None."""

    # Outbox --------------------------------------------------------------------------------
    async def claim(self, now: float, limit: int, lease_seconds: float) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries, oldest first, to this worker."""

    async def mark_sent(self, delivery_id: int, request_id: str | None, info: str | None,
                        now: float) -> None:
        """Record a successful send."""

    async def mark_failed(self, delivery_id: int, error: str, next_attempt_at: float,
                          now: float) -> None:
        """Record a failed attempt to be retried at ``next_attempt_at``."""

    async def mark_dead(self, delivery_id: int, error: str, now: float) -> None:
        """Record that a delivery will never be sent."""

    async def release(self, delivery_ids: Sequence[int], now: float) -> None:
        """Return claimed deliveries that were not attempted to the queue."""

    async def deliveries(self, query: DeliveryFilter) -> list[Delivery]:
        """Deliveries matching ``query``, newest first."""

    async def delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery, or None."""

    async def requeue_dead(self, now: float, delivery_id: int | None = None,
                           topic: str | None = None, handler_id: str | None = None) -> int:
        """Put dead deliveries back in the queue; how many."""

    async def stats(self) -> OutboxStats:
        """Outbox depth by status and the oldest waiting delivery."""

    async def flush_coalesced(self, now: float, summarize: Summarizer) -> int:
        """Enqueue due summaries of coalesced deliveries, linking them; how many."""

    async def prune(self, before: float) -> int:
        """Delete sent and dead deliveries last updated before ``before``; how many."""
