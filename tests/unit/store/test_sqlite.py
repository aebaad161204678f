"""The store contract on SQLite: atomic ingest, the outbox's leases and states, handler specs.

Every write is durable when its awaitable returns, and concurrent writes share a commit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushoverd.errors import Conflict, NotFound, StoreError
from pushoverd.models import (
    DeliveryFilter,
    DeliveryStatus,
    Event,
    HandlerSpec,
    Level,
    NewDelivery,
    TopicState,
)
from pushoverd.store.sqlite import SQLiteStore
from pushoverd.timefmt import ZERO_TIME_NS

LEASE = 30.0


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "pushoverd.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(db_path)
    await s.open()
    yield s
    await s.close()


def event(event_id: str = "cpu:host=a", level: Level = Level.CRITICAL, **kw: object) -> Event:
    return Event(id=event_id, level=level, message=f"{event_id} is {level.name}", **kw)  # type: ignore[arg-type]


def one_delivery(topic: str, ev: Event, previous: Level) -> list[NewDelivery]:
    """A planner: one pending delivery per event, for handler ``h``."""
    return [NewDelivery(topic=topic, handler_id="h", kind="pushover", event_id=ev.id,
                        level=ev.level, payload={"message": ev.message})]


def no_delivery(topic: str, ev: Event, previous: Level) -> list[NewDelivery]:
    return []


def later(seconds: float = 1.0) -> float:
    return time.time() + seconds


async def enqueue(store: SQLiteStore, n: int, topic: str = "cpu") -> list[int]:
    """Collect ``n`` events, one delivery each; their IDs, oldest first."""
    for i in range(n):
        await store.collect(topic, [event(f"e{i}")], one_delivery)
    found = await store.deliveries(DeliveryFilter(topic=topic, limit=1000))
    return sorted(d.id for d in found)


# Topics and events ----------------------------------------------------------------------------

async def test_collect_records_events_and_topic_state(store: SQLiteStore) -> None:
    await store.collect("cpu", [event("a", Level.WARNING, time_ns=5, duration_ns=7,
                                      details="d")], no_delivery)
    await store.collect("cpu", [event("b", Level.INFO)], no_delivery)
    assert await store.topic("cpu") == TopicState("cpu", Level.WARNING, 2)
    [a, b] = await store.events("cpu", Level.OK) or []
    assert (a.id, a.level, a.message, a.details, a.time_ns, a.duration_ns) == (
        "a", Level.WARNING, "a is WARNING", "d", 5, 7)
    assert (b.id, b.level) == ("b", Level.INFO)


@pytest.mark.parametrize("time_ns", [
    ZERO_TIME_NS, -(2**63) - 1, -(2**63), 2**63 - 1, 2**63, 253_402_300_799_999_999_999,
])
async def test_event_times_beyond_int64_nanoseconds_are_kept_exactly(
        store: SQLiteStore, time_ns: int) -> None:
    # SQLite integers stop at 2**63 (years 1677-2262); Kapacitor's times span years 0-9999.
    await store.collect("cpu", [event("a", time_ns=time_ns)], no_delivery)
    state = await store.event("cpu", "a")
    assert state is not None and state.time_ns == time_ns


async def test_topic_level_is_the_true_maximum_over_its_events(store: SQLiteStore) -> None:
    # Kapacitor's sort bug reports WARNING here; the intended semantics is the maximum.
    await store.collect("cpu", [event("b", Level.CRITICAL), event("a", Level.WARNING)],
                        no_delivery)
    assert (await store.topic("cpu") or TopicState("", Level.OK, 0)).level is Level.CRITICAL


async def test_events_are_sorted_by_level_then_id_and_filtered_by_min_level(
        store: SQLiteStore) -> None:
    await store.collect("cpu", [event("d", Level.OK), event("c", Level.WARNING),
                                event("b", Level.CRITICAL), event("a", Level.WARNING)],
                        no_delivery)
    listed = await store.events("cpu", Level.OK) or []
    assert [(e.id, e.level) for e in listed] == [
        ("b", Level.CRITICAL), ("a", Level.WARNING), ("c", Level.WARNING), ("d", Level.OK)]
    assert [e.id for e in await store.events("cpu", Level.WARNING) or []] == ["b", "a", "c"]
    assert [e.id for e in await store.events("cpu", Level.CRITICAL) or []] == ["b"]


async def test_a_new_state_replaces_the_old_one_and_ok_stays_listed(store: SQLiteStore) -> None:
    await store.collect("cpu", [event("a", Level.CRITICAL)], no_delivery)
    await store.collect("cpu", [event("a", Level.OK)], no_delivery)
    [state] = await store.events("cpu", Level.OK) or []
    assert (state.level, state.previous_level) == (Level.OK, Level.CRITICAL)
    assert await store.topic("cpu") == TopicState("cpu", Level.OK, 2)


async def test_planner_gets_the_level_this_event_id_had_before(store: SQLiteStore) -> None:
    seen: list[tuple[str, str, Level, Level]] = []

    def record(topic: str, ev: Event, previous: Level) -> list[NewDelivery]:
        seen.append((topic, ev.id, ev.level, previous))
        return []

    await store.collect("cpu", [event("a", Level.INFO), event("a", Level.WARNING)], record)
    await store.collect("cpu", [event("a", Level.CRITICAL), event("b", Level.OK)], record)
    await store.collect("mem", [event("a", Level.OK)], record)  # other topic: its own history
    assert seen == [
        ("cpu", "a", Level.INFO, Level.OK), ("cpu", "a", Level.WARNING, Level.INFO),
        ("cpu", "a", Level.CRITICAL, Level.WARNING), ("cpu", "b", Level.OK, Level.OK),
        ("mem", "a", Level.OK, Level.OK)]


async def test_collect_enqueues_what_the_planner_returns(store: SQLiteStore) -> None:
    dead = NewDelivery(topic="cpu", handler_id="off", kind="pushover", event_id="a",
                       level=Level.CRITICAL, payload={"message": "m"},
                       status=DeliveryStatus.DEAD, last_error="service is not enabled")

    def plan(topic: str, ev: Event, previous: Level) -> list[NewDelivery]:
        return [*one_delivery(topic, ev, previous), dead]

    assert await store.collect("cpu", [event("a")], plan) == 2
    pending, killed = sorted(await store.deliveries(DeliveryFilter()), key=lambda d: d.id)
    assert (pending.handler_id, pending.status, pending.attempts, pending.payload) == (
        "h", DeliveryStatus.PENDING, 0, {"message": "a is CRITICAL"})
    assert (killed.status, killed.last_error) == (DeliveryStatus.DEAD, "service is not enabled")


async def test_a_failing_planner_leaves_nothing_and_the_rest_of_its_group_commits(
        store: SQLiteStore) -> None:
    started, gate = threading.Event(), threading.Event()

    def hold(topic: str, ev: Event, previous: Level) -> list[NewDelivery]:
        started.set()
        gate.wait(5)
        return []

    def explode(topic: str, ev: Event, previous: Level) -> list[NewDelivery]:
        if ev.id == "second":
            raise RuntimeError("planner failed")
        return one_delivery(topic, ev, previous)

    await store.collect("bad", [event("old", Level.INFO)], no_delivery)
    holder = asyncio.ensure_future(store.collect("held", [event("x")], hold))
    assert await asyncio.to_thread(started.wait, 5)  # the writer is busy with ``holder``
    commits, rollbacks = store.commits, store.rollbacks
    group = [asyncio.ensure_future(c) for c in (
        store.collect("good1", [event("a")], one_delivery),
        store.collect("bad", [event("first"), event("second")], explode),
        store.collect("good2", [event("b")], one_delivery))]
    await asyncio.sleep(0)  # let every collect queue its write
    gate.set()
    results = await asyncio.gather(holder, *group, return_exceptions=True)
    # ``holder`` alone; the three together fail, so each runs again in its own transaction.
    assert (store.commits - commits, store.rollbacks - rollbacks) == (3, 1)
    assert results[0] == 0 and results[1] == 1 and results[3] == 1
    assert isinstance(results[2], RuntimeError)
    assert await store.topic("bad") == TopicState("bad", Level.INFO, 1)  # unchanged
    assert [e.id for e in await store.events("bad", Level.OK) or []] == ["old"]
    assert await store.deliveries(DeliveryFilter(topic="bad")) == []
    assert [t.id for t in await store.topics()] == ["bad", "good1", "good2", "held"]


async def test_unknown_topic_has_no_state_and_no_events(store: SQLiteStore) -> None:
    assert await store.topic("nope") is None
    assert await store.events("nope", Level.OK) is None
    assert await store.event("nope", "a") is None


async def test_ensure_topic_makes_an_empty_ok_topic(store: SQLiteStore) -> None:
    await store.ensure_topic("cpu")
    await store.ensure_topic("cpu")
    assert await store.topics() == [TopicState("cpu", Level.OK, 0)]
    assert await store.events("cpu", Level.OK) == []


async def test_topics_are_sorted_by_id(store: SQLiteStore) -> None:
    for topic in ("mem", "cpu", "main:task:alert2", "disk"):
        await store.collect(topic, [event()], no_delivery)
    assert [t.id for t in await store.topics()] == ["cpu", "disk", "main:task:alert2", "mem"]


async def test_delete_topic_deletes_its_events_but_not_its_handlers(store: SQLiteStore) -> None:
    await store.create_handler(HandlerSpec("cpu", "h", "pushover"), None)
    await store.collect("cpu", [event("a")], no_delivery)
    assert await store.delete_topic("cpu") is True
    assert await store.topic("cpu") is None
    assert await store.event("cpu", "a") is None
    assert [s.id for s, _ in await store.load_handlers()] == ["h"]
    assert await store.delete_topic("cpu") is False
    await store.collect("cpu", [event("b", Level.INFO)], no_delivery)
    assert await store.topic("cpu") == TopicState("cpu", Level.INFO, 1)


# Outbox -----------------------------------------------------------------------------------------

async def test_claim_leases_oldest_first_up_to_the_limit(store: SQLiteStore) -> None:
    ids = await enqueue(store, 3, topic="cpu") + await enqueue(store, 3, topic="mem")
    first = await store.claim(later(), 2, LEASE)
    assert [d.id for d in first] == ids[:2]
    assert all(d.status is DeliveryStatus.SENDING and d.attempts == 1 for d in first)
    # cpu's third waits behind its two leased elders; mem's handler is free to go.
    assert [d.id for d in await store.claim(later(), 10, LEASE)] == ids[3:]
    assert await store.claim(later(), 10, LEASE) == []


async def test_a_handler_waits_behind_its_earlier_delivery(store: SQLiteStore) -> None:
    ids = await enqueue(store, 3)
    [head] = await store.claim(later(), 1, LEASE)
    await store.mark_failed(head.id, "HTTP 503", later() + 60, later())

    assert await store.claim(later(), 10, LEASE) == []
    assert [d.id for d in await store.claim(later() + 61, 10, LEASE)] == ids


async def test_leased_deliveries_come_back_only_when_the_lease_expires(
        store: SQLiteStore) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    assert [d.id for d in await store.claim(now, 10, LEASE)] == [delivery_id]
    assert await store.claim(now + LEASE - 1, 10, LEASE) == []
    [again] = await store.claim(now + LEASE + 1, 10, LEASE)
    assert (again.id, again.attempts) == (delivery_id, 2)


async def test_a_reopened_store_frees_the_leases_a_dead_run_held(db_path: Path) -> None:
    first = SQLiteStore(db_path)
    await first.open()
    [delivery_id] = await enqueue(first, 1)
    await first.claim(later(), 10, LEASE)  # ... and the daemon dies mid-send
    await first.close()

    second = SQLiteStore(db_path)
    await second.open()
    try:
        assert second.reclaimed == 1
        [again] = await second.claim(later(), 10, LEASE)  # now, not after the lease
        assert (again.id, again.attempts) == (delivery_id, 2)
        assert again.last_error == "interrupted: the daemon stopped during the send"
    finally:
        await second.close()


async def test_nothing_is_claimed_before_it_is_due(store: SQLiteStore) -> None:
    await enqueue(store, 1)
    assert await store.claim(time.time() - 60, 10, LEASE) == []


async def test_mark_sent_records_the_receipt_and_finishes_the_delivery(
        store: SQLiteStore) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    await store.claim(now, 1, LEASE)
    await store.mark_sent(delivery_id, "req-1", "no active devices", now)
    sent = await store.delivery(delivery_id)
    assert sent is not None
    assert (sent.status, sent.sent_at, sent.request_id, sent.info, sent.attempts) == (
        DeliveryStatus.SENT, now, "req-1", "no active devices", 1)
    assert await store.claim(now + LEASE + 1, 10, LEASE) == []


async def test_mark_failed_retries_at_the_given_time(store: SQLiteStore) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    await store.claim(now, 1, LEASE)
    await store.mark_failed(delivery_id, "HTTP 503", now + 60, now)
    failed = await store.delivery(delivery_id)
    assert failed is not None
    assert (failed.status, failed.last_error, failed.next_attempt_at) == (
        DeliveryStatus.FAILED, "HTTP 503", now + 60)
    assert await store.claim(now + 59, 10, LEASE) == []
    [retry] = await store.claim(now + 61, 10, LEASE)
    assert (retry.id, retry.attempts) == (delivery_id, 2)


async def test_mark_dead_stops_retries_until_requeued(store: SQLiteStore) -> None:
    ids = await enqueue(store, 2)
    now = later()
    await store.claim(now, 10, LEASE)
    for delivery_id in ids:
        await store.mark_dead(delivery_id, "user key invalid", now)
    assert await store.claim(now + 3600, 10, LEASE) == []
    assert await store.requeue_dead(now, delivery_id=ids[0]) == 1
    requeued = await store.delivery(ids[0])
    assert requeued is not None
    assert (requeued.status, requeued.attempts) == (DeliveryStatus.PENDING, 0)
    assert [d.id for d in await store.claim(now + 1, 10, LEASE)] == [ids[0]]
    assert await store.requeue_dead(now, delivery_id=ids[0]) == 0  # not dead any more


async def test_requeue_dead_by_topic_and_handler(store: SQLiteStore) -> None:
    cpu = await enqueue(store, 2, "cpu")
    mem = await enqueue(store, 1, "mem")
    now = later()
    await store.claim(now, 10, LEASE)
    for delivery_id in cpu + mem:
        await store.mark_dead(delivery_id, "x", now)
    assert await store.requeue_dead(now, topic="cpu", handler_id="other") == 0
    assert await store.requeue_dead(now, topic="cpu", handler_id="h") == 2
    dead = await store.deliveries(DeliveryFilter(statuses=(DeliveryStatus.DEAD,)))
    assert [d.id for d in dead] == mem


async def test_release_returns_unattempted_deliveries_uncounted(store: SQLiteStore) -> None:
    first, second = await enqueue(store, 2)
    now = later()
    await store.claim(now, 10, LEASE)
    await store.mark_failed(second, "HTTP 500", now, now)
    await store.claim(now + 1, 10, LEASE)  # ``second``'s retry: attempts 2
    await store.release([first, second], now + 1)
    released = {d.id: d for d in await store.deliveries(DeliveryFilter())}
    assert (released[first].status, released[first].attempts) == (DeliveryStatus.PENDING, 0)
    assert (released[second].status, released[second].attempts) == (DeliveryStatus.FAILED, 1)
    assert [d.id for d in await store.claim(now + 2, 10, LEASE)] == [first, second]


async def test_release_leaves_finished_deliveries_alone(store: SQLiteStore) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    await store.claim(now, 1, LEASE)
    await store.mark_sent(delivery_id, "r", None, now)
    await store.release([delivery_id], now)
    sent = await store.delivery(delivery_id)
    assert sent is not None and sent.status is DeliveryStatus.SENT


async def test_stats_counts_every_status_and_the_oldest_waiting(store: SQLiteStore) -> None:
    empty = await store.stats()
    assert empty.counts == {s.value: 0 for s in DeliveryStatus}
    assert empty.oldest_pending_at is None
    before = time.time()
    ids = await enqueue(store, 4)
    now = later()
    await store.claim(now, 3, LEASE)
    await store.mark_sent(ids[0], "r", None, now)
    await store.mark_dead(ids[1], "x", now)
    stats = await store.stats()
    assert stats.counts == {**empty.counts, "pending": 1, "sending": 1, "sent": 1, "dead": 1}
    assert stats.oldest_pending_at is not None and before <= stats.oldest_pending_at <= now


async def test_prune_deletes_only_finished_deliveries_older_than_the_cutoff(
        store: SQLiteStore) -> None:
    ids = await enqueue(store, 4)
    now = later()
    await store.claim(now, 2, LEASE)
    await store.mark_sent(ids[0], "r", None, now)
    await store.mark_dead(ids[1], "x", now)
    assert await store.prune(now) == 0  # updated exactly at the cutoff: kept
    assert await store.prune(now + 1) == 2
    assert sorted(d.id for d in await store.deliveries(DeliveryFilter())) == ids[2:]


async def test_deliveries_are_listed_newest_first_and_filtered(store: SQLiteStore) -> None:
    cpu = await enqueue(store, 3, "cpu")
    mem = await enqueue(store, 1, "mem")
    assert [d.id for d in await store.deliveries(DeliveryFilter())] == [*mem, *reversed(cpu)]
    assert [d.id for d in await store.deliveries(DeliveryFilter(topic="mem"))] == mem
    assert await store.deliveries(DeliveryFilter(handler_id="other")) == []
    assert [d.id for d in await store.deliveries(DeliveryFilter(limit=2))] == [mem[0], cpu[2]]
    assert [d.id for d in await store.deliveries(DeliveryFilter(before_id=cpu[2]))] == [
        cpu[1], cpu[0]]
    await store.mark_dead(cpu[0], "x", time.time())
    dead = DeliveryFilter(statuses=(DeliveryStatus.DEAD, DeliveryStatus.SENT))
    assert [d.id for d in await store.deliveries(dead)] == [cpu[0]]
    assert await store.deliveries(DeliveryFilter(since=later(60))) == []
    assert await store.deliveries(DeliveryFilter(until=time.time() - 60)) == []
    assert len(await store.deliveries(DeliveryFilter(since=time.time() - 60))) == 4


async def test_unknown_delivery_is_none(store: SQLiteStore) -> None:
    assert await store.delivery(12345) is None


# Handler specs ----------------------------------------------------------------------------------

async def test_create_handler_stores_the_spec_and_makes_its_topic(store: SQLiteStore) -> None:
    spec = HandlerSpec("cpu", "h", "pushover", {"sound": "siren", "nested": {"a": [1]}})
    await store.create_handler(spec, "/etc/handlers/h.yaml")
    await store.create_handler(HandlerSpec("cpu", "bare", "pushover"), None)
    assert await store.load_handlers() == [
        (HandlerSpec("cpu", "bare", "pushover", None), None),
        (spec, "/etc/handlers/h.yaml")]
    assert await store.topic("cpu") == TopicState("cpu", Level.OK, 0)


async def test_handler_ids_are_unique_per_topic(store: SQLiteStore) -> None:
    await store.create_handler(HandlerSpec("cpu", "h", "pushover"), None)
    await store.create_handler(HandlerSpec("mem", "h", "pushover"), None)  # another topic: fine
    with pytest.raises(Conflict, match='handler with ID "h" already exists'):
        await store.create_handler(HandlerSpec("cpu", "h", "pushover", {"x": "y"}), None)
    assert len(await store.load_handlers()) == 2


async def test_replace_handler_replaces_and_can_rename(store: SQLiteStore) -> None:
    await store.create_handler(HandlerSpec("cpu", "h", "pushover"), "/f.yaml")
    await store.replace_handler("cpu", "h", HandlerSpec("cpu", "h", "pushover", {"a": "b"}),
                                "/f.yaml")
    await store.replace_handler("cpu", "h", HandlerSpec("cpu", "renamed", "pushover"), None)
    assert await store.load_handlers() == [(HandlerSpec("cpu", "renamed", "pushover"), None)]


async def test_replace_handler_refuses_unknown_ids_and_taken_names(store: SQLiteStore) -> None:
    await store.create_handler(HandlerSpec("cpu", "a", "pushover"), None)
    await store.create_handler(HandlerSpec("cpu", "b", "pushover"), None)
    with pytest.raises(NotFound, match='unknown handler: "zzz"'):
        await store.replace_handler("cpu", "zzz", HandlerSpec("cpu", "zzz", "pushover"), None)
    with pytest.raises(Conflict, match='handler with ID "b" already exists'):
        await store.replace_handler("cpu", "a", HandlerSpec("cpu", "b", "pushover"), None)
    assert [s.id for s, _ in await store.load_handlers()] == ["a", "b"]


async def test_delete_handler_says_whether_it_existed(store: SQLiteStore) -> None:
    await store.create_handler(HandlerSpec("cpu", "h", "pushover"), None)
    assert await store.delete_handler("cpu", "h") is True
    assert await store.delete_handler("cpu", "h") is False
    assert await store.load_handlers() == []
    assert await store.topic("cpu") is not None  # deleting a handler never deletes its topic


# Group commit and durability ---------------------------------------------------------------

async def test_concurrent_writes_share_commits(store: SQLiteStore) -> None:
    commits = store.commits
    counts = await asyncio.gather(*(
        store.collect(f"t{i % 7}", [event(f"e{i}")], one_delivery) for i in range(200)))
    assert counts == [1] * 200
    assert store.commits - commits < 200
    assert sum(t.collected for t in await store.topics()) == 200
    assert len(await store.deliveries(DeliveryFilter(limit=1000))) == 200


async def test_reopening_the_file_keeps_everything(db_path: Path) -> None:
    first = SQLiteStore(db_path)
    await first.open()
    await first.create_handler(HandlerSpec("cpu", "h", "pushover", {"sound": "siren"}), "/f")
    await first.collect("cpu", [event("a", Level.WARNING, time_ns=1_700_000_000_123_456_789)],
                        one_delivery)
    await first.close()

    second = SQLiteStore(db_path)
    await second.open()  # migrations are not applied twice
    try:
        assert await second.load_handlers() == [
            (HandlerSpec("cpu", "h", "pushover", {"sound": "siren"}), "/f")]
        assert await second.topic("cpu") == TopicState("cpu", Level.WARNING, 1)
        state = await second.event("cpu", "a")
        assert state is not None and state.time_ns == 1_700_000_000_123_456_789
        [delivery] = await second.deliveries(DeliveryFilter())
        assert (delivery.event_id, delivery.status) == ("a", DeliveryStatus.PENDING)
    finally:
        await second.close()


async def test_a_closed_store_refuses_writes(db_path: Path) -> None:
    s = SQLiteStore(db_path)
    await s.open()
    await s.close()
    with pytest.raises(StoreError, match="closed"):
        await s.ensure_topic("cpu")

