"""Flood control: beyond a handler's rate, alerts are held and summed up in one notification."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushoverd.errors import ValidationError
from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.registry import KindRegistry
from pushoverd.models import DeliveryFilter, DeliveryStatus, Event, HandlerSpec, Level
from pushoverd.store.sqlite import SQLiteStore
from pushoverd.topics.flood import FloodRule, split_options
from pushoverd.topics.service import TopicService

TEN_A_MINUTE = FloodRule(10, 60.0)


class Clock:
    """A clock the test moves by hand, shared by the store (row times) and the service."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_flood_options_override_the_default_and_are_hidden_from_the_kind() -> None:
    options, rule = split_options({"title": "t", "flood-rate": 3, "flood-interval": "30s"},
                                  TEN_A_MINUTE)
    assert options == {"title": "t"}
    assert rule == FloodRule(3, 30.0)
    assert split_options({"title": "t"}, TEN_A_MINUTE) == ({"title": "t"}, TEN_A_MINUTE)


@pytest.mark.parametrize("options", [
    {"flood-rate": -1}, {"flood-rate": "ten"}, {"flood-rate": True},
    {"flood-interval": "soon"}, {"flood-interval": "0s"}, {"flood-interval": 5},
])
def test_bad_flood_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="flood-"):
        split_options(options, TEN_A_MINUTE)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[SQLiteStore]:
    db = SQLiteStore(tmp_path / "pushoverd.db", clock=clock)
    await db.open()
    yield db
    await db.close()


async def service_with_handler(store: SQLiteStore, clock: Clock,
                               options: dict[str, object] | None = None) -> TopicService:
    service = TopicService(store, KindRegistry([PushoverKind(True)]), flood=TEN_A_MINUTE,
                           clock=clock)
    await service.start()
    await service.create_handler(HandlerSpec("cpu", "oncall", "pushover",
                                             {"title": "CPU", **(options or {})}))
    return service


def storm(count: int) -> list[Event]:
    """``count`` alerts from distinct hosts: every fourth WARNING, the rest CRITICAL."""
    return [Event(id=f"cpu:host=h{i}", level=Level.WARNING if i % 4 == 0 else Level.CRITICAL,
                  message=f"h{i} is {'WARNING' if i % 4 == 0 else 'CRITICAL'}",
                  time_ns=1_700_000_000_000_000_000 + i) for i in range(count)]


async def by_status(store: SQLiteStore, status: DeliveryStatus) -> list[int]:
    found = await store.deliveries(DeliveryFilter(statuses=(status,), limit=1000))
    return sorted(d.id for d in found)


async def test_a_storm_sends_the_rate_and_holds_back_the_rest(store: SQLiteStore,
                                                               clock: Clock) -> None:
    service = await service_with_handler(store, clock)

    await service.collect("cpu", storm(50))

    assert len(await by_status(store, DeliveryStatus.PENDING)) == 10
    assert len(await by_status(store, DeliveryStatus.COALESCED)) == 40
    assert (await service.topic("cpu")).collected == 50  # every alert is still visible


async def test_held_alerts_become_one_summary_after_the_interval(store: SQLiteStore,
                                                                 clock: Clock) -> None:
    service = await service_with_handler(store, clock)
    await service.collect("cpu", storm(50))

    assert await service.flush_floods() == 0  # not due yet
    clock.now += 61
    assert await service.flush_floods() == 1

    summaries = [d for d in await store.deliveries(DeliveryFilter(limit=1000)) if d.summarizes]
    assert len(summaries) == 1
    summary = summaries[0]
    assert summary.status is DeliveryStatus.PENDING and summary.summarizes == 40
    assert summary.payload["message"] == (
        "40 more alerts on topic cpu: 30 CRITICAL, 10 WARNING; latest: h49 is CRITICAL")
    assert summary.payload["priority"] == 1
    assert summary.payload["title"] == "CPU"
    held = await store.deliveries(DeliveryFilter(statuses=(DeliveryStatus.COALESCED,), limit=100))
    assert {d.summary_id for d in held} == {summary.id}
    assert await service.flush_floods() == 0  # each held alert is summarised once


