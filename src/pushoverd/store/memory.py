"""An in-memory store: the whole Store contract on Python data, for tests and trials.

Nothing survives the process, but a :class:`MemoryData` can be handed to a second store to play
a restart (leases a dead run held are then reclaimed, as SQLite's lock file allows). Each write
runs to completion without awaiting, so it is atomic for every other coroutine; a write that
raises is undone by working on a copy of what it changes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pushoverd.errors import Conflict, NotFound, StoreError
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
    ReceiptState,
    ReceiptUpdate,
    TopicState,
)
from pushoverd.store.base import (
    Aggregation,
    Collected,
    Collecting,
    Planner,
    Readdress,
    Summarizer,
    requeueable,
)

_OPEN = frozenset({DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.SENDING})
_INTERRUPTED = "interrupted: the daemon stopped during the send"


@dataclass
class _Handler:
    spec: HandlerSpec
    source: str | None
    created_at: float


@dataclass
class _Topic:
    collected: int = 0
    events: dict[str, EventState] = field(default_factory=dict)


@dataclass
class MemoryData:
    """Everything a memory store holds; share it between stores to play a restart."""

    topics: dict[str, _Topic] = field(default_factory=dict)
    handlers: dict[tuple[str, str], _Handler] = field(default_factory=dict)
    deliveries: dict[int, Delivery] = field(default_factory=dict)
    next_id: int = 1
    handlers_revision: int = 0
    held: dict[tuple[str, str], list[Event]] = field(default_factory=dict)
    """Events aggregate handlers hold, by (topic, handler ID), oldest first."""
    config_overrides: dict[str, ConfigOverride] = field(default_factory=dict)


class MemoryStore:
    """The Store protocol on in-process data."""

    def __init__(self, data: MemoryData | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.data = MemoryData() if data is None else data
        self._clock = clock
        self._open = False

    async def open(self) -> int:
        """Start serving; leases left by a previous store on the same data are freed."""
        self._open = True
        now, reclaimed = self._clock(), 0
        for d in self._select(lambda d: d.status is DeliveryStatus.SENDING):
            self._put(replace(d, status=DeliveryStatus.FAILED, next_attempt_at=now,
                              updated_at=now, last_error=d.last_error or _INTERRUPTED))
            reclaimed += 1
        return reclaimed

    async def close(self) -> None:
        """Stop serving; the data stays for a store opened on it later."""
        self._open = False

    def _check(self) -> MemoryData:
        if not self._open:
            raise StoreError("the store is closed")
        return self.data

    # Handler specs -------------------------------------------------------------------------
    async def load_handlers(self) -> list[tuple[HandlerSpec, str | None]]:
        """Every handler spec with its source, sorted by topic and ID."""
        handlers = self._check().handlers
        return [(handlers[k].spec, handlers[k].source) for k in sorted(handlers)]

    async def handlers_revision(self) -> int:
        """Changes whenever a spec is created, replaced or deleted."""
        return self._check().handlers_revision

    async def create_handler(self, spec: HandlerSpec, source: str | None) -> None:
        """Store a new spec; Conflict if its ID is taken in its topic."""
        data = self._check()
        if (spec.topic, spec.id) in data.handlers:
            raise Conflict(f'cannot register handler, handler with ID "{spec.id}" already exists')
        data.topics.setdefault(spec.topic, _Topic())
        self._set_handler(spec, source, self._clock())

    async def replace_handler(self, topic: str, handler_id: str, spec: HandlerSpec,
                              source: str | None) -> None:
        """Replace a spec, renaming it if ``spec.id`` differs."""
        data = self._check()
        current = data.handlers.get((topic, handler_id))
        if current is None:
            raise NotFound(f'unknown handler: "{handler_id}"')
        if spec.id != handler_id and (spec.topic, spec.id) in data.handlers:
            raise Conflict(f'cannot rename handler, handler with ID "{spec.id}" already exists')
        del data.handlers[(topic, handler_id)]
        self._set_handler(spec, source, current.created_at)
        if (topic, handler_id) in data.held:
            data.held[(topic, spec.id)] = data.held.pop((topic, handler_id))

    async def delete_handler(self, topic: str, handler_id: str) -> bool:
        """Delete a spec; whether it existed."""
        data = self._check()
        deleted = data.handlers.pop((topic, handler_id), None) is not None
        data.held.pop((topic, handler_id), None)
        data.handlers_revision += deleted
        return deleted

    def _set_handler(self, spec: HandlerSpec, source: str | None, created_at: float) -> None:
        # Stored as JSON would be: a caller changing its dict later changes nothing here.
        spec = replace(spec, options=copy.deepcopy(spec.options))
        self.data.handlers[(spec.topic, spec.id)] = _Handler(spec, source, created_at)
        self.data.handlers_revision += 1

    # Topics and events ---------------------------------------------------------------------
    async def ensure_topic(self, topic: str) -> None:
        """Create the topic if it does not exist."""
        self._check().topics.setdefault(topic, _Topic())

    async def collect(self, topic: str, events: Sequence[Event], plan: Planner) -> Collected:
        """Record events and what they cause atomically: a raising planner leaves nothing."""
        return self._transaction(plan, lambda c: [c.collect(topic, e) for e in events])

    async def flush_aggregate(self, topic: str, handler_id: str, aggregate: Aggregation,
                              plan: Planner) -> Collected | None:
        """Collect the aggregate of the handler's held events, and forget them, atomically."""
        data = self._check()
        if not data.held.get((topic, handler_id)):
            return None
        made = aggregate(list(data.held[(topic, handler_id)]))

        def write(collector: _Collector) -> None:
            collector.held.pop((topic, handler_id), None)
            collector.collect(made.topic, made.event)
        return self._transaction(plan, write)

    def _transaction(self, plan: Planner, write: Callable[[_Collector], Any]) -> Collected:
        # Deliveries are immutable: a shallow copy of the table is a snapshot to roll back to;
        # topics and held events are changed on copies that replace the originals at the end.
        data = self._check()
        saved = (dict(data.deliveries), data.next_id)
        collector = _Collector(self, plan, self._clock())
        try:
            write(collector)
        except BaseException:
            data.deliveries, data.next_id = saved
            raise
        data.topics.update(collector.topics)
        data.held = collector.held
        return Collected(collector.enqueued, tuple(collector.skipped))

    def _counter(self, topic: str) -> Callable[[str, float, int], int]:
        def count(handler_id: str, since: float, at_most: int) -> int:
            found = self._select(lambda d: d.topic == topic and d.handler_id == handler_id
                                 and d.created_at > since and _is_notification(d))
            return min(at_most, len(found))
        return count

    def _unfinished(self, topic: str, event_id: str) -> Callable[[str], list[Delivery]]:
        def unfinished(handler_id: str) -> list[Delivery]:
            return self._select(lambda d: d.alert_key == (topic, handler_id, event_id)
                                and not d.control and (d.status in _OPEN or d.receipt_state
                                                       is ReceiptState.OUTSTANDING))
        return unfinished

    def _last(self, topic: str, event_id: str) -> Callable[[str], Delivery | None]:
        def last(handler_id: str) -> Delivery | None:
            found = self._select(lambda d: d.alert_key == (topic, handler_id, event_id)
                                 and _is_notification(d))
            return found[-1] if found else None
        return last

    async def topics(self) -> list[TopicState]:
        """Every topic, sorted by ID."""
        topics = self._check().topics
        return [_topic_state(t, topics[t]) for t in sorted(topics)]

    async def topic(self, topic: str) -> TopicState | None:
        """One topic, or None."""
        found = self._check().topics.get(topic)
        return None if found is None else _topic_state(topic, found)

    async def delete_topic(self, topic: str) -> bool:
        """Delete a topic and its events; its handlers stay and keep working."""
        return self._check().topics.pop(topic, None) is not None

    async def events(self, topic: str, min_level: Level) -> list[EventState] | None:
        """A topic's events at or above ``min_level``, highest level first, then by ID."""
        found = self._check().topics.get(topic)
        if found is None:
            return None
        shown = [e for e in found.events.values() if e.level >= min_level]
        return sorted(shown, key=lambda e: (-e.level, e.id))

    async def event(self, topic: str, event_id: str) -> EventState | None:
        """One event's state, or None."""
        found = self._check().topics.get(topic)
        return None if found is None else found.events.get(event_id)

    # Outbox --------------------------------------------------------------------------------
    async def claim(self, now: float, limit: int, lease_seconds: float,
                    kinds: Sequence[str]) -> list[Delivery]:
        """Lease due deliveries of ``kinds``, oldest first; a delivery waits while an earlier
        one of the same alert (handler and event id) is leased or waiting for its retry."""
        blocked: set[tuple[str, str, str]] = set()
        claimed: list[Delivery] = []
        for d in self._select(lambda d: d.status in _OPEN):
            lane = d.alert_key
            if d.next_attempt_at > now:
                blocked.add(lane)
            elif len(claimed) < limit and lane not in blocked and d.kind in kinds:
                claimed.append(d)
        until = now + lease_seconds
        return [self._put(replace(d, status=DeliveryStatus.SENDING, next_attempt_at=until,
                                  attempts=d.attempts + 1, updated_at=now)) for d in claimed]

    async def mark_sent(self, delivery_id: int, request_id: str | None, info: str | None,
                        now: float, receipt: str | None = None) -> None:
        """Record a successful send; a receipt makes it an outstanding emergency."""
        state = None if receipt is None else ReceiptState.OUTSTANDING
        self._update(delivery_id, status=DeliveryStatus.SENT, sent_at=now, updated_at=now,
                     request_id=request_id, info=info, receipt=receipt, next_attempt_at=now,
                     receipt_state=state, receipt_check_at=None if receipt is None else now)
        for sent in self._by_ids([delivery_id]):
            if sent.control:  # it stopped its alert's earlier emergencies
                self._close_receipts(sent, now)

    def _close_receipts(self, control: Delivery, now: float) -> None:
        for d in self._select(lambda d: d.alert_key == control.alert_key and d.id < control.id
                              and d.receipt_state is ReceiptState.OUTSTANDING):
            self._put(replace(d, receipt_state=ReceiptState.CANCELLED, receipt_check_at=None,
                              updated_at=now))

    async def receipts_due(self, now: float, limit: int) -> list[Delivery]:
        """Outstanding emergencies whose receipt is due a check, longest waiting first."""
        due = self._select(lambda d: d.receipt_state is ReceiptState.OUTSTANDING
                           and d.receipt_check_at is not None and d.receipt_check_at <= now)
        return sorted(due, key=lambda d: (d.receipt_check_at or 0.0, d.id))[:limit]

    async def escalate(self, delivery_id: int, deliveries: Sequence[NewDelivery],
                       now: float) -> int:
        """Pass an outstanding, not yet escalated emergency on, atomically; how many."""
        found = self._by_ids([delivery_id])
        if (not found or found[0].receipt_state is not ReceiptState.OUTSTANDING
                or found[0].escalated_at is not None):
            return 0
        self._put(replace(found[0], escalated_at=now, updated_at=now))
        for new in deliveries:
            self._insert(new, now)
        return len(deliveries)

    async def delivery_by_receipt(self, receipt: str) -> Delivery | None:
        """The delivery Pushover gave ``receipt`` for, or None."""
        found = self._select(lambda d: d.receipt == receipt)
        return found[0] if found else None

    async def record_receipt(self, delivery_id: int, update: ReceiptUpdate, now: float,
                             follow_up: Sequence[NewDelivery] = ()) -> bool:
        """Record what a receipt check found, if the receipt is still outstanding, with the
        deliveries it causes; whether it was."""
        found = self._by_ids([delivery_id])
        if not found or found[0].receipt_state is not ReceiptState.OUTSTANDING:
            return False
        for new in follow_up:
            self._insert(new, now)
        self._put(replace(found[0], receipt_state=update.state,
                          receipt_check_at=update.next_check_at,
                          acknowledged_at=update.acknowledged_at,
                          acknowledged_by=update.acknowledged_by,
                          acknowledged_by_device=update.acknowledged_by_device, updated_at=now))
        return True

    async def mark_failed(self, delivery_id: int, error: str, next_attempt_at: float,
                          now: float) -> None:
        """Record a failed attempt, to be retried at ``next_attempt_at``."""
        self._update(delivery_id, status=DeliveryStatus.FAILED, last_error=error,
                     next_attempt_at=next_attempt_at, updated_at=now)

    async def mark_dead(self, delivery_id: int, error: str, now: float) -> None:
        """Dead-letter a delivery."""
        self._update(delivery_id, status=DeliveryStatus.DEAD, last_error=error, updated_at=now,
                     next_attempt_at=now)

    async def release(self, delivery_ids: Sequence[int], now: float) -> None:
        """Give claimed, unattempted deliveries back (their attempt is not counted)."""
        for d in self._by_ids(delivery_ids):
            if d.status is DeliveryStatus.SENDING:
                status = DeliveryStatus.FAILED if d.attempts > 1 else DeliveryStatus.PENDING
                self._put(replace(d, status=status, attempts=d.attempts - 1,
                                  next_attempt_at=now, updated_at=now))

    async def deliveries(self, query: DeliveryFilter) -> list[Delivery]:
        """Deliveries matching ``query``, newest first."""
        data = self._check()
        found = (data.deliveries[i] for i in sorted(data.deliveries, reverse=True))
        matching = [d for d in found if _matches(query, d)]
        return matching if query.limit < 0 else matching[:query.limit]

    async def delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery, or None."""
        return self._check().deliveries.get(delivery_id)

    async def requeue(self, now: float, readdress: Readdress, query: DeliveryFilter) -> int:
        """Make matching dead and failed deliveries due now, re-addressed; how many."""
        statuses = requeueable(query.statuses)
        if not statuses:
            return 0
        query = replace(query, statuses=statuses)
        found = self._select(lambda d: _matches(query, d))
        payloads = [readdress(d) for d in found]  # all of them before any change
        for d, payload in zip(found, payloads, strict=True):
            self._put(replace(d, status=DeliveryStatus.PENDING, attempts=0, payload=payload,
                              next_attempt_at=now, updated_at=now, requeued_at=now))
        return len(found)

    async def stats(self) -> OutboxStats:
        """Outbox depth by status and the oldest waiting delivery."""
        counts = {s.value: 0 for s in DeliveryStatus}
        oldest: float | None = None
        for d in self._select(lambda d: True):
            counts[d.status.value] += 1
            if d.status in _OPEN and (oldest is None or d.created_at < oldest):
                oldest = d.created_at
        outstanding = [d.sent_at or 0.0 for d in self._select(
            lambda d: d.receipt_state is ReceiptState.OUTSTANDING)]
        return OutboxStats(counts, oldest, len(outstanding), min(outstanding, default=None))

    async def flush_coalesced(self, now: float, summarize: Summarizer) -> int:
        """Enqueue a summary for each handler's due coalesced deliveries, linking them."""
        groups: dict[tuple[str, str], list[Delivery]] = {}
        for d in self._select(lambda d: d.status is DeliveryStatus.COALESCED
                              and d.summary_id is None):
            groups.setdefault((d.topic, d.handler_id), []).append(d)
        summaries = [(held, summarize(_held_group(held), now))
                     for _, held in sorted(groups.items())]
        for held, summary in summaries:
            if summary is not None:
                summary_id = self._insert(summary, now).id
                for d in held:
                    self._put(replace(d, summary_id=summary_id, updated_at=now))
        return sum(1 for _, s in summaries if s is not None)

    async def prune(self, before: float) -> int:
        """Delete finished (sent, dead, summarised) deliveries last updated before ``before``."""
        doomed = [d.id for d in self._select(lambda d: _finished(d) and d.updated_at < before)]
        for delivery_id in doomed:
            del self.data.deliveries[delivery_id]
        return len(doomed)

    # Config overrides ----------------------------------------------------------------------
    async def config_overrides(self) -> list[ConfigOverride]:
        """Every stored config override, sorted by ID."""
        overrides = self._check().config_overrides
        return [copy.deepcopy(overrides[i]) for i in sorted(overrides)]

    async def set_config_override(self, override: ConfigOverride) -> None:
        """Store an override (a copy: the caller's options stay its own)."""
        self._check().config_overrides[override.id] = copy.deepcopy(override)

    async def delete_config_override(self, override_id: str) -> bool:
        """Delete an override; whether it existed."""
        return self._check().config_overrides.pop(override_id, None) is not None


    # Rows ----------------------------------------------------------------------------------
    def _select(self, keep: Callable[[Delivery], bool]) -> list[Delivery]:
        deliveries = self._check().deliveries
        return [deliveries[i] for i in sorted(deliveries) if keep(deliveries[i])]

    def _by_ids(self, ids: Iterable[int]) -> list[Delivery]:
        deliveries = self._check().deliveries
        return [deliveries[i] for i in ids if i in deliveries]

    def _put(self, delivery: Delivery) -> Delivery:
        self.data.deliveries[delivery.id] = delivery
        return delivery

    def _update(self, delivery_id: int, **changes: Any) -> None:
        for d in self._by_ids([delivery_id]):
            self._put(replace(d, **changes))

    def _insert(self, new: NewDelivery, now: float) -> Delivery:
        delivery_id, self.data.next_id = self.data.next_id, self.data.next_id + 1
        return self._put(Delivery(
            id=delivery_id, topic=new.topic, handler_id=new.handler_id, kind=new.kind,
            event_id=new.event_id, level=new.level, payload=copy.deepcopy(new.payload),
            status=new.status, attempts=0, created_at=now, next_attempt_at=now, updated_at=now,
            last_error=new.last_error, summarizes=new.summarizes, control=new.control,
            origin=new.origin))


