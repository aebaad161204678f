"""The aggregate clock: each handler ticks on its own interval from when the clock first saw
it, follows handlers defined, changed and deleted, and survives a failing flush."""

from __future__ import annotations

import logging

import pytest

from pushoverd.topics.aggregation import AggregateClock


class FakeService:
    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str], float] = {}
        self.flushed: list[tuple[str, str]] = []
        self.failing: set[tuple[str, str]] = set()

    def aggregates(self) -> dict[tuple[str, str], float]:
        return dict(self.handlers)

    async def flush_aggregate(self, topic: str, handler_id: str) -> bool:
        if (topic, handler_id) in self.failing:
            raise RuntimeError("store down")
        self.flushed.append((topic, handler_id))
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts() -> tuple[FakeService, Clock, AggregateClock]:
    service, clock = FakeService(), Clock()
    return service, clock, AggregateClock(service, clock)  # type: ignore[arg-type]


async def test_each_handler_ticks_on_its_own_interval(
        parts: tuple[FakeService, Clock, AggregateClock]) -> None:
    service, clock, ticker = parts
    service.handlers = {("cpu", "fast"): 1.0, ("cpu", "slow"): 3.0}
    assert await ticker.tick_due() == 0  # first seen now: first ticks one interval later
    ticks = []
    for _ in range(6):
        clock.now += 1.0
        service.flushed.clear()
        await ticker.tick_due()
        ticks.append(sorted(h for _, h in service.flushed))
    assert ticks == [["fast"], ["fast"], ["fast", "slow"], ["fast"], ["fast"], ["fast", "slow"]]


async def test_a_late_tick_is_not_caught_up_one_by_one(
        parts: tuple[FakeService, Clock, AggregateClock]) -> None:
    service, clock, ticker = parts
    service.handlers = {("cpu", "agg"): 1.0}
    await ticker.tick_due()
    clock.now += 10.5
    assert await ticker.tick_due() == 1
    clock.now += 0.9
    assert await ticker.tick_due() == 0
    clock.now += 0.1
    assert await ticker.tick_due() == 1


async def test_handlers_defined_changed_and_deleted_are_followed(
        parts: tuple[FakeService, Clock, AggregateClock]) -> None:
    service, clock, ticker = parts
    service.handlers = {("cpu", "agg"): 1.0}
    await ticker.tick_due()
    clock.now += 0.5
    service.handlers = {("cpu", "agg"): 2.0, ("mem", "new"): 1.0}  # changed: restarts
    await ticker.tick_due()
    clock.now += 1.0
    await ticker.tick_due()
    assert service.flushed == [("mem", "new")]
    del service.handlers[("mem", "new")]
    clock.now += 1.0
    await ticker.tick_due()
    assert service.flushed == [("mem", "new"), ("cpu", "agg")]


async def test_a_failing_flush_is_logged_and_the_others_go_on(
        parts: tuple[FakeService, Clock, AggregateClock],
        caplog: pytest.LogCaptureFixture) -> None:
    service, clock, ticker = parts
    service.handlers = {("cpu", "bad"): 1.0, ("cpu", "good"): 1.0}
    service.failing = {("cpu", "bad")}
    await ticker.tick_due()
    clock.now += 1.0
    with caplog.at_level(logging.ERROR):
        assert await ticker.tick_due() == 1
    assert service.flushed == [("cpu", "good")]
    assert "aggregate handler cpu/bad failed to collect" in caplog.text
