"""The delivery worker: claim due deliveries from the outbox, send them, record the outcome.

It knows no integration. Deliveries are leased from the store (a worker that dies loses
nothing: the lease runs out and they are claimed again) and sent through the
:class:`~pushoverd.delivery.base.Sender` of their kind. Order is kept per alert: one handler's
notifications about one alert id leave one at a time in arrival order, while different alerts
share the ``concurrency`` slots. Claims are topped up as sends finish, so the slots stay busy
whenever there is work. A failure may pause its kind (an outage, a spent quota); the other
kinds keep sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pushoverd.delivery.base import Sender
from pushoverd.delivery.pauses import Pauses
from pushoverd.delivery.retry import MIN_RETRY_SECONDS, Action, Decision, RetryPolicy
from pushoverd.errors import DeliveryFailed
from pushoverd.logs import request_context
from pushoverd.models import Delivery
from pushoverd.store.base import Store

log = logging.getLogger(__name__)
AlertKey = tuple[str, str, str]
Outcome = Callable[[str, str], None]
"""Told of each attempt's outcome: the kind, and ``sent``, ``dead`` or ``retry`` (metrics)."""


def _ignore(kind: str, outcome: str) -> None:
    """No observer."""


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How the worker paces itself."""

    concurrency: int = 2
    poll_interval: float = 1.0
    lease_timeout: float = 60.0
    batch_size: int = 64
    """The most deliveries held claimed but not yet attempted."""

    @property
    def low_water(self) -> int:
        """Claim more once fewer than this wait: enough to keep the slots busy meanwhile."""
        return max(self.concurrency * 2, self.batch_size // 2)


class DeliveryWorker:
    """Drains the outbox through the senders, one per handler kind."""

    def __init__(self, store: Store, senders: Mapping[str, Sender], policy: RetryPolicy,
                 settings: WorkerSettings, clock: Callable[[], float] = time.time,
                 observe: Outcome = _ignore) -> None:
        self._store = store
        self._observe = observe
        self._senders = senders
        self._policy = policy
        self._settings = settings
        self._clock = clock
        self.pauses = Pauses()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._lanes: dict[AlertKey, deque[Delivery]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._queued = 0
        self._marks: set[asyncio.Future[None]] = set()

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
            await self._task
        if self._lane_tasks:
            _, late = await asyncio.wait(self._lane_tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._release([d for lane in self._lanes.values() for d in lane])
        self._lanes.clear()
        self._queued = 0
        await asyncio.gather(*self._marks, return_exceptions=True)

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
            self._wake.clear()  # before looking, so a notify() during the claim is not lost
            try:
                claimed = await self._top_up()
            except Exception:  # a store hiccup must not kill delivery for good
                log.exception("claiming deliveries failed; retrying after the poll interval")
                claimed = 0
            if not claimed:
                await self._idle()

    async def _idle(self) -> None:
        pause = None if self._lanes else self.pauses.wait_seconds(self.kinds, self._clock())
        timeout = self._settings.poll_interval if pause is None else min(pause, 60.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _top_up(self) -> int:
        """Claim due deliveries while few wait for a slot; how many were claimed."""
        if self._queued >= self._settings.low_water:
            return 0
        now = self._clock()
        kinds = [k for k in self.kinds if self.pauses.may_send(k, now)]
        room = self._settings.batch_size - self._queued
        batch = await self._store.claim(now, room, self._settings.lease_timeout,
                                        kinds) if kinds else []
        for delivery in batch:
            self._enqueue(delivery)
        return len(batch)

    def _enqueue(self, d: Delivery) -> None:
        # The store never hands out a later delivery of an alert while an earlier one is
        # claimed, so appending to a running lane keeps arrival order.
        self._queued += 1
        lane = self._lanes.get(d.alert_key)
        if lane is not None:
            lane.append(d)
            return
        self._lanes[d.alert_key] = deque([d])
        task = asyncio.create_task(self._run_lane(d.alert_key), name=f"lane {d.alert_key}")
        self._lane_tasks.add(task)
        task.add_done_callback(self._lane_tasks.discard)

    async def _run_lane(self, key: AlertKey) -> None:
        """Send one alert's claimed deliveries one at a time; stop at the first that is not
        finished (it will be retried: the later ones wait behind it) and return the rest."""
        lane = self._lanes[key]
        try:
            await self._drain(lane)
        except Exception:  # a store hiccup: what is left goes back, and is claimed again
            log.exception("delivering %s/%s (alert %s) failed; its deliveries are retried",
                          *key)
        if self._stopping:
            return  # stop() returns what is left
        rest = list(lane)
        del self._lanes[key]
        self._queued -= len(rest)
        with contextlib.suppress(Exception):  # unreleased, they come back when leases end
            await self._release(rest)

    async def _drain(self, lane: deque[Delivery]) -> None:
        while lane and not self._stopping:
            async with self._slots:
                if self._stopping or not self.pauses.may_send(lane[0].kind, self._clock()):
                    break
                delivery = lane.popleft()
                self._queued -= 1
                finished = await self._attempt(delivery)
            if self._queued < self._settings.low_water:
                self._wake.set()
            if not finished:
                break

    async def _release(self, unattempted: list[Delivery]) -> None:
        """Give claimed deliveries that were not attempted back, uncounted."""
        if unattempted:
            await self._store.release(sorted(d.id for d in unattempted), self._clock())

    def _record_success(self, mark: asyncio.Future[None]) -> None:
        # Successes are recorded without waiting for each commit (the writer groups them);
        # stop() waits for the ones still on their way.
        self._marks.add(mark)
        mark.add_done_callback(self._marks.discard)

    async def _attempt(self, d: Delivery) -> bool:
        """Send one delivery and record the outcome; whether it is finished (sent or dead)."""
        with request_context(d.origin):  # its log lines name the request that caused it
            return await self._send(d)

    async def _send(self, d: Delivery) -> bool:
        sender = self._senders.get(d.kind)
        if sender is None:
            await self._store.mark_dead(d.id, f"no sender for kind {d.kind!r}", self._clock())
            self._observe(d.kind, "dead")
            return True
        try:
            sent = await sender.send(d.payload)
        except DeliveryFailed as exc:
            return await self._failed(d, exc)
        except (ValueError, TypeError, KeyError) as exc:  # a stored payload it cannot read
            await self._store.mark_dead(d.id, f"invalid stored payload: {exc}", self._clock())
            self._observe(d.kind, "dead")
            return True
        except Exception as exc:  # a bug in an integration must not wedge its alerts
            log.exception("the %s sender failed unexpectedly on delivery %d", d.kind, d.id)
            failure = DeliveryFailed(f"unexpected error in the {d.kind} sender: "
                                     f"{type(exc).__name__}: {exc}", retry=True)
            return await self._failed(d, failure)
        self._record_success(asyncio.ensure_future(
            self._store.mark_sent(d.id, sent.request_id, sent.info, self._clock(),
                                  sent.receipt)))
        self._observe(d.kind, "sent")
        if sent.info:
            log.warning("%s accepted delivery %d with a notice: %s", d.kind, d.id, sent.info)
        if log.isEnabledFor(logging.DEBUG):  # the fields cost a dict per send otherwise
            log.debug("delivery %d sent", d.id, extra={"fields": {
                "topic": d.topic, "handler": d.handler_id, "kind": d.kind, "event": d.event_id,
                "attempts": d.attempts + 1}})
        return True

    async def _failed(self, d: Delivery, failure: DeliveryFailed) -> bool:
        now = self._clock()
        if failure.pause_until is not None and failure.pause_until > now:
            self.pauses.pause(d.kind, failure.pause_until, str(failure))
        if failure.retry and not failure.attempted:
            # Held back unsent: it waits (uncounted) for the pause, its alert's later ones
            # behind it. Without a pause it would be claimed again at once, so it backs off.
            if self.pauses.may_send(d.kind, now):
                self.pauses.pause(d.kind, failure.retry_at or now + MIN_RETRY_SECONDS,
                                  str(failure))
            await self._release([d])
            return False
        decision = self._policy.decide(failure, d.attempts, d.age_basis, now)
        log.warning("delivery %d (topic %s, handler %s) failed: %s -> %s", d.id, d.topic,
                    d.handler_id, decision.error, decision.action.value)
        await self._record(d, decision, now)
        return decision.action is Action.DEAD

    async def _record(self, d: Delivery, decision: Decision, now: float) -> None:
        if decision.action is Action.DEAD:
            await self._store.mark_dead(d.id, decision.error, now)
            self._observe(d.kind, "dead")
        else:
            await self._store.mark_failed(d.id, decision.error, decision.retry_at or now, now)
            self._observe(d.kind, "retry")