def _event_state(event: Event, previous: Level) -> EventState:
    return EventState(id=event.id, message=event.message, details=event.details,
                      time_ns=event.time_ns, duration_ns=event.duration_ns, level=event.level,
                      previous_level=previous)


def _held_group(held: list[Delivery]) -> HeldGroup:
    by_level: dict[Level, int] = {}
    for d in held:
        by_level[d.level] = by_level.get(d.level, 0) + 1
    return HeldGroup(topic=held[0].topic, handler_id=held[0].handler_id, count=len(held),
                     by_level=by_level, first_created_at=min(d.created_at for d in held),
                     latest=held[-1])


def _topic_state(topic: str, state: _Topic) -> TopicState:
    level = max((e.level for e in state.events.values()), default=Level.OK)
    return TopicState(topic, level, state.collected)


def _finished(d: Delivery) -> bool:
    return d.status in (DeliveryStatus.SENT, DeliveryStatus.DEAD, DeliveryStatus.SUPPRESSED) or (
        d.status is DeliveryStatus.COALESCED and d.summary_id is not None)


def _is_notification(d: Delivery) -> bool:
    """Whether ``d`` notifies someone: neither held, suppressed nor a control delivery."""
    return d.status not in (DeliveryStatus.COALESCED, DeliveryStatus.SUPPRESSED) and not d.control