async def test_a_summary_survives_a_restart_between_the_storm_and_its_interval(
        tmp_path: Path, clock: Clock) -> None:
    first = SQLiteStore(tmp_path / "db", clock=clock)
    await first.open()
    await (await service_with_handler(first, clock)).collect("cpu", storm(15))
    await first.close()

    reopened = SQLiteStore(tmp_path / "db", clock=clock)
    await reopened.open()
    try:
        service = TopicService(reopened, KindRegistry([PushoverKind(True)]), flood=TEN_A_MINUTE,
                               clock=clock)
        await service.start()
        clock.now += 61
        assert await service.flush_floods() == 1
        summary = [d for d in await reopened.deliveries(DeliveryFilter()) if d.summarizes]
        assert summary[0].payload["message"].startswith("5 more alerts on topic cpu")
    finally:
        await reopened.close()


async def test_a_handler_can_lift_or_tighten_the_limit(store: SQLiteStore,
                                                       clock: Clock) -> None:
    service = await service_with_handler(store, clock, {"flood-rate": 0})
    await service.collect("cpu", storm(30))
    assert len(await by_status(store, DeliveryStatus.PENDING)) == 30

    await service.create_handler(HandlerSpec("cpu", "tight", "pushover", {"flood-rate": 2}))
    await service.collect("cpu", storm(5))
    tight = await store.deliveries(DeliveryFilter(handler_id="tight", limit=100))
    assert sorted(d.status.value for d in tight) == ["coalesced"] * 3 + ["pending"] * 2


async def test_flood_options_are_echoed_back_as_defined(store: SQLiteStore,
                                                        clock: Clock) -> None:
    service = await service_with_handler(store, clock, {"flood-rate": 5, "flood-interval": "2m"})
    assert service.handler("cpu", "oncall").options == {
        "title": "CPU", "flood-rate": 5, "flood-interval": "2m"}


async def test_the_window_slides_with_time(store: SQLiteStore, clock: Clock) -> None:
    service = await service_with_handler(store, clock, {"flood-rate": 3})
    for _ in range(5):
        await service.collect("cpu", storm(1))
        clock.now += 1
    clock.now += 56  # the first alert (t=0) has left the one-minute window at t=61
    await service.collect("cpu", storm(1))
    statuses = [d.status.value for d in sorted(
        await store.deliveries(DeliveryFilter(limit=100)), key=lambda d: d.id)]
    assert statuses == ["pending"] * 3 + ["coalesced"] * 2 + ["pending"]


async def test_each_handler_has_its_own_window(store: SQLiteStore, clock: Clock) -> None:
    service = await service_with_handler(store, clock, {"flood-rate": 1})
    await service.create_handler(HandlerSpec("cpu", "other", "pushover", {"flood-rate": 1}))
    await service.collect("cpu", storm(2))
    held = await store.deliveries(DeliveryFilter(statuses=(DeliveryStatus.COALESCED,)))
    assert sorted(d.handler_id for d in held) == ["oncall", "other"]


async def test_the_window_survives_a_restart(tmp_path: Path, clock: Clock) -> None:
    """Regression: the window lived in memory, so a restart let ``rate`` more alerts through."""
    first = SQLiteStore(tmp_path / "db", clock=clock)
    await first.open()
    await (await service_with_handler(first, clock)).collect("cpu", storm(10))
    await first.close()

    reopened = SQLiteStore(tmp_path / "db", clock=clock)
    await reopened.open()
    try:
        service = TopicService(reopened, KindRegistry([PushoverKind(True)]), flood=TEN_A_MINUTE,
                               clock=clock)
        await service.start()
        clock.now += 5
        await service.collect("cpu", storm(1))
        [latest] = await reopened.deliveries(DeliveryFilter(limit=1))
        assert latest.status is DeliveryStatus.COALESCED
    finally:
        await reopened.close()
