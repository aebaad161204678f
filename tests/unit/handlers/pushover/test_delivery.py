"""Pushover delivery end to end: the kind-neutral DeliveryWorker with the real PushoverSender
over a LocalTransport(PushoverClient), a fake Pushover and a real SQLite outbox.

Time is a controllable clock shared by the worker and the sender: tests advance it past a
backoff, a pause or a reset instead of sleeping, then ``notify()`` the worker. Every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from tests.conftest import STRANGER, TOKEN, USER, eventually
from tests.fakes.pushover import FakePushover, Received
from tests.fakes.senders import ScriptedSender

from pushoverd.delivery.base import Sender
from pushoverd.delivery.retry import RetryPolicy
from pushoverd.delivery.worker import DeliveryWorker, WorkerSettings
from pushoverd.errors import DeliveryFailed
from pushoverd.handlers.pushover import LocalTransport, PushoverKind, PushoverSender
from pushoverd.handlers.pushover.breaker import Breaker
from pushoverd.models import (
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    HandlerSpec,
    Level,
    NewDelivery,
)
from pushoverd.pushover import PushoverClient
from pushoverd.store.base import Collecting, Plan
from pushoverd.store.sqlite import SQLiteStore
from pushoverd.timefmt import format_unix

BAD_USER = "user identifier is not a valid user, group, or subscribed user key"
TOPIC = "cpu"
CLIENT_TIMEOUT = 0.5
QUIET = 0.15  # how long to watch for a request that must not happen
T = TypeVar("T")

PENDING, FAILED, SENDING = DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.SENDING
SENT, DEAD = DeliveryStatus.SENT, DeliveryStatus.DEAD
KIND = PushoverKind(True)


class HookedStore(SQLiteStore):
    """The real store, with a hook after a claim or a failure is recorded (then cleared)."""

    after_claim: Callable[[], Awaitable[None]] | None = None
    after_mark_failed: Callable[[], Awaitable[None]] | None = None

    async def claim(self, now: float, limit: int, lease_seconds: float,
                    kinds: Sequence[str]) -> list[Delivery]:
        batch = await super().claim(now, limit, lease_seconds, kinds)
        if hook := self.after_claim:
            self.after_claim = None
            await hook()
        return batch

    async def mark_failed(self, delivery_id: int, error: str, next_attempt_at: float,
                          now: float) -> None:
        await super().mark_failed(delivery_id, error, next_attempt_at, now)
        if hook := self.after_mark_failed:
            self.after_mark_failed = None
            await hook()


class Clock:
    """The worker's clock; starts a little ahead of the store's (real) enqueue times."""

    def __init__(self) -> None:
        self.now = time.time() + 1.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """The parts under test, wired as app.py wires them, plus helpers to drive them."""

    fake: FakePushover
    store: HookedStore
    clock: Clock
    client: PushoverClient | None = None
    sender: PushoverSender | None = None
    worker: DeliveryWorker | None = None
    _clients: list[PushoverClient] = field(default_factory=list)
    _workers: list[DeliveryWorker] = field(default_factory=list)

    def start(self, *, random: Callable[[], float] = lambda: 0.5, max_age: float = 3600.0,
              threshold: int = 10, probe: float = 300.0, concurrency: int = 2,
              connections: int = 2, lease: float = 30.0, batch: int = 64,
              poll: float = 0.02, validate_probe: bool = False,
              others: Mapping[str, Sender] | None = None) -> DeliveryWorker:
        """Build and start a worker (jitter off by default: delays are exact).

        ``validate_probe=False`` gives a transport that cannot validate (as behind a proxy
        URL), so the breaker's probe is the next send itself."""
        self.client = PushoverClient(self.fake.url, TOKEN, USER, timeout=CLIENT_TIMEOUT,
                                     max_connections=connections)
        self._clients.append(self.client)
        transport = LocalTransport(self.client)
        transport.can_validate = validate_probe
        policy = RetryPolicy(initial=5.0, maximum=300.0, max_age=max_age, random=random)
        breaker = Breaker(threshold=threshold, window=300.0, probe_interval=probe)
        self.sender = PushoverSender(transport, breaker, clock=self.clock)
        settings = WorkerSettings(concurrency=concurrency, poll_interval=poll,
                                  lease_timeout=lease, batch_size=batch)
        senders: dict[str, Sender] = {"pushover": self.sender, **(others or {})}
        self.worker = DeliveryWorker(self.store, senders, policy, settings, clock=self.clock)
        self._workers.append(self.worker)
        self.worker.start()
        return self.worker

    async def close(self) -> None:
        for worker in self._workers:
            await worker.stop(1.0)
        for client in self._clients:
            await client.aclose()

    async def enqueue(self, handler: str, *messages: str, **options: Any) -> None:
        """Collect one event per message; a pushover handler renders each, as topics do."""
        compiled = KIND.compile(HandlerSpec(TOPIC, handler, "pushover", options or None))

        def plan(ctx: Collecting) -> Plan:
            return Plan([NewDelivery(topic=ctx.topic, handler_id=handler, kind="pushover",
                                     event_id=ctx.event.id, level=ctx.event.level,
                                     payload=compiled.render(ctx.topic, ctx.event))])

        await self._collect(handler, messages, plan)

    async def enqueue_alerts(self, handler: str, *messages: str) -> None:
        """Like ``enqueue``, but each message is an alert of its own (``<handler>:<message>``):
        they may be sent side by side."""
        def plan(ctx: Collecting) -> Plan:
            payload = KIND.compile(HandlerSpec(TOPIC, handler, "pushover")).render(
                ctx.topic, ctx.event)
            return Plan([NewDelivery(topic=ctx.topic, handler_id=handler, kind="pushover",
                                     event_id=ctx.event.id, level=ctx.event.level,
                                     payload=payload)])

        events = [Event(id=f"{handler}:{m}", level=Level.CRITICAL, message=m) for m in messages]
        await self.store.collect(TOPIC, events, plan)
        if self.worker is not None:
            self.worker.notify()

    async def enqueue_post(self, handler: str, *messages: str) -> None:
        """Collect one event per message for a handler of the second (``post``) kind."""
        def plan(ctx: Collecting) -> Plan:
            return Plan([NewDelivery(topic=ctx.topic, handler_id=handler, kind="post",
                                     event_id=ctx.event.id, level=ctx.event.level,
                                     payload={"message": ctx.event.message})])

        await self._collect(handler, messages, plan)

    async def _collect(self, handler: str, messages: Sequence[str],
                       plan: Callable[[Collecting], Plan]) -> None:
        # One alert per handler (``<handler>:alert``), changing as each message says: order
        # is kept per alert, so these tests see one strict sequence per handler. Tests of
        # several alerts on one handler pass ``alert=`` to ``enqueue_alerts``.
        events = [Event(id=f"{handler}:alert", level=Level.CRITICAL, message=m,
                        time_ns=1_750_000_000 * 10**9) for m in messages]
        await self.store.collect(TOPIC, events, plan)
        if self.worker is not None:
            self.worker.notify()

    async def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        assert self.worker is not None
        self.worker.notify()
        await asyncio.sleep(0)

    def status(self) -> dict[str, Any]:
        """The worker's status of the pushover kind, as the status endpoint shows it."""
        assert self.worker is not None
        return self.worker.status()["pushover"]

    def paused_for(self) -> float | None:
        """How long Pushover is still paused (None: it may send now)."""
        assert self.worker is not None
        return self.worker.pauses.wait_seconds(["pushover"], self.clock())

    async def deliveries(self) -> dict[str, Delivery]:
        """Every delivery, by its message text."""
        found = await self.store.deliveries(DeliveryFilter(limit=10_000))
        return {d.payload["message"]: d for d in found}

    async def get(self, message: str) -> Delivery:
        return (await self.deliveries())[message]

    async def until(self, message: str, *statuses: DeliveryStatus,
                    timeout: float = 3.0) -> Delivery:
        """Wait for a delivery to reach one of ``statuses``."""
        async def check() -> Delivery | None:
            d = (await self.deliveries()).get(message)
            return d if d is not None and d.status in statuses else None
        return await eventually(check, timeout)

    async def all_sent(self, timeout: float = 3.0) -> dict[str, Delivery]:
        async def check() -> dict[str, Delivery] | None:
            found = await self.deliveries()
            return found if all(d.status is SENT for d in found.values()) else None
        return await eventually(check, timeout)

    async def drain(self, timeout: float = 5.0, *,
                    done: tuple[DeliveryStatus, ...] = (SENT,)) -> dict[str, Delivery]:
        """Let time pass as the worker asks (each pause or retry, exactly) until every
        delivery is in one of ``done`` (by default: all sent)."""
        assert self.worker is not None
        deadline = time.monotonic() + timeout
        while True:
            found, now = await self.deliveries(), self.clock()
            if all(d.status in done for d in found.values()):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"not drained: {Counter(d.status for d in found.values())}")
            pause = self.worker.pauses.wait_seconds(self.worker.kinds, now)
            if wait := pause or _idle_until(found, now):
                await self.advance(wait)
            await asyncio.sleep(0.01)

    def sent(self, message: str) -> list[Received]:
        """Requests the fake received for ``message``."""
        return [r for r in self.fake.requests if r.form.get("message") == message]

    def messages(self) -> list[str]:
        """The message of every request the fake received (probes and queries have none)."""
        return [r.form["message"] for r in self.fake.requests if "message" in r.form]

    async def requests(self, message: str, count: int) -> list[Received]:
        """Wait until the fake has received ``count`` requests for ``message``."""
        async def check() -> list[Received] | None:
            return received if len(received := self.sent(message)) >= count else None
        return await eventually(check)


