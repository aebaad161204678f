"""The delivery worker knows no integration: it sends through each kind's sender, applies the
verdict a sender's DeliveryFailed carries, and pauses one kind while the others go on.

Senders here are scripted in-process objects; the Pushover integration through this worker is
tested in tests/unit/handlers/pushover/test_delivery.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import pytest
from tests.conftest import eventually
from tests.fakes.senders import ScriptedSender

from pushoverd.delivery.base import Sent
from pushoverd.delivery.retry import RetryPolicy
from pushoverd.delivery.worker import DeliveryWorker, WorkerSettings
from pushoverd.errors import DeliveryFailed, StoreError
from pushoverd.models import Delivery, DeliveryFilter, DeliveryStatus, Event, Level, NewDelivery
from pushoverd.store.base import Collecting, Plan
from pushoverd.store.memory import MemoryStore

T = TypeVar("T")
Outcome = Sent | Exception


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A memory outbox, two kinds with scripted senders, and the worker over them."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = MemoryStore(clock=self.clock)
        self.senders = {"pushover": ScriptedSender("pushover"), "post": ScriptedSender("post")}
        policy = RetryPolicy(initial=5.0, maximum=300.0, max_age=3600.0, random=lambda: 0.5)
        self.worker = DeliveryWorker(self.store, self.senders, policy,
                                     WorkerSettings(poll_interval=0.01), clock=self.clock)

    async def enqueue(self, handler: str, *messages: str, kind: str = "pushover",
                      alert: str | None = None) -> None:
        """One event per message: its own alert id, or ``alert`` for all of them."""
        def plan(ctx: Collecting) -> Plan:
            return Plan([NewDelivery(topic="cpu", handler_id=handler, kind=kind,
                                     event_id=ctx.event.id, level=ctx.event.level,
                                     payload={"message": ctx.event.message})])

        events = [Event(id=alert or f"{handler}:{m}", level=Level.CRITICAL, message=m)
                  for m in messages]
        await self.store.collect("cpu", events, plan)
        self.worker.notify()

    async def delivery(self, message: str) -> Delivery:
        found = await self.store.deliveries(DeliveryFilter(limit=1000))
        return next(d for d in found if d.payload["message"] == message)

    async def until(self, message: str, status: DeliveryStatus) -> Delivery:
        async def check() -> Delivery | None:
            d = await self.delivery(message)
            return d if d.status is status else None
        return await eventually(check)

    async def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        self.worker.notify()
        await asyncio.sleep(0.02)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    r = Rig()
    await r.store.open()
    r.worker.start()
    yield r
    await r.worker.stop(1.0)


async def test_an_accepted_send_records_the_reference_and_notice(rig: Rig) -> None:
    rig.senders["pushover"].script.append(Sent("req-1", "no active devices"))
    await rig.enqueue("h", "one")
    sent = await rig.until("one", DeliveryStatus.SENT)
    assert (sent.request_id, sent.info, sent.attempts) == ("req-1", "no active devices", 1)


async def test_a_failure_not_to_retry_is_dead_with_its_text(rig: Rig) -> None:
    rig.senders["pushover"].script.append(DeliveryFailed("refused: bad key", retry=False))
    await rig.enqueue("h", "one")
    dead = await rig.until("one", DeliveryStatus.DEAD)
    assert dead.last_error == "refused: bad key"


async def test_a_retryable_failure_backs_off_then_is_sent(rig: Rig) -> None:
    rig.senders["pushover"].script.append(DeliveryFailed("HTTP 503", retry=True))
    await rig.enqueue("h", "one")
    failed = await rig.until("one", DeliveryStatus.FAILED)
    assert (failed.last_error, failed.next_attempt_at) == ("HTTP 503", rig.clock.now + 5.0)
    await rig.advance(4.0)
    assert (await rig.delivery("one")).status is DeliveryStatus.FAILED
    await rig.advance(1.0)
    assert (await rig.until("one", DeliveryStatus.SENT)).attempts == 2


async def test_a_retry_past_max_age_is_dead(rig: Rig) -> None:
    await rig.enqueue("h", "one")
    rig.senders["pushover"].script.append(DeliveryFailed("HTTP 503", retry=True))
    rig.clock.now += 3599.0  # the delivery is nearly an hour old when first attempted
    dead = await rig.until("one", DeliveryStatus.DEAD)
    assert dead.last_error == "HTTP 503 (gave up after 1 attempts)"


async def test_a_known_retry_time_is_kept_and_not_aged_out(rig: Rig) -> None:
    reset = rig.clock.now + 7 * 86400.0  # far beyond max-age
    rig.senders["pushover"].script.append(DeliveryFailed("quota spent", retry=True,
                                                         retry_at=reset))
    await rig.enqueue("h", "one")
    failed = await rig.until("one", DeliveryStatus.FAILED)
    assert failed.next_attempt_at == reset


async def test_a_pause_stops_its_kind_while_other_kinds_keep_sending(rig: Rig) -> None:
    pushover, post = rig.senders["pushover"], rig.senders["post"]
    pushover.script.append(DeliveryFailed("outage", retry=True, pause_until=rig.clock.now + 30))
    await rig.enqueue("a", "first")
    await rig.until("first", DeliveryStatus.FAILED)
    await rig.enqueue("b", "other handler, same kind")
    await rig.enqueue("w", "webhook", kind="post")

    await rig.until("webhook", DeliveryStatus.SENT)
    assert post.messages == ["webhook"]
    await rig.advance(10.0)  # first's backoff (5 s) is over, but Pushover is still paused
    assert pushover.messages == ["first"]
    assert rig.worker.status()["pushover"]["sending"] is False
    assert rig.worker.status()["post"] == {"sending": True, "paused_until": None,
                                           "pause_reason": None, "sent": 1}
    await rig.advance(20.0)
    await rig.until("other handler, same kind", DeliveryStatus.SENT)
    assert sorted(pushover.messages) == ["first", "first", "other handler, same kind"]


async def test_a_failed_delivery_holds_back_its_alerts_later_ones_only(rig: Rig) -> None:
    """Order is kept per alert: the recovery of cpu:host=a waits for its alert's retry, while
    the same handler's other alerts, and other handlers, go on."""
    rig.senders["pushover"].script.append(DeliveryFailed("HTTP 503", retry=True))
    await rig.enqueue("a", "a is CRITICAL", alert="cpu:host=a")
    await rig.until("a is CRITICAL", DeliveryStatus.FAILED)
    await rig.enqueue("a", "a is OK", alert="cpu:host=a")
    await rig.enqueue("a", "b is CRITICAL", alert="cpu:host=b")
    await rig.enqueue("other", "c is CRITICAL", alert="cpu:host=a")
    await rig.until("b is CRITICAL", DeliveryStatus.SENT)
    await rig.until("c is CRITICAL", DeliveryStatus.SENT)
    assert (await rig.delivery("a is OK")).status is DeliveryStatus.PENDING
    await rig.advance(5.0)
    await rig.until("a is OK", DeliveryStatus.SENT)
    messages = rig.senders["pushover"].messages
    assert messages.index("a is CRITICAL", 1) < messages.index("a is OK")


