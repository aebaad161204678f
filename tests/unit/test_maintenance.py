"""Housekeeping: flood summaries on a timer, and deliveries pruned after the retention."""

from __future__ import annotations

import asyncio
import time

from pushoverd.maintenance import Maintenance
from pushoverd.models import DeliveryFilter, Event, Level, NewDelivery
from pushoverd.store.base import Collecting, Plan
from pushoverd.store.memory import MemoryStore


def one(ctx: Collecting) -> Plan:
    return Plan([NewDelivery(topic=ctx.topic, handler_id="h", kind="pushover",
                             event_id=ctx.event.id, level=ctx.event.level,
                             payload={"message": ctx.event.id})])


async def test_it_flushes_on_its_timer_and_prunes_what_outlived_the_retention() -> None:
    store = MemoryStore()
    await store.open()
    try:
        await store.collect("cpu", [Event("old", Level.CRITICAL), Event("new", Level.OK)], one)
        old, new = sorted((await store.deliveries(DeliveryFilter())), key=lambda d: d.id)
        await store.mark_sent(old.id, "r1", None, time.time() - 3600)  # sent an hour ago
        await store.mark_sent(new.id, "r2", None, time.time())
        flushes = refreshes = 0

        async def flush() -> int:
            nonlocal flushes
            flushes += 1
            return 0

        async def refresh() -> bool:
            nonlocal refreshes
            refreshes += 1
            return False

        housekeeping = Maintenance(store, flush, retention=1800, flush_every=0.01,
                                   refresh=refresh)
        housekeeping.start()
        await asyncio.sleep(0.1)
        await housekeeping.stop()

        assert flushes >= 3 and refreshes == flushes
        assert [d.event_id for d in await store.deliveries(DeliveryFilter())] == ["new"]
    finally:
        await store.close()
