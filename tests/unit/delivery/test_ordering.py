"""Order per alert, as a property: whatever the interleaving of alert ids on one handler, the
failures, the retries and a restart in the middle, each alert's notifications arrive in the
order they came in, and never two of one alert at once."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from tests.conftest import eventually
from tests.fakes.senders import ScriptedSender

from pushoverd.delivery.base import Sent
from pushoverd.delivery.retry import RetryPolicy
from pushoverd.delivery.worker import DeliveryWorker, WorkerSettings
from pushoverd.errors import DeliveryFailed
from pushoverd.models import DeliveryFilter, DeliveryStatus, Event, Level, NewDelivery
from pushoverd.store.base import Collecting, Plan
from pushoverd.store.memory import MemoryData, MemoryStore

ALERTS = ("cpu:host=a", "cpu:host=b", "cpu:host=c", "disk:host=a")
SEEDS = range(12)


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


class Watched(ScriptedSender):
    """Fails at random (seeded), and records any alert that had two sends in flight."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__("pushover")
        self.rng = rng
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []

    async def send(self, payload: dict[str, Any]) -> Sent:
        alert = payload["alert"]
        if alert in self.in_flight:
            self.overlaps.append(alert)
        self.in_flight.add(alert)
        try:
            await asyncio.sleep(self.rng.random() * 0.002)
            if self.rng.random() < 0.25:
                raise DeliveryFailed("HTTP 503", retry=True)
            return await super().send(payload)
        finally:
            self.in_flight.discard(alert)


def plan(ctx: Collecting) -> Plan:
    return Plan([NewDelivery(topic="cpu", handler_id="oncall", kind="pushover",
                             event_id=ctx.event.id, level=ctx.event.level,
                             payload={"message": ctx.event.message, "alert": ctx.event.id})])


def worker(store: MemoryStore, sender: Watched, clock: Clock) -> DeliveryWorker:
    policy = RetryPolicy(initial=5.0, maximum=5.0, max_age=10**9, random=lambda: 0.5)
    return DeliveryWorker(store, {"pushover": sender}, policy,
                          WorkerSettings(poll_interval=0.005, batch_size=8), clock=clock)


async def run_until_sent(store: MemoryStore, clock: Clock, running: DeliveryWorker,
                         expected: int) -> None:
    async def all_sent() -> bool:
        sent = await store.deliveries(DeliveryFilter(statuses=(DeliveryStatus.SENT,),
                                                     limit=10_000))
        if len(sent) < expected:
            clock.now += 5.0  # let every backoff run out
            running.notify()
        return len(sent) == expected
    await eventually(all_sent, timeout=20.0)


@pytest.mark.parametrize("seed", SEEDS)
async def test_each_alerts_notifications_arrive_in_order_through_failures_and_a_restart(
        seed: int) -> None:
    rng = random.Random(seed)
    clock, data = Clock(), MemoryData()
    sender = Watched(rng)
    events = [Event(id=rng.choice(ALERTS), level=rng.choice(list(Level)), message=f"n{n}")
              for n in range(40)]

    first = MemoryStore(data, clock=clock)
    await first.open()
    before = worker(first, sender, clock)
    before.start()
    for event in events[:20]:
        await first.collect("cpu", [event], plan)
        before.notify()
    await asyncio.sleep(rng.random() * 0.02)
    await before.stop(0.0 if seed % 2 else 1.0)  # a hard stop leaves sends leased
    await first.close()

    second = MemoryStore(data, clock=clock)  # the restarted daemon on the same data
    await second.open()
    after = worker(second, sender, clock)
    after.start()
    for event in events[20:]:
        await second.collect("cpu", [event], plan)
    try:
        await run_until_sent(second, clock, after, len(events))
    finally:
        await after.stop(1.0)

    assert sender.overlaps == []
    for alert in ALERTS:
        arrived = [p["message"] for p in sender.accepted if p["alert"] == alert]
        wanted = [e.message for e in events if e.id == alert]
        # A send cut off by the stop may reach Pushover and be sent again after the restart:
        # at most a repeat of the one in flight, never a reordering.
        assert _without_adjacent_repeats(arrived) == wanted


def _without_adjacent_repeats(items: list[str]) -> list[str]:
    return [item for n, item in enumerate(items) if n == 0 or items[n - 1] != item]