def _idle_until(found: dict[str, Delivery], now: float) -> float | None:
    """Seconds until the next retry when nothing is in flight or claimable (time just passes).

    Claimable as the store decides: due, and no earlier delivery of its handler waits for a
    later retry. (With an outage now pausing Pushover for 5 s only, a failed delivery's retry
    is usually later than the pause, so the pause alone no longer says how long to wait.)"""
    waiting = sorted((d for d in found.values() if d.status in (PENDING, FAILED, SENDING)),
                     key=lambda d: d.id)
    if any(d.status is SENDING for d in waiting):
        return None
    held: set[tuple[str, str]] = set()
    for d in waiting:
        lane = (d.topic, d.handler_id)
        if d.next_attempt_at <= now and lane not in held:
            return None  # the worker has something to do now
        if d.next_attempt_at > now:
            held.add(lane)
    later = [d.next_attempt_at for d in waiting if d.next_attempt_at > now]
    return min(later) - now if later else None



@pytest.fixture
async def rig(fake: FakePushover, tmp_path: Path) -> AsyncIterator[Rig]:
    store = HookedStore(tmp_path / "pushoverd.db")
    await store.open()
    r = Rig(fake, store, Clock())
    try:
        yield r
    finally:
        await r.close()
        await store.close()


async def quiet() -> None:
    """Give the worker time to do something it must not do."""
    await asyncio.sleep(QUIET)


