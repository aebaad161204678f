"""The store contract: every named operation the daemon performs on its state.

Backends (memory and SQLite now, PostgreSQL later) implement :class:`Store`; the services above
depend on nothing else, and ``tests/contract`` runs one suite against every backend. Every write
is durable (for the backend's meaning of durable) when its awaitable returns.

Two operations take a pure function that runs inside the backend's transaction: ingest asks a
:data:`Planner` which deliveries an event causes, and the flood flush asks a :data:`Summarizer`
for a summary. A backend may run them more than once for the same write (SQLite retries a
rolled-back group write by write), so they must not change anything outside their result:
everything they need, the flood counts included, comes from the transaction itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pushoverd.models import (
    ConfigOverride,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    EventState,
    HandlerSpec,
    HeldGroup,
    Level,
    NewDelivery,
    OutboxStats,
    ReceiptUpdate,
    TopicState,
)

NotificationCount = Callable[[str, float, int], int]
"""``count(handler_id, since, at_most)``: how many notifications (deliveries neither coalesced,
suppressed nor control) the handler has on the topic being collected, created after ``since``,
this transaction's own included; counting stops at ``at_most``."""

LastNotification = Callable[[str], Delivery | None]
"""``last(handler_id)``: that handler's latest notification about the alert being collected
(not coalesced, suppressed or control), this transaction's own included."""

Unfinished = Callable[[str], list[Delivery]]
"""``unfinished(handler_id)``: that handler's notifications about the alert being collected
that are still on their way (pending, failed, sending) or followed up (an outstanding
receipt), oldest first, this transaction's own included."""


@dataclass(frozen=True, slots=True)
class Collecting:
    """What a planner knows about one event being collected."""

    topic: str
    event: Event
    previous: Level
    """The level this event ID had in this topic before; for one the topic has not seen,
    OK, or if it was published here, the level it had where it came from (Kapacitor's
    publish hands the event on with its previous state, which only a state stored in the
    new topic replaces)."""
    now: float
    """The ingest time: what the deliveries' ``created_at`` will be."""
    notifications: NotificationCount
    last_notification: LastNotification
    unfinished: Unfinished
    hops: int = 0
    """How many publish handlers passed this event on before it reached ``topic`` (0: it
    was posted to this topic)."""


@dataclass(frozen=True, slots=True)
class Published:
    """An event a publish handler passes on: collected into ``topic`` in the same
    transaction, as if it had been posted there."""

    topic: str
    event: Event
    previous: Level = Level.OK
    """The level it had before where it comes from (see :attr:`Collecting.previous`)."""


@dataclass(frozen=True, slots=True)
class Held:
    """An event an aggregate handler keeps until its next tick."""

    handler_id: str
    event: Event


@dataclass(frozen=True, slots=True)
class Plan:
    """What one event causes: deliveries to enqueue, events to collect into other topics,
    events to hold for an aggregate; and why any handler was skipped (one line each)."""

    deliveries: Sequence[NewDelivery] = ()
    skipped: Sequence[str] = ()
    published: Sequence[Published] = ()
    held: Sequence[Held] = ()


Planner = Callable[[Collecting], Plan]
"""Decides, inside the ingest transaction, which deliveries an event causes. Must be pure."""


@dataclass(frozen=True, slots=True)
class Collected:
    """What an ingest committed: the deliveries enqueued, and the planners' skip reasons."""

    enqueued: int
    skipped: tuple[str, ...] = ()


Aggregation = Callable[[Sequence[Event]], Published]
"""Turns the events an aggregate handler held, oldest first, into the one event it collects
and the topic it goes to."""

Summarizer = Callable[[HeldGroup, float], NewDelivery | None]
"""Builds the summary of one handler's held deliveries, or None if it is not due yet; called
with the group and the current time."""

REQUEUEABLE = (DeliveryStatus.DEAD, DeliveryStatus.FAILED)
"""The statuses a re-queue takes: not sent yet, and not on their way either."""


def requeueable(statuses: Sequence[DeliveryStatus]) -> tuple[DeliveryStatus, ...]:
    """The re-queueable ones among ``statuses`` (all of them when none is named); empty when
    none of the named ones can be re-queued, so that nothing is."""
    return tuple(s for s in REQUEUEABLE if not statuses or s in statuses)


Readdress = Callable[[Delivery], dict[str, Any]]
"""The payload a re-queued delivery is sent with: its rendered text, its handler's current
recipients."""