async def test_one_alerts_deliveries_are_never_in_flight_together(rig: Rig) -> None:
    in_flight: set[str] = set()
    overlaps: list[str] = []
    sender = rig.senders["pushover"]
    original = sender.send

    async def watched(payload: dict[str, Any]) -> Sent:
        alert = payload["message"].split()[0]
        if alert in in_flight:
            overlaps.append(alert)
        in_flight.add(alert)
        await asyncio.sleep(0.002)
        try:
            return await original(payload)
        finally:
            in_flight.discard(alert)

    sender.send = watched  # type: ignore[method-assign]
    for n in range(5):
        for alert in ("x", "y", "z"):
            await rig.enqueue("h", f"{alert} {n}", alert=alert)
    await eventually(lambda: len(sender.accepted) == 15)
    assert overlaps == []
    for alert in ("x", "y", "z"):
        assert [m for m in sender.messages if m.startswith(alert)] == [
            f"{alert} {n}" for n in range(5)]


async def test_a_payload_the_sender_cannot_read_is_dead(rig: Rig) -> None:
    rig.senders["pushover"].script.append(ValueError("a stored message needs a 'message'"))
    await rig.enqueue("h", "one")
    dead = await rig.until("one", DeliveryStatus.DEAD)
    assert dead.last_error == "invalid stored payload: a stored message needs a 'message'"


