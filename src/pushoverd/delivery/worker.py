"""The delivery worker: claim due deliveries from the outbox, send them, record the outcome.

It knows no integration. Deliveries are leased from the store (a worker that dies loses
nothing: the lease runs out and they are claimed again), sent oldest first with per-handler
order kept, through the :class:`~pushoverd.delivery.base.Sender` of their kind, and every
outcome is written back before the next claim. A failure may pause its kind (an outage, a spent
quota); the other kinds keep sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pushoverd.delivery.base import Sender
from pushoverd.delivery.pauses import Pauses
from pushoverd.delivery.retry import MIN_RETRY_SECONDS, Action, Decision, RetryPolicy
from pushoverd.errors import DeliveryFailed
from pushoverd.models import Delivery
from pushoverd.store.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How the worker paces itself."""

    concurrency: int = 2
    poll_interval: float = 1.0
    lease_timeout: float = 60.0
    batch_size: int = 64


class DeliveryWorker:
    """Drains the outbox through the senders, one per handler kind."""

    def __init__(self, store: Store, senders: Mapping[str, Sender], policy: RetryPolicy,
                 settings: WorkerSettings, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._senders = senders
        self._policy = policy
        self._settings = settings
        self._clock = clock
        self.pauses = Pauses()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._unattempted: set[int] = set()
        self._marks: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        """New deliveries were enqueued: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run the worker in the background."""
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self, grace: float) -> None:
        """Stop claiming, let sends in flight finish within ``grace`` s, return the rest."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._unattempted:
            await self._store.release(sorted(self._unattempted), self._clock())
            self._unattempted.clear()

    def resume(self, kind: str | None = None) -> list[str]:
        """Lift the pauses of ``kind`` (default: every kind) and let its sender retry at once;
        the kinds resumed."""
        kinds = [kind] if kind is not None else sorted(self._senders)
        now = self._clock()
        for name in kinds:
            self.pauses.lift(name)
            self._senders[name].resume(now)
        self._wake.set()
        return kinds

    def status(self) -> dict[str, dict[str, Any]]:
        """Per kind: whether it sends now, its pause, and its sender's own state."""
        now = self._clock()
        return {kind: {**self.pauses.snapshot(kind, now), **sender.status(now)}
                for kind, sender in sorted(self._senders.items())}

    @property
    def kinds(self) -> list[str]:
        """The kinds this worker delivers."""
        return sorted(self._senders)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before looking, so a notify() during the cycle is not lost
            try:
                worked = await self._cycle()
            except Exception:  # a store hiccup must not kill delivery for good
                log.exception("delivery cycle failed; retrying after the poll interval")
                worked = False
            if not worked:
                await self._idle(self.pauses.wait_seconds(self.kinds, self._clock()))

    async def _idle(self, pause: float | None) -> None:
        timeout = self._settings.poll_interval if pause is None else min(pause, 60.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _cycle(self) -> bool:
        """Claim and send one batch; whether there was anything to do."""
        now = self._clock()
        kinds = [k for k in self.kinds if self.pauses.may_send(k, now)]
        batch = await self._store.claim(now, self._settings.batch_size,
                                        self._settings.lease_timeout, kinds) if kinds else []
        if not batch:
            return False
        self._unattempted = {d.id for d in batch}
        try:
            await self._send_batch(batch)
        finally:
            await self._release_unattempted()
            await self._flush_marks()
        return True

    async def _send_batch(self, batch: list[Delivery]) -> None:
        # One queue per handler keeps each handler's notifications in arrival order; the
        # handlers share the worker's ``concurrency`` slots.
        lanes: dict[tuple[str, str], list[Delivery]] = {}
        for d in batch:
            lanes.setdefault((d.topic, d.handler_id), []).append(d)
        gate = asyncio.Semaphore(self._settings.concurrency)
        await asyncio.gather(*(self._send_lane(lane, gate) for lane in lanes.values()))

    async def _send_lane(self, lane: list[Delivery], gate: asyncio.Semaphore) -> None:
        # Strictly one at a time per handler: two in flight could land out of order, and a
        # failed one would be overtaken by the next.
        for delivery in lane:
            async with gate:
                if self._stopping or not self.pauses.may_send(delivery.kind, self._clock()):
                    return
                self._unattempted.discard(delivery.id)
                if not await self._attempt(delivery):
                    return  # it will be retried: the handler's later deliveries wait for it

    async def _flush_marks(self) -> None:
        # Successes are recorded without waiting for each commit (the writer groups them);
        # they are all durable before the next claim.
        marks, self._marks = self._marks, []
        await asyncio.gather(*marks)

    async def _release_unattempted(self) -> None:
        if self._unattempted:
            await self._store.release(sorted(self._unattempted), self._clock())
            self._unattempted = set()

    async def _attempt(self, d: Delivery) -> bool:
        """Send one delivery and record the outcome; whether it is finished (sent or dead)."""
        sender = self._senders.get(d.kind)
        if sender is None:
            await self._store.mark_dead(d.id, f"no sender for kind {d.kind!r}", self._clock())
            return True
        try:
            sent = await sender.send(d.payload)
        except DeliveryFailed as exc:
            return await self._failed(d, exc)
        except (ValueError, TypeError, KeyError) as exc:  # a stored payload it cannot read
            await self._store.mark_dead(d.id, f"invalid stored payload: {exc}", self._clock())
            return True
        self._marks.append(asyncio.ensure_future(
            self._store.mark_sent(d.id, sent.request_id, sent.info, self._clock())))
        if sent.info:
            log.warning("%s accepted delivery %d with a notice: %s", d.kind, d.id, sent.info)
        return True

    async def _failed(self, d: Delivery, failure: DeliveryFailed) -> bool:
        now = self._clock()
        if failure.pause_until is not None and failure.pause_until > now:
            self.pauses.pause(d.kind, failure.pause_until, str(failure))
        if failure.retry and not failure.attempted:
            # Held back unsent: it waits (uncounted) for the pause, its handler's later ones
            # behind it. Without a pause it would be claimed again at once, so it backs off.
            if self.pauses.may_send(d.kind, now):
                self.pauses.pause(d.kind, failure.retry_at or now + MIN_RETRY_SECONDS,
                                  str(failure))
            await self._store.release([d.id], now)
            return False
        decision = self._policy.decide(failure, d.attempts, d.age_basis, now)
        log.warning("delivery %d (topic %s, handler %s) failed: %s -> %s", d.id, d.topic,
                    d.handler_id, decision.error, decision.action.value)
        await self._record(d, decision, now)
        return decision.action is Action.DEAD

    async def _record(self, d: Delivery, decision: Decision, now: float) -> None:
        if decision.action is Action.DEAD:
            await self._store.mark_dead(d.id, decision.error, now)
        else:
            await self._store.mark_failed(d.id, decision.error, decision.retry_at or now, now)
