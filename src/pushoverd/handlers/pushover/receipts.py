"""Following emergencies up: every outstanding receipt is checked with Pushover until someone
acknowledges it, it expires, or its alert's recovery cancels it; and an emergency nobody
answered within its handler's ``escalate-after`` is passed on, once, to ``escalate-to``.

``GET receipts/<receipt>.json`` costs no message; Pushover asks for no more than one check per
receipt every 5 seconds, so each receipt is checked at most every ``poll-interval`` (at least
5 s, default 30 s). What a check finds is recorded on the delivery, where the API shows it. A
receipt Pushover no longer knows (it keeps them for a week) is recorded as expired.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from pushoverd.errors import PushoverError, PushoverRejected
from pushoverd.handlers.pushover.directory import Recipient, addressed, resolve
from pushoverd.handlers.pushover.transport import Transport
from pushoverd.models import Delivery, DeliveryFilter, NewDelivery, ReceiptState, ReceiptUpdate
from pushoverd.periodic import Periodic
from pushoverd.pushover.client import ReceiptStatus
from pushoverd.store.base import Store

log = logging.getLogger(__name__)


def mask(key: str) -> str:
    """A user key as it may be shown: its first and last 4 characters."""
    return f"{key[:4]}…{key[-4:]}" if len(key) > 8 else "…"


def who(key: str | None, directory: Mapping[str, Recipient]) -> str | None:
    """Who a user key is: the recipient's name, else the key masked (never the key)."""
    if not key:
        return None
    return next((name for name, r in directory.items() if r.user_key == key), mask(key))


def update_from(status: ReceiptStatus, now: float, interval: float,
                directory: Mapping[str, Recipient] | None = None) -> ReceiptUpdate:
    """What a receipt's status means for its delivery."""
    if status.acknowledged:
        return ReceiptUpdate(
            ReceiptState.ACKNOWLEDGED,
            acknowledged_at=float(status.acknowledged_at) if status.acknowledged_at else now,
            acknowledged_by=who(status.acknowledged_by, directory or {}),
            acknowledged_by_device=status.acknowledged_by_device)
    if status.expired:
        return ReceiptUpdate(ReceiptState.EXPIRED)
    return ReceiptUpdate(ReceiptState.OUTSTANDING, next_check_at=now + interval)


async def record(store: Store, d: Delivery, update: ReceiptUpdate, now: float) -> bool:
    """Record a receipt's news; whether the receipt was still outstanding. Once one recipient
    acknowledges an alert's emergency, the others' repeats are stopped too: someone is on it."""
    follow_up = await _stop_the_others(store, d) if (
        update.state is ReceiptState.ACKNOWLEDGED) else []
    return await store.record_receipt(d.id, update, now, follow_up)


async def _stop_the_others(store: Store, d: Delivery) -> list[NewDelivery]:
    """One cancel by the alert's tag, when other recipients' emergencies of it still ring."""
    tag = d.payload.get("tags")
    if not isinstance(tag, str) or not tag:
        return []
    same = await store.deliveries(DeliveryFilter(
        topic=d.topic, handler_id=d.handler_id, event_id=d.event_id, limit=-1))
    if not any(o.id != d.id and o.receipt_state is ReceiptState.OUTSTANDING for o in same):
        return []
    return [NewDelivery(topic=d.topic, handler_id=d.handler_id, kind=d.kind,
                        event_id=d.event_id, level=d.level, control=True,
                        payload={"cancel": tag, "message": "stop the other recipients' "
                                 f"repeats of {d.event_id}"})]


class ReceiptPoller:
    """Checks the outstanding receipts that are due, on a timer."""

    def __init__(self, store: Store, transport: Transport, interval: float,
                 clock: Callable[[], float] = time.time, tick: float = 1.0,
                 batch: int = 20, directory: Mapping[str, Recipient] | None = None,
                 on_enqueued: Callable[[], None] = lambda: None,
                 on_acknowledged: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._on_acknowledged = on_acknowledged  # metrics
        self._transport = transport
        self._interval = interval
        self._clock = clock
        self._batch = batch
        self._directory = dict(directory or {})
        self._on_enqueued = on_enqueued
        self._timer = Periodic("checking emergency receipts", self.poll, tick)

    def start(self) -> None:
        """Check receipts in the background."""
        self._timer.start()

    async def stop(self) -> None:
        """Stop checking (an outstanding receipt is checked again after a restart)."""
        await self._timer.stop()

    async def poll(self) -> int:
        """Check every receipt that is due now; how many were checked."""
        now = self._clock()
        due = await self._store.receipts_due(now, self._batch)
        for delivery in due:
            update = await self._check(delivery, now)
            if update.state is ReceiptState.OUTSTANDING:
                update = await self._escalate_if_due(delivery, update, now)
            if await record(self._store, delivery, update, self._clock()) and (
                    update.state is ReceiptState.ACKNOWLEDGED):
                self._on_acknowledged()
                self._on_enqueued()
        return len(due)

    async def _escalate_if_due(self, d: Delivery, update: ReceiptUpdate,
                               now: float) -> ReceiptUpdate:
        """Pass an unanswered emergency on once ``escalate-after`` has passed; the next check
        comes no later than that moment."""
        plan = d.payload.get("escalate")
        if not isinstance(plan, dict) or d.escalated_at is not None or d.sent_at is None:
            return update
        due = d.sent_at + float(plan.get("after") or 0)
        if now < due:
            nearest = min(update.next_check_at or due, due)
            return ReceiptUpdate(ReceiptState.OUTSTANDING, next_check_at=nearest)
        escalated = await self._store.escalate(d.id, self._escalation(d, plan), now)
        if escalated:
            log.warning("emergency not acknowledged in time: passed on to %d recipient(s)",
                        escalated, extra={"fields": {"delivery": d.id, "topic": d.topic,
                                                     "handler": d.handler_id}})
            self._on_enqueued()
        return update

    def _escalation(self, d: Delivery, plan: dict[str, Any]) -> list[NewDelivery]:
        base = {k: v for k, v in d.payload.items()
                if k not in ("escalate", "recipient", "recipient_note", "user", "device")}
        try:
            recipients = resolve([str(n) for n in plan.get("to", [])], self._directory)
        except ValueError as exc:  # a name removed from the config since
            log.error("cannot escalate delivery %d: %s", d.id, exc)
            return []
        return [NewDelivery(topic=d.topic, handler_id=d.handler_id, kind=d.kind,
                            event_id=d.event_id, level=d.level,
                            payload=addressed(base, r, f"escalated: delivery {d.id} was not "
                                              "acknowledged in time"))
                for r in recipients]

    async def _check(self, d: Delivery, now: float) -> ReceiptUpdate:
        assert d.receipt is not None
        try:
            status = await self._transport.receipt(d.receipt)
        except PushoverRejected as exc:
            log.warning("Pushover no longer knows the receipt of delivery %d: %s", d.id, exc)
            return ReceiptUpdate(ReceiptState.EXPIRED)
        except PushoverError as exc:
            log.warning("checking the receipt of delivery %d failed, again later: %s", d.id, exc)
            return ReceiptUpdate(ReceiptState.OUTSTANDING, next_check_at=now + self._interval)
        update = update_from(status, now, self._interval, self._directory)
        if update.state is ReceiptState.ACKNOWLEDGED:
            log.info("emergency acknowledged", extra={"fields": {
                "delivery": d.id, "topic": d.topic, "handler": d.handler_id,
                "event": d.event_id, "by": update.acknowledged_by or "-"}})
        return update
