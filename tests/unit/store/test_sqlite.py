"""What only the SQLite backend does: group commits, rolled-back groups retried write by write,
one daemon per file, and private files. The shared contract is in tests/contract."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushoverd.errors import StoreError
from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.registry import KindRegistry
from pushoverd.models import (
    DeliveryFilter,
    DeliveryStatus,
    Event,
    HandlerSpec,
    Level,
    NewDelivery,
    TopicState,
)
from pushoverd.store.base import Collecting, Plan
from pushoverd.store.sqlite import SQLiteStore
from pushoverd.topics.flood import FloodRule
from pushoverd.topics.service import TopicService


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "pushoverd.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(db_path)
    await s.open()
    yield s
    await s.close()


def event(event_id: str, level: Level = Level.CRITICAL) -> Event:
    return Event(id=event_id, level=level, message=f"{event_id} is {level.name}")


def one_delivery(ctx: Collecting) -> Plan:
    return Plan([NewDelivery(topic=ctx.topic, handler_id="h", kind="pushover",
                             event_id=ctx.event.id, level=ctx.event.level,
                             payload={"message": ctx.event.message})])


def no_delivery(ctx: Collecting) -> Plan:
    return Plan()


class WriterHold:
    """Keeps the writer thread busy inside one write until released, so that the writes
    queued meanwhile form one group."""

    def __init__(self) -> None:
        self.started, self.gate = threading.Event(), threading.Event()

    def plan(self, ctx: Collecting) -> Plan:
        self.started.set()
        self.gate.wait(5)
        return Plan()


async def test_concurrent_writes_share_commits(store: SQLiteStore) -> None:
    commits = store.commits
    counts = await asyncio.gather(*(
        store.collect(f"t{i % 7}", [event(f"e{i}")], one_delivery) for i in range(200)))
    assert [c.enqueued for c in counts] == [1] * 200
    assert store.commits - commits < 200
    assert sum(t.collected for t in await store.topics()) == 200
    assert len(await store.deliveries(DeliveryFilter(limit=1000))) == 200


async def test_a_failing_write_fails_alone_and_the_rest_of_its_group_commits(
        store: SQLiteStore) -> None:
    def explode(ctx: Collecting) -> Plan:
        if ctx.event.id == "second":
            raise RuntimeError("planner failed")
        return one_delivery(ctx)

    hold = WriterHold()
    await store.collect("bad", [event("old", Level.INFO)], no_delivery)
    holder = asyncio.ensure_future(store.collect("held", [event("x")], hold.plan))
    assert await asyncio.to_thread(hold.started.wait, 5)  # the writer is busy with ``holder``
    commits, rollbacks = store.commits, store.rollbacks
    group = [asyncio.ensure_future(c) for c in (
        store.collect("good1", [event("a")], one_delivery),
        store.collect("bad", [event("first"), event("second")], explode),
        store.collect("good2", [event("b")], one_delivery))]
    await asyncio.sleep(0)  # let every collect queue its write
    hold.gate.set()
    results = await asyncio.gather(holder, *group, return_exceptions=True)
    # ``holder`` alone; the three together fail, so each runs again in its own transaction.
    assert (store.commits - commits, store.rollbacks - rollbacks) == (3, 1)
    assert isinstance(results[2], RuntimeError)
    assert [r.enqueued for r in (results[0], results[1], results[3])] == [0, 1, 1]
    assert await store.topic("bad") == TopicState("bad", Level.INFO, 1)  # unchanged
    assert await store.deliveries(DeliveryFilter(topic="bad")) == []
    assert [t.id for t in await store.topics()] == ["bad", "good1", "good2", "held"]


async def test_a_group_rolled_back_and_retried_counts_each_alert_once_for_flood_control(
        store: SQLiteStore) -> None:
    """Regression: the flood window used to live in memory and was counted again when the
    writer retried a rolled-back group, so one alert counted twice."""
    service = TopicService(store, KindRegistry([PushoverKind(True)]), flood=FloodRule(3, 60))
    await service.start()
    await service.create_handler(HandlerSpec("cpu", "oncall", "pushover"))

    def poison(ctx: Collecting) -> Plan:
        raise RuntimeError("this write fails, so its whole group is rolled back")

    hold = WriterHold()
    holder = asyncio.ensure_future(store.collect("held", [event("x")], hold.plan))
    assert await asyncio.to_thread(hold.started.wait, 5)
    rollbacks = store.rollbacks
    group = [asyncio.ensure_future(c) for c in (
        service.collect("cpu", [event("a1"), event("a2")]),
        store.collect("other", [event("p")], poison))]
    await asyncio.sleep(0)
    hold.gate.set()
    await asyncio.gather(holder, *group, return_exceptions=True)
    assert store.rollbacks - rollbacks == 1

    await service.collect("cpu", [event("a3"), event("a4")])
    statuses = [d.status for d in sorted(
        await store.deliveries(DeliveryFilter(topic="cpu")), key=lambda d: d.id)]
    assert statuses == [DeliveryStatus.PENDING] * 3 + [DeliveryStatus.COALESCED]


async def test_a_second_daemon_on_the_same_file_is_refused(store: SQLiteStore,
                                                          db_path: Path) -> None:
    with pytest.raises(StoreError, match="in use by another pushoverd process"):
        await SQLiteStore(db_path).open()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_folder_and_files_are_private(store: SQLiteStore,
                                                         db_path: Path) -> None:
    """Regression: the database holds user keys and was world-readable (0644)."""
    await store.ensure_topic("cpu")
    assert _mode(db_path.parent) == 0o700
    files = [p for p in db_path.parent.iterdir() if p.name.startswith("pushoverd.db")]
    assert {p.name for p in files} >= {"pushoverd.db", "pushoverd.db-wal", "pushoverd.db.lock"}
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


async def test_an_open_folder_is_reported_and_old_open_files_are_tightened(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    (folder / "pushoverd.db").touch(mode=0o644)
    os.chmod(folder / "pushoverd.db", 0o644)
    with caplog.at_level(logging.WARNING):
        s = SQLiteStore(folder / "pushoverd.db")
        await s.open()
        await s.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "open to other users (mode 0755)" in warnings[0]
    assert _mode(folder) == 0o755  # the operator's folder is theirs to change
    assert _mode(folder / "pushoverd.db") == 0o600