# --- success ---------------------------------------------------------------------------------

async def test_success_records_pushovers_request_id_and_info(rig: Rig) -> None:
    request_id = str(uuid.uuid4())
    rig.fake.fail_next(1, 200, body={"status": 1, "request": request_id,
                                     "info": "no active devices to send to"})
    worker = rig.start()
    await rig.enqueue("ops", "disk full", "disk fuller")
    found = await rig.all_sent()
    first, second = found["disk full"], found["disk fuller"]
    assert (first.request_id, first.info, first.attempts) == (
        request_id, "no active devices to send to", 1)
    assert first.sent_at == rig.clock() and first.last_error is None
    assert second.info is None and uuid.UUID(second.request_id or "")
    form = rig.sent("disk full")[0].form
    assert form == {"token": TOKEN, "user": USER, "message": "disk full", "priority": "1",
                    "timestamp": "1750000000"}
    snap = worker.status()["pushover"]
    assert snap["sending"] is True and snap["rate_limit"]["remaining"] == 9998
    assert snap["last_success"] == format_unix(rig.clock())


# --- transient failures ----------------------------------------------------------------------

@pytest.mark.parametrize("failures", [1, 3])
async def test_5xx_is_retried_with_backoff_and_the_same_form(rig: Rig, failures: int) -> None:
    rig.fake.fail_next(failures, 503)
    rig.start()
    await rig.enqueue("ops", "disk full")
    for attempt, delay in zip(range(1, failures + 1), (5.0, 10.0, 20.0), strict=False):
        d = await rig.until("disk full", FAILED)
        assert d.attempts == attempt
        assert d.next_attempt_at == rig.clock() + delay
        # Changed with the kind-neutral worker: an outage pauses Pushover for Pushover's 5 s
        # minimum only (the old design paused everything until this delivery's retry); the
        # failed delivery backs off on its own, and the handler's later ones wait behind it.
        assert rig.paused_for() == 5.0
        assert d.last_error == "failed to understand Pushover response. code: 503 content: " \
                               "fake failure 503"
        await rig.advance(delay - 0.5)  # not yet: nothing is sent early
        await quiet()
        assert len(rig.sent("disk full")) == attempt
        await rig.advance(0.5)
        await rig.requests("disk full", attempt + 1)
    d = await rig.until("disk full", SENT)
    assert d.attempts == failures + 1 and d.request_id
    bodies = [r.raw_body for r in rig.sent("disk full")]
    assert len(bodies) == failures + 1 and len(set(bodies)) == 1
    assert [r.status for r in rig.sent("disk full")] == [503] * failures + [200]


async def test_an_outage_pauses_pushover_5_seconds_while_the_failed_delivery_backs_off(
        rig: Rig) -> None:
    # New with the kind-neutral worker: the pause is Pushover's 5 s minimum, so another
    # handler's alert is not held for the whole of one delivery's (growing) backoff.
    rig.fake.fail_next(2, 503)
    rig.start()
    await rig.enqueue("ops", "m0")
    await rig.until("m0", FAILED)
    await rig.advance(5.0)
    await rig.requests("m0", 2)
    m0 = await rig.until("m0", FAILED)
    assert m0.attempts == 2 and m0.next_attempt_at == rig.clock() + 10.0
    await rig.enqueue("web", "w1")
    await quiet()
    assert (await rig.get("w1")).status is PENDING  # within the 5 s pause
    await rig.advance(5.0)
    assert (await rig.until("w1", SENT)).attempts == 1
    assert (await rig.get("m0")).status is FAILED  # still backing off
    await rig.advance(5.0)
    assert (await rig.until("m0", SENT)).attempts == 3
    assert [r.form["message"] for r in rig.fake.accepted] == ["w1", "m0"]