async def test_resume_lifts_a_pause_and_tells_the_sender(rig: Rig) -> None:
    rig.senders["pushover"].script.append(
        DeliveryFailed("rate limited", retry=True, pause_until=rig.clock.now + 3600))
    await rig.enqueue("h", "one")
    await rig.until("one", DeliveryStatus.FAILED)
    assert rig.worker.status()["pushover"]["pause_reason"] == "rate limited"

    assert rig.worker.resume("pushover") == ["pushover"]
    assert rig.worker.status()["pushover"]["sending"] is True
    assert rig.senders["pushover"].resumed == [rig.clock.now]
    assert rig.senders["post"].resumed == []
    assert rig.worker.resume() == ["post", "pushover"]


async def test_stop_lets_the_send_in_flight_finish_and_returns_the_rest(rig: Rig) -> None:
    started, gate = asyncio.Event(), asyncio.Event()
    sender = rig.senders["pushover"]
    original = sender.send

    async def slow(payload: dict[str, Any]) -> Sent:
        started.set()
        await gate.wait()
        return await original(payload)

    sender.send = slow  # type: ignore[method-assign]
    await rig.enqueue("h", "one", "two", alert="cpu:host=a")  # two waits behind one
    await asyncio.wait_for(started.wait(), 3)
    stopping = asyncio.ensure_future(rig.worker.stop(5.0))
    await asyncio.sleep(0.02)
    gate.set()
    await stopping
    one, two = await rig.delivery("one"), await rig.delivery("two")
    assert one.status is DeliveryStatus.SENT
    assert (two.status, two.attempts) == (DeliveryStatus.PENDING, 0)


async def test_a_delivery_held_back_unsent_waits_for_the_pause_uncounted(rig: Rig) -> None:
    until = rig.clock.now + 60
    rig.senders["pushover"].script.append(
        DeliveryFailed("not sent: paused", retry=True, attempted=False, pause_until=until))
    await rig.enqueue("h", "one")
    await eventually(lambda: rig.worker.status()["pushover"]["sending"] is False)
    held = await rig.delivery("one")
    assert (held.status, held.attempts, held.last_error) == (DeliveryStatus.PENDING, 0, None)
    await rig.advance(60.0)
    assert (await rig.until("one", DeliveryStatus.SENT)).attempts == 1


async def test_a_hold_without_a_pause_still_waits_the_minimum_retry(rig: Rig) -> None:
    rig.senders["pushover"].script.append(
        DeliveryFailed("not sent", retry=True, attempted=False))
    await rig.enqueue("h", "one")
    await eventually(lambda: rig.worker.status()["pushover"]["sending"] is False)
    await rig.advance(4.0)
    assert len(rig.senders["pushover"].payloads) == 1  # not claimed again in a tight loop
    await rig.advance(1.0)
    await rig.until("one", DeliveryStatus.SENT)




async def test_a_bug_in_a_sender_is_a_retryable_failure_not_a_wedged_alert(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.senders["pushover"].script.append(RuntimeError("integration bug"))
    await rig.enqueue("h", "one", "two", alert="cpu:host=a")
    failed = await rig.until("one", DeliveryStatus.FAILED)
    assert failed.last_error == ("unexpected error in the pushover sender: "
                                 "RuntimeError: integration bug")
    assert any(r.exc_info for r in caplog.records)  # the traceback is logged
    await rig.advance(5.0)
    await rig.until("two", DeliveryStatus.SENT)
    assert rig.senders["pushover"].messages == ["one", "one", "two"]


async def test_a_store_failure_in_a_lane_gives_its_alert_back(rig: Rig) -> None:
    original = rig.store.mark_failed
    calls = 0

    async def flaky(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreError("disk I/O error")
        await original(*args)

    rig.store.mark_failed = flaky  # type: ignore[method-assign]
    rig.senders["pushover"].script.append(DeliveryFailed("HTTP 503", retry=True))
    await rig.enqueue("h", "one", "two", alert="cpu:host=a")
    await eventually(lambda: calls == 1)
    two = await rig.until("two", DeliveryStatus.PENDING)
    assert two.attempts == 0  # given back uncounted; "one" stays leased until its lease ends
    await rig.advance(61.0)
    await rig.until("two", DeliveryStatus.SENT)
    assert (await rig.delivery("one")).status is DeliveryStatus.SENT