class Store(Protocol):
    """The daemon's durable state: handler specs, topic and event state, the outbox, and the
config overrides made through the config API."""

    async def open(self) -> int:
        """Connect, create or migrate the schema; return how many deliveries a previous run
        left leased (they are claimable again at once)."""

    async def close(self) -> None:
        """Finish pending writes and release connections."""

    # Handler specs -------------------------------------------------------------------------
    async def load_handlers(self) -> list[tuple[HandlerSpec, str | None]]:
        """Every handler spec with its source (a file path, or None when made through the API),
        sorted by topic and ID."""

    async def handlers_revision(self) -> int:
        """A number that changes whenever a handler spec is created, replaced or deleted."""

    async def create_handler(self, spec: HandlerSpec, source: str | None) -> None:
        """Store a new spec and create its topic; raise Conflict if the ID is taken."""

    async def replace_handler(self, topic: str, handler_id: str, spec: HandlerSpec,
                              source: str | None) -> None:
        """Replace (and possibly rename) a spec; NotFound if absent, Conflict on a taken ID.
        Events it held for an aggregate stay held, under the new ID."""

    async def delete_handler(self, topic: str, handler_id: str) -> bool:
        """Delete a spec and the events it held for an aggregate; whether it existed."""

    # Topics and events ---------------------------------------------------------------------
    async def ensure_topic(self, topic: str) -> None:
        """Create the topic if it does not exist."""

    async def collect(self, topic: str, events: Sequence[Event], plan: Planner) -> Collected:
        """Record events and what ``plan`` derives, atomically: the deliveries, the events it
        publishes to other topics (planned in turn, depth first, each step with ``hops`` one
        higher), and the events it holds for aggregates."""

    async def flush_aggregate(self, topic: str, handler_id: str, aggregate: Aggregation,
                              plan: Planner) -> Collected | None:
        """Take every event the aggregate handler ``topic``/``handler_id`` holds, and collect
        the event ``aggregate`` makes of them (with ``plan``), atomically; None when it held
        none."""

    async def topics(self) -> list[TopicState]:
        """Every topic, sorted by ID."""

    async def topic(self, topic: str) -> TopicState | None:
        """One topic, or None."""

    async def delete_topic(self, topic: str) -> bool:
        """Delete a topic and its events (handlers stay); whether it existed."""

    async def events(self, topic: str, min_level: Level) -> list[EventState] | None:
        """A topic's events at or above ``min_level``, highest level first, then by ID; None
        if the topic does not exist."""

    async def event(self, topic: str, event_id: str) -> EventState | None:
        """One event's state, or None."""

    # Outbox --------------------------------------------------------------------------------
    async def claim(self, now: float, limit: int, lease_seconds: float,
                    kinds: Sequence[str]) -> list[Delivery]:
        """Lease up to ``limit`` due deliveries of ``kinds``, oldest first. A delivery waits
        while an earlier one of its alert (same handler and event id) is leased or waiting for
        a retry: a recovery never overtakes its own alert."""

    async def mark_sent(self, delivery_id: int, request_id: str | None, info: str | None,
                        now: float, receipt: str | None = None) -> None:
        """Record a successful send, with the service's receipt to follow it up, if any."""

    async def mark_failed(self, delivery_id: int, error: str, next_attempt_at: float,
                          now: float) -> None:
        """Record a failed attempt to be retried at ``next_attempt_at``."""

    async def mark_dead(self, delivery_id: int, error: str, now: float) -> None:
        """Record that a delivery will never be sent."""

    async def release(self, delivery_ids: Sequence[int], now: float) -> None:
        """Return claimed deliveries that were not attempted to the queue, uncounted."""

    async def deliveries(self, query: DeliveryFilter) -> list[Delivery]:
        """Deliveries matching ``query``, newest first."""

    async def delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery, or None."""

    async def requeue(self, now: float, readdress: Readdress, query: DeliveryFilter) -> int:
        """Make the deliveries matching ``query`` that are not yet sent (dead, or failed and
        waiting for a retry; ``query.statuses`` narrows that) due now, with the payload
        ``readdress`` gives; keeps ``created_at``, records ``requeued_at``. How many."""

    async def receipts_due(self, now: float, limit: int) -> list[Delivery]:
        """Up to ``limit`` outstanding emergencies (sent with a receipt, not acknowledged,
        expired or cancelled) whose receipt check is due, the longest waiting first."""

    async def escalate(self, delivery_id: int, deliveries: Sequence[NewDelivery],
                       now: float) -> int:
        """Pass an outstanding emergency nobody answered on, once: enqueue ``deliveries`` and
        mark it escalated, atomically; how many were enqueued (0 once it no longer stands or
        was escalated already)."""

    async def delivery_by_receipt(self, receipt: str) -> Delivery | None:
        """The delivery the service gave ``receipt`` for, or None."""

    async def record_receipt(self, delivery_id: int, update: ReceiptUpdate, now: float,
                             follow_up: Sequence[NewDelivery] = ()) -> bool:
        """Record what a receipt check found (acknowledged, by whom, expired, or the next check
        time), if the receipt is still outstanding, and enqueue the ``follow_up`` deliveries it
        causes in the same transaction; whether it was outstanding (a repeat does nothing)."""

    async def stats(self) -> OutboxStats:
        """Outbox depth by status, the oldest waiting delivery, and the outstanding
        emergencies (how many, the oldest's send time)."""

    async def flush_coalesced(self, now: float, summarize: Summarizer) -> int:
        """Enqueue due summaries of coalesced deliveries, linking every held delivery up to
        the group's latest to its summary; how many summaries."""

    async def prune(self, before: float) -> int:
        """Delete finished deliveries (sent, dead, summarised) last updated before ``before``."""

    # Config overrides ----------------------------------------------------------------------
    async def config_overrides(self) -> list[ConfigOverride]:
        """Every stored config override, sorted by ID."""

    async def set_config_override(self, override: ConfigOverride) -> None:
        """Store an override, replacing any with the same ID."""

    async def delete_config_override(self, override_id: str) -> bool:
        """Delete an override; whether it existed."""