async def test_a_hang_past_the_client_timeout_is_retried(rig: Rig) -> None:
    rig.fake.hang_next(1, 1.0)
    rig.start()
    await rig.enqueue("ops", "disk full")
    d = await rig.until("disk full", FAILED)
    assert d.last_error is not None and "timeout" in d.last_error
    await rig.advance(5.0)
    d = await rig.until("disk full", SENT)
    assert d.attempts == 2
    # The hung request is still handled after the hang, as a real server would (at-least-once).
    first, second = await rig.requests("disk full", 2)
    assert first.raw_body == second.raw_body


async def test_a_dropped_connection_is_retried(rig: Rig) -> None:
    rig.fake.drop_next(1)
    rig.start()
    await rig.enqueue("ops", "disk full")
    d = await rig.until("disk full", FAILED)
    assert d.last_error is not None and "connection closed" in d.last_error
    await rig.advance(5.0)
    d = await rig.until("disk full", SENT)
    assert d.attempts == 2 and [r.status for r in rig.sent("disk full")] == [0, 200]


async def test_past_max_age_a_delivery_is_dead_with_the_last_error(rig: Rig) -> None:
    rig.fake.fail_next(10, 500)
    rig.start(max_age=30.0)  # created ~1 s before the clock: retries at +5 and +10 fit
    await rig.enqueue("ops", "disk full")
    for attempt, delay in ((1, 5.0), (2, 10.0)):
        await rig.until("disk full", FAILED)
        await rig.advance(delay)
        await rig.requests("disk full", attempt + 1)
    d = await rig.until("disk full", DEAD)
    assert d.attempts == 3 and len(rig.sent("disk full")) == 3
    assert d.last_error == ("failed to understand Pushover response. code: 500 content: "
                            "fake failure 500 (gave up after 3 attempts)")
    await rig.advance(3600.0)
    await quiet()
    assert len(rig.sent("disk full")) == 3


# --- rejections and the breaker --------------------------------------------------------------

async def test_a_4xx_is_dead_at_once_with_pushovers_errors(rig: Rig) -> None:
    rig.start()
    await rig.enqueue("stranger", "disk full", **{"user-key": STRANGER})
    await rig.enqueue("ops", "disk ok")
    d = await rig.until("disk full", DEAD)
    assert d.attempts == 1 and d.next_attempt_at <= rig.clock()
    assert d.last_error == f"failed to understand Pushover response. code: 400 content: {BAD_USER}"
    assert (await rig.until("disk ok", SENT)).attempts == 1
    await rig.advance(3600.0)
    await quiet()
    assert [r.status for r in rig.sent("disk full")] == [400]
    assert rig.worker is not None and rig.worker.pauses.may_send("pushover", rig.clock())


async def test_a_handlers_refused_user_key_is_not_tried_again_for_a_while(rig: Rig) -> None:
    worker = rig.start(threshold=3)
    await rig.enqueue("stranger", "s1", **{"user-key": STRANGER})
    await rig.until("s1", DEAD)
    await rig.enqueue("stranger", "s2", "s3", "s4", **{"user-key": STRANGER})
    await rig.enqueue("ops", "o1")

    for m in ("s2", "s3", "s4"):
        held = await rig.until(m, DEAD)
        assert held.last_error is not None and held.last_error.startswith(
            "not sent: Pushover refused this handler's user key")
        assert STRANGER not in held.last_error
    await rig.until("o1", SENT)
    assert [r.form["message"] for r in rig.fake.requests] == ["s1", "o1"]
    assert rig.sender is not None and not rig.sender.breaker.open  # one 4xx, not four
    assert worker.status()["pushover"]["refused_user_keys"] == 1

    await rig.advance(601.0)
    await rig.enqueue("stranger", "s5", **{"user-key": STRANGER})
    await rig.until("s5", DEAD)
    assert [r.form["message"] for r in rig.fake.requests][-1] == "s5"  # tried again


async def test_a_burst_of_4xx_opens_the_breaker_and_a_probe_closes_it(rig: Rig) -> None:
    revoked = {"status": 0, "request": "r", "token": "invalid",
               "errors": ["application token is invalid"]}
    rig.fake.fail_next(3, 401, body=revoked)
    worker = rig.start(threshold=3, probe=60.0)
    assert rig.sender is not None
    await rig.enqueue("ops", "a1", "a2", "a3")
    for m in ("a1", "a2", "a3"):
        await rig.until(m, DEAD)
    snap = rig.status()
    assert snap["sending"] is False and snap["breaker"]["open"] is True
    assert snap["breaker"]["reason"].startswith("3 requests rejected by Pushover")
    assert snap["paused_until"] == snap["breaker"]["next_probe"]
    # Later deliveries stay queued and nothing reaches Pushover.
    await rig.enqueue("ops", "b1", "b2")
    await rig.enqueue("web", "c1")
    await rig.advance(59.0)
    await quiet()
    assert len(rig.fake.requests) == 3
    assert {(await rig.get(m)).status for m in ("b1", "b2", "c1")} == {PENDING}
    # The first probe is rejected too: one request, then quiet for another interval.
    rig.fake.fail_next(1, 401, body=revoked)
    await rig.advance(1.0)
    await rig.until("b1", DEAD)
    await rig.advance(59.0)
    await quiet()
    assert len(rig.fake.requests) == 4 and rig.sender.breaker.open
    # The second probe succeeds: the breaker closes and the queue drains in order.
    await rig.advance(1.0)
    await rig.until("b2", SENT)
    assert not rig.sender.breaker.open
    # c1 waited for the probes' outcome: it is sent once sending resumes.
    found = await rig.drain(done=(SENT, DEAD))
    assert found["c1"].status is SENT
    assert found["b2"].attempts == 1
    assert [r.form["message"] for r in rig.fake.requests][3:] in (
        ["b1", "b2", "c1"], ["b1", "c1", "b2"])
    assert worker.status()["pushover"]["sending"] is True