def _matches(query: DeliveryFilter, d: Delivery) -> bool:
    return ((query.topic is None or d.topic == query.topic)
            and (query.handler_id is None or d.handler_id == query.handler_id)
            and (query.kind is None or d.kind == query.kind)
            and (query.event_id is None or d.event_id == query.event_id)
            and (query.recipient is None or d.payload.get("recipient") == query.recipient)
            and (query.acknowledged is None or (d.receipt is not None and (
                d.receipt_state is ReceiptState.ACKNOWLEDGED) is query.acknowledged))
            and (query.delivery_id is None or d.id == query.delivery_id)
            and (not query.statuses or d.status in query.statuses)
            and (query.since is None or d.created_at >= query.since)
            and (query.until is None or d.created_at < query.until)
            and (query.before_id is None or d.id < query.before_id))


class _Collector:
    """One collect transaction's working copies: topics touched and held events."""

    def __init__(self, store: MemoryStore, plan: Planner, now: float) -> None:
        self.store, self.plan, self.now = store, plan, now
        self.topics: dict[str, _Topic] = {}
        self.held = {k: list(v) for k, v in store.data.held.items()}
        self.enqueued, self.skipped = 0, list[str]()

    def collect(self, topic: str, event: Event, hops: int = 0,
                unseen: Level = Level.OK) -> None:
        state = self._topic(topic)
        previous = state.events[event.id].level if event.id in state.events else unseen
        state.events[event.id] = _event_state(event, previous)
        state.collected += 1
        s = self.store
        result = self.plan(Collecting(topic, event, previous, self.now, s._counter(topic),
                                      s._last(topic, event.id), s._unfinished(topic, event.id),
                                      hops))
        for new in result.deliveries:
            s._insert(new, self.now)
        for held in result.held:
            self.held.setdefault((topic, held.handler_id), []).append(held.event)
        self.enqueued += len(result.deliveries)
        self.skipped += result.skipped
        for published in result.published:
            self.collect(published.topic, published.event, hops + 1, published.previous)

    def _topic(self, topic: str) -> _Topic:
        if topic not in self.topics:
            state = copy.copy(self.store.data.topics.get(topic) or _Topic())
            state.events = dict(state.events)
            self.topics[topic] = state
        return self.topics[topic]
