"""Following emergencies up: every outstanding receipt is checked with Pushover until someone
acknowledges it, it expires, or its alert's recovery cancels it.

``GET receipts/<receipt>.json`` costs no message; Pushover asks for no more than one check per
receipt every 5 seconds, so each receipt is checked at most every ``poll-interval`` (at least
5 s, default 30 s). What a check finds is recorded on the delivery, where the API shows it. A
receipt Pushover no longer knows (it keeps them for a week) is recorded as expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from pushoverd.errors import PushoverError, PushoverRejected
from pushoverd.handlers.pushover.transport import Transport
from pushoverd.models import Delivery, ReceiptState, ReceiptUpdate
from pushoverd.pushover.client import ReceiptStatus
from pushoverd.store.base import Store

log = logging.getLogger(__name__)


def mask(key: str) -> str:
    """A user key as it may be shown: its first and last 4 characters."""
    return f"{key[:4]}…{key[-4:]}" if len(key) > 8 else "…"


def update_from(status: ReceiptStatus, now: float, interval: float) -> ReceiptUpdate:
    """What a receipt's status means for its delivery."""
    if status.acknowledged:
        return ReceiptUpdate(
            ReceiptState.ACKNOWLEDGED,
            acknowledged_at=float(status.acknowledged_at) if status.acknowledged_at else now,
            acknowledged_by=mask(status.acknowledged_by) if status.acknowledged_by else None,
            acknowledged_by_device=status.acknowledged_by_device)
    if status.expired:
        return ReceiptUpdate(ReceiptState.EXPIRED)
    return ReceiptUpdate(ReceiptState.OUTSTANDING, next_check_at=now + interval)


class ReceiptPoller:
    """Checks the outstanding receipts that are due, on a timer."""

    def __init__(self, store: Store, transport: Transport, interval: float,
                 clock: Callable[[], float] = time.time, tick: float = 1.0,
                 batch: int = 20) -> None:
        self._store = store
        self._transport = transport
        self._interval = interval
        self._clock = clock
        self._tick = tick
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Check receipts in the background."""
        self._task = asyncio.create_task(self._run(), name="receipt-poller")

    async def stop(self) -> None:
        """Stop checking (an outstanding receipt is checked again after a restart)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:  # a store hiccup must not end the follow-up for good
                log.exception("checking emergency receipts failed; trying again")
            await asyncio.sleep(self._tick)

    async def poll(self) -> int:
        """Check every receipt that is due now; how many were checked."""
        now = self._clock()
        due = await self._store.receipts_due(now, self._batch)
        for delivery in due:
            await self._store.record_receipt(delivery.id, await self._check(delivery, now),
                                             self._clock())
        return len(due)

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
        update = update_from(status, now, self._interval)
        if update.state is ReceiptState.ACKNOWLEDGED:
            log.info("emergency acknowledged", extra={"fields": {
                "delivery": d.id, "topic": d.topic, "handler": d.handler_id,
                "event": d.event_id, "by": update.acknowledged_by or "-"}})
        return update