async def test_a_delivery_beside_a_successful_probe_is_sent_at_once_and_not_counted(
        rig: Rig) -> None:
    # The old worker let nothing start beside the probe and released the rest unattempted.
    rig.fake.fail_next(2, 401, body={"status": 0, "request": "r", "token": "invalid",
                                     "errors": ["application token is invalid"]})
    rig.start(threshold=2, probe=60.0)
    await rig.enqueue("ops", "a1", "a2")
    await rig.until("a2", DEAD)
    await rig.enqueue("ops", "b1")
    await rig.enqueue("web", "c1")
    await rig.advance(60.0)
    found = await _wait_statuses(rig, {"b1": SENT, "c1": SENT})
    assert (found["b1"].attempts, found["c1"].attempts) == (1, 1)


async def test_the_breaker_probes_the_credentials_without_spending_an_alert(rig: Rig) -> None:
    rig.fake.token = "x" * 30  # Pushover now refuses our token, as if it had been revoked
    rig.start(threshold=2, probe=60.0, validate_probe=True)
    assert rig.sender is not None
    await rig.enqueue("ops", "a1", "a2")
    for m in ("a1", "a2"):
        await rig.until(m, DEAD)
    await rig.enqueue("ops", "b1")

    await rig.advance(60.0)
    await eventually(lambda: len(rig.fake.validations) == 1)
    await quiet()
    # The delivery that found the probe due was held back unsent: back in the queue,
    # uncounted, until the next probe; no message was spent on it.
    b1 = await rig.get("b1")
    assert rig.sender.breaker.open and (b1.status, b1.attempts) == (PENDING, 0)
    assert rig.sent("b1") == [] and b1.last_error is None
    assert rig.status()["paused_until"] == rig.status()["breaker"]["next_probe"]

    rig.fake.token = TOKEN  # the operator fixed it on Pushover's side
    await rig.advance(60.0)
    await rig.until("b1", SENT)
    assert not rig.sender.breaker.open
    assert len(rig.fake.validations) == 2
    assert rig.messages() == ["a1", "a2", "b1"]


def _same_payload(d: Delivery) -> dict[str, Any]:
    return d.payload


async def _wait_statuses(rig: Rig, want: dict[str, DeliveryStatus]) -> dict[str, Delivery]:
    async def check() -> dict[str, Delivery] | None:
        found = await rig.deliveries()
        return found if all(found[m].status is s for m, s in want.items()) else None
    return await eventually(check)


# --- rate limits -----------------------------------------------------------------------------

async def test_429_pauses_all_sending_until_the_reset_then_drains(rig: Rig) -> None:
    reset = int(rig.clock()) + 86_400
    rig.fake.rate_limit(remaining=0, reset=reset)
    rig.start()
    await rig.enqueue("ops", "m1", "m2")
    await rig.enqueue("web", "w1")
    d = await rig.until("m1", FAILED)
    assert d.next_attempt_at == reset
    # The sender says why it waits, and until when (the old text stopped at Pushover's).
    assert d.last_error == ("failed to understand Pushover response. code: 429 content: "
                            "application has exceeded its monthly message limit "
                            f"(rate limited until {format_unix(reset)})")
    snap = rig.status()
    assert snap["sending"] is False and snap["pause_reason"] == d.last_error
    assert snap["paused_until"] == format_unix(reset)
    assert snap["rate_limit"] == {"limit": 10000, "remaining": 0,
                                  "reset": snap["paused_until"]}
    assert rig.fake.limit_queries == []  # the 429 carried a usable reset: nothing to ask
    # No tight loop and nothing lost: w1 may have been in flight on the other connection when
    # the 429 came (two requests at most); nothing more is asked until the reset, and m2 stays
    # in the queue unattempted behind m1.
    await rig.advance(86_400 - 2.0)
    await quiet()
    requested = [r.form["message"] for r in rig.fake.requests]
    assert requested in (["m1"], ["m1", "w1"], ["w1", "m1"])
    assert (await rig.get("m2")).attempts == 0
    rig.fake.rate_limit(remaining=100, reset=reset + 30 * 86_400)
    await rig.advance(2.0)
    found = await rig.all_sent()
    assert found["m1"].attempts == 2 and found["m2"].attempts == 1
    assert [r.form["message"] for r in rig.fake.accepted if r.form["message"][0] == "m"] == [
        "m1", "m2"]


