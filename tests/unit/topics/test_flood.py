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
from pushoverd.topics.flood import FloodGate, FloodRule, split_options
from pushoverd.topics.service import TopicService

TEN_A_MINUTE = FloodRule(10, 60.0)


class Clock:
    """A clock the test moves by hand (starting now: the store stamps rows with real time)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_the_gate_admits_up_to_the_rate_within_the_interval() -> None:
    gate = FloodGate()
    key = ("cpu", "h")

    admitted = [gate.admit(key, FloodRule(3, 60.0), 100.0 + i) for i in range(5)]

    assert admitted == [True, True, True, False, False]
    assert gate.admit(key, FloodRule(3, 60.0), 160.5)  # the first one left the window


def test_a_rate_of_zero_never_holds_anything_back() -> None:
    gate = FloodGate()
    assert all(gate.admit(("t", "h"), FloodRule(0, 60.0), 1.0) for _ in range(100))


def test_handlers_are_counted_separately() -> None:
    gate = FloodGate()
    rule = FloodRule(1, 60.0)
    assert gate.admit(("cpu", "a"), rule, 1.0)
    assert gate.admit(("cpu", "b"), rule, 1.0)
    assert not gate.admit(("cpu", "a"), rule, 2.0)


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
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    db = SQLiteStore(tmp_path / "pushoverd.db")
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


async def test_a_storm_sends_the_rate_and_holds_back_the_rest(store: SQLiteStore) -> None:
    service = await service_with_handler(store, Clock())

    await service.collect("cpu", storm(50))

    assert len(await by_status(store, DeliveryStatus.PENDING)) == 10
    assert len(await by_status(store, DeliveryStatus.COALESCED)) == 40
    assert (await service.topic("cpu")).collected == 50  # every alert is still visible


async def test_held_alerts_become_one_summary_after_the_interval(store: SQLiteStore) -> None:
    clock = Clock()
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
        tmp_path: Path) -> None:
    clock = Clock()
    first = SQLiteStore(tmp_path / "db")
    await first.open()
    await (await service_with_handler(first, clock)).collect("cpu", storm(15))
    await first.close()

    reopened = SQLiteStore(tmp_path / "db")
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


async def test_a_handler_can_lift_or_tighten_the_limit(store: SQLiteStore) -> None:
    service = await service_with_handler(store, Clock(), {"flood-rate": 0})
    await service.collect("cpu", storm(30))
    assert len(await by_status(store, DeliveryStatus.PENDING)) == 30

    await service.create_handler(HandlerSpec("cpu", "tight", "pushover", {"flood-rate": 2}))
    await service.collect("cpu", storm(5))
    tight = await store.deliveries(DeliveryFilter(handler_id="tight", limit=100))
    assert sorted(d.status.value for d in tight) == ["coalesced"] * 3 + ["pending"] * 2


async def test_flood_options_are_echoed_back_as_defined(store: SQLiteStore) -> None:
    service = await service_with_handler(store, Clock(), {"flood-rate": 5, "flood-interval": "2m"})
    assert service.handler("cpu", "oncall").options == {
        "title": "CPU", "flood-rate": 5, "flood-interval": "2m"}