async def test_no_quota_left_after_a_success_pauses_until_the_reset(rig: Rig) -> None:
    reset = int(rig.clock()) + 3600
    rig.fake.rate_limit(remaining=1, reset=reset)
    rig.start()
    await rig.enqueue("ops", "m1", "m2", "m3")
    await rig.until("m1", SENT)
    await rig.advance(3000.0)
    await quiet()
    assert len(rig.fake.requests) == 1  # no 429 provoked: the success said nothing is left
    snap = rig.status()
    assert snap["pause_reason"].startswith("not sent: Pushover message quota exhausted until")
    assert snap["paused_until"] == format_unix(reset)
    assert snap["rate_limit"]["remaining"] == 0
    rig.fake.rate_limit(remaining=50, reset=reset + 30 * 86_400)
    await rig.advance(600.0)
    found = await rig.all_sent()
    # m2, held back unsent until the reset, went back to the queue uncounted.
    assert [found[m].attempts for m in ("m1", "m2", "m3")] == [1, 1, 1]
    assert [r.form["message"] for r in rig.fake.requests] == ["m1", "m2", "m3"]


@pytest.mark.parametrize("header", ["0", "", "soon", "past", "next year"])
async def test_a_429_whose_reset_is_not_in_the_future_is_retried_on_the_ordinary_backoff(
        rig: Rig, header: str) -> None:
    # The defect: a 429 with a missing or stale X-Limit-App-Reset paused all sending for an
    # hour and rescheduled the delivery an hour out. Now the sender asks apps/limits.json;
    # when it says quota remains, the 429 was not about the quota: ordinary backoff.
    value = {"past": str(int(rig.clock()) - 60),
             "next year": str(int(rig.clock()) + 365 * 86_400)}.get(header, header)
    rig.fake.fail_next(1, 429, headers={"X-Limit-App-Reset": value})
    rig.start()
    await rig.enqueue("ops", "m1")
    d = await rig.until("m1", FAILED)
    assert d.next_attempt_at == rig.clock() + 5.0  # the first backoff step, not an hour
    assert d.last_error is not None and "no usable reset time" in d.last_error
    assert len(rig.fake.limit_queries) == 1
    paused = rig.paused_for()
    assert paused is not None and paused <= 5.0  # Pushover's minimum pause, no more
    assert rig.status()["rate_limit"]["remaining"] == 10000  # from limits.json
    await rig.advance(5.0)
    d = await rig.until("m1", SENT)
    assert d.attempts == 2 and len(rig.fake.limit_queries) == 1
    assert [r.status for r in rig.sent("m1")] == [429, 200]


async def test_a_429_with_a_stale_reset_waits_for_the_reset_limits_json_reports(
        rig: Rig) -> None:
    reset = int(rig.clock()) + 7200
    rig.fake.rate_limit(remaining=0, reset=reset)  # what apps/limits.json will report
    rig.fake.fail_next(1, 429, headers={"X-Limit-App-Reset": str(int(rig.clock()) - 60)})
    rig.start()
    await rig.enqueue("ops", "m1")
    d = await rig.until("m1", FAILED)
    assert d.next_attempt_at == reset
    assert len(rig.fake.limit_queries) == 1
    snap = rig.status()
    assert snap["sending"] is False and snap["paused_until"] == format_unix(reset)
    assert snap["rate_limit"] == {"limit": 10000, "remaining": 0, "reset": format_unix(reset)}
    await rig.enqueue("web", "w1")
    await rig.advance(7200 - 2.0)
    await quiet()
    assert rig.messages() == ["m1"] and (await rig.get("w1")).attempts == 0
    rig.fake.rate_limit(remaining=100, reset=reset + 30 * 86_400)
    await rig.advance(2.0)
    found = await rig.all_sent()
    assert found["m1"].attempts == 2 and found["w1"].attempts == 1
    assert len(rig.fake.limit_queries) == 1


async def test_resume_probes_an_open_breaker_at_once_then_sends(rig: Rig) -> None:
    rig.fake.token = "x" * 30  # revoked
    worker = rig.start(threshold=2, probe=300.0, validate_probe=True)
    assert rig.sender is not None
    await rig.enqueue("ops", "a1", "a2")
    await rig.until("a2", DEAD)
    assert rig.sender.breaker.open
    await rig.enqueue("ops", "b1")
    await quiet()
    assert (await rig.get("b1")).status is PENDING and rig.fake.validations == []

    rig.fake.token = TOKEN  # fixed; the operator does not want to wait 5 minutes
    assert worker.resume("pushover") == ["pushover"]
    d = await rig.until("b1", SENT)  # the clock never moved
    assert len(rig.fake.validations) == 1 and d.attempts == 1
    assert not rig.sender.breaker.open and rig.status()["sending"] is True
    assert rig.messages() == ["a1", "a2", "b1"]


async def test_resume_lifts_a_quota_pause(rig: Rig) -> None:
    reset = int(rig.clock()) + 86_400
    rig.fake.rate_limit(remaining=1, reset=reset)
    worker = rig.start()
    await rig.enqueue("ops", "m1")
    await rig.until("m1", SENT)
    await rig.enqueue("ops", "m2")
    await eventually(lambda: rig.status()["sending"] is False)
    held = await rig.get("m2")
    assert (held.status, held.attempts) == (PENDING, 0) and rig.sent("m2") == []
    assert rig.status()["paused_until"] == format_unix(reset)
    await rig.enqueue("web", "w1")
    await quiet()
    assert (await rig.get("w1")).status is PENDING

    rig.fake.rate_limit(remaining=50, reset=reset)  # the operator raised the quota
    worker.resume("pushover")
    found = await rig.all_sent()
    assert (found["m2"].attempts, found["w1"].attempts) == (1, 1)
    assert rig.status()["sending"] is True and rig.status()["rate_limit"]["remaining"] == 48
    assert sorted(rig.messages()) == ["m1", "m2", "w1"]


async def test_another_kind_keeps_sending_while_pushover_is_paused(rig: Rig) -> None:
    post = ScriptedSender("post")
    reset = int(rig.clock()) + 86_400
    rig.fake.rate_limit(remaining=0, reset=reset)
    worker = rig.start(others={"post": post})
    await rig.enqueue("ops", "m1")
    await rig.until("m1", FAILED)
    await rig.enqueue("ops", "m2")
    await rig.enqueue_post("hook", "p1", "p2")
    found = await _wait_statuses(rig, {"p1": SENT, "p2": SENT})
    assert [p["message"] for p in post.accepted] == ["p1", "p2"]
    assert found["p1"].request_id == "post-1"
    assert (found["m2"].status, found["m2"].attempts) == (PENDING, 0)  # not even claimed
    status = worker.status()
    assert status["pushover"]["sending"] is False
    assert status["post"] == {"sending": True, "paused_until": None, "pause_reason": None,
                              "sent": 2}
    assert len(rig.fake.requests) == 1

    # And the other way round: the post kind's own pause does not stop Pushover.
    post.script.append(DeliveryFailed("hook down", retry=True,
                                        pause_until=rig.clock() + 600.0))
    rig.fake.rate_limit(remaining=100, reset=reset + 30 * 86_400)
    worker.resume("pushover")
    await rig.enqueue_post("hook", "p3")
    await rig.until("p3", FAILED)
    await rig.enqueue("web", "w1")
    await _wait_statuses(rig, {"w1": SENT, "m1": FAILED})
    assert worker.status()["post"]["sending"] is False
    assert worker.status()["pushover"]["sending"] is True


# --- order and concurrency -------------------------------------------------------------------

async def test_one_handlers_order_survives_an_outage(rig: Rig) -> None:
    rig.fake.fail_next(3, 502)
    rig.start()
    messages = [f"m{i}" for i in range(6)]
    await rig.enqueue("ops", *messages)
    found = await rig.drain()
    assert found["m0"].attempts == 4
    assert [r.form["message"] for r in rig.fake.requests] == ["m0"] * 4 + messages[1:]


async def test_every_handlers_order_survives_an_outage_with_jitter(rig: Rig) -> None:
    # Two handlers fail together with different backoffs, then one succeeds while the other
    # fails again: neither may let a later alert of the failing handler overtake it.
    rig.fake.fail_next(3, 503)
    rig.start(random=itertools.cycle([0.95, 0.05]).__next__)
    for i in range(4):
        for handler in ("a", "b", "c"):
            await rig.enqueue(handler, f"{handler}{i}")
    await rig.drain()
    for handler in ("a", "b", "c"):
        sent = [r.form["message"] for r in rig.fake.accepted if r.form["message"][0] == handler]
        assert sent == [f"{handler}{i}" for i in range(4)]


async def test_a_handler_waits_for_its_failed_delivery_even_if_the_pause_is_over(
        rig: Rig) -> None:
    # The store is slow to record the failure: by then the 5 s pause has passed.
    async def slow_write() -> None:
        rig.clock.now += 6.0

    rig.store.after_mark_failed = slow_write
    rig.fake.fail_next(1, 502)
    rig.start()
    await rig.enqueue("ops", "m0", "m1", "m2")
    await rig.all_sent()
    assert [r.form["message"] for r in rig.fake.requests] == ["m0", "m0", "m1", "m2"]


@pytest.mark.parametrize(("connections", "concurrency"), [(2, 2), (8, 2), (2, 8)])
async def test_never_more_than_two_requests_at_once(rig: Rig, connections: int,
                                                    concurrency: int) -> None:
    handlers = [f"h{i}" for i in range(8)]
    for h in handlers:
        await rig.enqueue(h, f"{h}-1", f"{h}-2", f"{h}-3")
    rig.fake.hang_next(24, 0.03)  # long enough for requests to overlap
    rig.start(connections=connections, concurrency=concurrency)
    await rig.all_sent()
    assert rig.fake.max_concurrent == 2
    assert rig.fake.connection_count <= 2
    for h in handlers:
        assert [r.form["message"] for r in rig.fake.accepted if r.form["message"][:3] == f"{h}-"
                ] == [f"{h}-1", f"{h}-2", f"{h}-3"]


async def test_one_handlers_distinct_alerts_keep_both_connections_busy(rig: Rig) -> None:
    messages = [f"host{i} is down" for i in range(24)]
    await rig.enqueue_alerts("ops", *messages)
    rig.fake.hang_next(24, 0.03)  # a round trip long enough for requests to overlap
    rig.start()
    await rig.all_sent()
    assert rig.fake.max_concurrent == 2  # one handler, yet both connections in use
    assert rig.fake.connection_count <= 2
    assert sorted(r.form["message"] for r in rig.fake.accepted) == sorted(messages)


# --- waking up -------------------------------------------------------------------------------

async def test_a_notify_during_an_empty_claim_is_not_lost(rig: Rig) -> None:
    # An alert enqueued while the worker's claim finds nothing must go out now, not at the
    # next poll (10 s here).
    async def enqueue_meanwhile() -> None:
        await rig.enqueue("ops", "disk full")

    rig.store.after_claim = enqueue_meanwhile
    rig.start(poll=10.0)
    await rig.until("disk full", SENT, timeout=1.0)


# --- leases and shutdown ---------------------------------------------------------------------

async def test_stop_finishes_the_send_in_flight_and_releases_the_rest(rig: Rig) -> None:
    rig.fake.hang_next(1, 0.3)
    worker = rig.start()
    await rig.enqueue("ops", "m1", "m2", "m3")
    await rig.enqueue("web", "w1", "w2")
    await rig.until("m1", SENDING)
    await asyncio.sleep(0.05)  # m1 hangs in flight; web's alerts use the other slot meanwhile
    await worker.stop(2.0)
    found = await rig.deliveries()
    assert found["m1"].status is SENT and found["m1"].attempts == 1
    for m in ("m2", "m3"):  # behind m1 in its alert: claimed, never attempted, given back
        assert (found[m].status, found[m].attempts) == (PENDING, 0)
    assert {found["w1"].status, found["w2"].status} <= {SENT, PENDING}
    sent = {r.form["message"] for r in rig.fake.requests}
    assert all(found[m].status is SENT for m in sent)
    # Another worker picks the released deliveries up at once: no lease to wait out.
    rig.start()
    await rig.all_sent()
    assert Counter(r.form["message"] for r in rig.fake.requests) == Counter(found.keys())


async def test_an_expired_lease_is_claimed_again_and_sent_once(rig: Rig) -> None:
    await rig.enqueue("ops", "m1")
    await rig.enqueue("web", "w1")
    orphaned = await rig.store.claim(rig.clock(), 1, 30.0, ["pushover"])  # a worker that then died
    assert [d.payload["message"] for d in orphaned] == ["m1"]
    rig.start(lease=30.0)
    await rig.until("w1", SENT)
    await quiet()
    assert rig.sent("m1") == [] and (await rig.get("m1")).status is SENDING
    await rig.advance(31.0)
    found = await rig.all_sent()
    assert found["m1"].attempts == 2  # the dead worker's claim counted as an attempt
    await rig.advance(600.0)
    await quiet()
    assert Counter(r.form["message"] for r in rig.fake.requests) == {"m1": 1, "w1": 1}


@pytest.mark.parametrize("earlier", ["waits for its retry", "is leased to a dead worker"])
async def test_order_holds_across_a_restart(rig: Rig, earlier: str) -> None:
    await rig.enqueue("ops", "m0", "m1")
    # The previous run of the daemon...
    [m0] = await rig.store.claim(rig.clock(), 1, 30.0, ["pushover"])
    if earlier == "waits for its retry":
        await rig.store.mark_failed(m0.id, "503", rig.clock() + 5.0, rig.clock())
    rig.start()  # ...and this one, with a fresh sender and fresh pauses
    await quiet()
    await rig.advance(31.0)
    await rig.all_sent()
    assert [r.form["message"] for r in rig.fake.requests] == ["m0", "m1"]


async def test_nothing_is_sent_twice_after_a_200(rig: Rig) -> None:
    rig.fake.drop_next(1)
    rig.fake.fail_next(2, 500)
    rig.start(random=itertools.cycle([0.1, 0.9, 0.5]).__next__, batch=4)
    messages = [f"{h}{i}" for i in range(5) for h in "xyz"]
    for m in messages:
        await rig.enqueue(m[0], m)
    rig.fake.fail_next(1, 503)
    found = await rig.drain()
    accepted = Counter(r.form["message"] for r in rig.fake.accepted)
    assert accepted == Counter(messages)
    assert all(d.request_id for d in found.values())
    await rig.advance(3600.0)
    await quiet()
    assert Counter(r.form["message"] for r in rig.fake.accepted) == accepted
