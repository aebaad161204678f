"""The store contract, against every backend (tests/contract/conftest.py): atomic ingest with
planning and flood counts, the outbox's leases, order, retries, dead letters and re-queues,
flood rows, pruning, handler specs and topic state.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.contract.conftest import Backend

from pushoverd.errors import Conflict, NotFound, StoreError
from pushoverd.models import (
    ConfigOverride,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    HandlerSpec,
    HeldGroup,
    Level,
    NewDelivery,
    ReceiptState,
    ReceiptUpdate,
    TopicState,
)
from pushoverd.store.base import Collecting, Held, Plan, Published, Store
from pushoverd.timefmt import ZERO_TIME_NS

LEASE = 30.0
KINDS = ("pushover",)


def event(event_id: str = "cpu:host=a", level: Level = Level.CRITICAL, **kw: object) -> Event:
    return Event(id=event_id, level=level, message=f"{event_id} is {level.name}", **kw)  # type: ignore[arg-type]


def new_delivery(ctx: Collecting, handler_id: str = "h", kind: str = "pushover",
                 status: DeliveryStatus = DeliveryStatus.PENDING) -> NewDelivery:
    return NewDelivery(topic=ctx.topic, handler_id=handler_id, kind=kind, event_id=ctx.event.id,
                       level=ctx.event.level, payload={"message": ctx.event.message},
                       status=status)


def one_delivery(ctx: Collecting) -> Plan:
    """A planner: one pending delivery per event, for handler ``h``."""
    return Plan([new_delivery(ctx)])


def no_delivery(ctx: Collecting) -> Plan:
    return Plan()


def same_payload(d: Delivery) -> dict[str, Any]:
    return d.payload


def later(seconds: float = 1.0) -> float:
    return time.time() + seconds


async def claim(store: Store, now: float, limit: int = 10,
                kinds: tuple[str, ...] = KINDS) -> list[Delivery]:
    return await store.claim(now, limit, LEASE, kinds)


async def requeue(store: Store, now: float, readdress: Any = same_payload,
                  **query: Any) -> int:
    return await store.requeue(now, readdress, DeliveryFilter(**query))


async def enqueue(store: Store, n: int, topic: str = "cpu", alert: str | None = None) -> list[int]:
    """Collect ``n`` events (each its own alert, or all of ``alert``), one delivery each; their
    IDs, oldest first."""
    for i in range(n):
        await store.collect(topic, [event(alert or f"e{i}")], one_delivery)
    found = await store.deliveries(DeliveryFilter(topic=topic, limit=1000))
    return sorted(d.id for d in found)


# Topics and events ----------------------------------------------------------------------------

async def test_collect_records_events_and_topic_state(store: Store) -> None:
    await store.collect("cpu", [event("a", Level.WARNING, time_ns=5, duration_ns=7,
                                      details="d")], no_delivery)
    await store.collect("cpu", [event("b", Level.INFO)], no_delivery)
    assert await store.topic("cpu") == TopicState("cpu", Level.WARNING, 2)
    [a, b] = await store.events("cpu", Level.OK) or []
    assert (a.id, a.level, a.message, a.details, a.time_ns, a.duration_ns) == (
        "a", Level.WARNING, "a is WARNING", "d", 5, 7)
    assert (b.id, b.level) == ("b", Level.INFO)


async def test_topic_level_is_the_true_maximum_over_its_events(store: Store) -> None:
    # Kapacitor's sort bug reports WARNING here; the intended semantics is the maximum.
    await store.collect("cpu", [event("b", Level.CRITICAL), event("a", Level.WARNING)],
                        no_delivery)
    assert (await store.topic("cpu") or TopicState("", Level.OK, 0)).level is Level.CRITICAL


async def test_events_are_sorted_by_level_then_id_and_filtered_by_min_level(
        store: Store) -> None:
    await store.collect("cpu", [event("d", Level.OK), event("c", Level.WARNING),
                                event("b", Level.CRITICAL), event("a", Level.WARNING)],
                        no_delivery)
    listed = await store.events("cpu", Level.OK) or []
    assert [(e.id, e.level) for e in listed] == [
        ("b", Level.CRITICAL), ("a", Level.WARNING), ("c", Level.WARNING), ("d", Level.OK)]
    assert [e.id for e in await store.events("cpu", Level.WARNING) or []] == ["b", "a", "c"]
    assert [e.id for e in await store.events("cpu", Level.CRITICAL) or []] == ["b"]


async def test_a_new_state_replaces_the_old_one_and_ok_stays_listed(store: Store) -> None:
    await store.collect("cpu", [event("a", Level.CRITICAL)], no_delivery)
    await store.collect("cpu", [event("a", Level.OK)], no_delivery)
    [state] = await store.events("cpu", Level.OK) or []
    assert (state.level, state.previous_level) == (Level.OK, Level.CRITICAL)
    assert await store.topic("cpu") == TopicState("cpu", Level.OK, 2)


async def test_planner_gets_the_level_this_event_id_had_before(store: Store) -> None:
    seen: list[tuple[str, str, Level, Level]] = []

    def record(ctx: Collecting) -> Plan:
        seen.append((ctx.topic, ctx.event.id, ctx.event.level, ctx.previous))
        return Plan()

    await store.collect("cpu", [event("a", Level.INFO), event("a", Level.WARNING)], record)
    await store.collect("cpu", [event("a", Level.CRITICAL), event("b", Level.OK)], record)
    await store.collect("mem", [event("a", Level.OK)], record)  # other topic: its own history
    assert seen == [
        ("cpu", "a", Level.INFO, Level.OK), ("cpu", "a", Level.WARNING, Level.INFO),
        ("cpu", "a", Level.CRITICAL, Level.WARNING), ("cpu", "b", Level.OK, Level.OK),
        ("mem", "a", Level.OK, Level.OK)]


@pytest.mark.parametrize("time_ns", [
    ZERO_TIME_NS, -(2**63) - 1, -(2**63), 2**63 - 1, 2**63, 253_402_300_799_999_999_999,
])
async def test_event_times_beyond_int64_nanoseconds_are_kept_exactly(
        store: Store, time_ns: int) -> None:
    # SQLite integers stop at 2**63 (years 1677-2262); Kapacitor's times span years 0-9999.
    await store.collect("cpu", [event("a", time_ns=time_ns)], no_delivery)
    state = await store.event("cpu", "a")
    assert state is not None and state.time_ns == time_ns


async def test_collect_enqueues_what_the_planner_returns(store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        dead = NewDelivery(topic=ctx.topic, handler_id="off", kind="pushover", event_id="a",
                           level=Level.CRITICAL, payload={"message": "m"},
                           status=DeliveryStatus.DEAD, last_error="service is not enabled")
        return Plan([new_delivery(ctx), dead], skipped=["handler cpu/broken skipped"])

    collected = await store.collect("cpu", [event("a")], plan)
    assert (collected.enqueued, collected.skipped) == (2, ("handler cpu/broken skipped",))
    pending, killed = sorted(await store.deliveries(DeliveryFilter()), key=lambda d: d.id)
    assert (pending.handler_id, pending.status, pending.attempts, pending.payload) == (
        "h", DeliveryStatus.PENDING, 0, {"message": "a is CRITICAL"})
    assert (killed.status, killed.last_error) == (DeliveryStatus.DEAD, "service is not enabled")


async def test_a_raising_planner_leaves_nothing(store: Store) -> None:
    def explode(ctx: Collecting) -> Plan:
        if ctx.event.id == "second":
            raise RuntimeError("planner failed")
        return one_delivery(ctx)

    await store.collect("bad", [event("old", Level.INFO)], no_delivery)
    with pytest.raises(RuntimeError):
        await store.collect("bad", [event("first"), event("second")], explode)
    assert await store.topic("bad") == TopicState("bad", Level.INFO, 1)  # unchanged
    assert [e.id for e in await store.events("bad", Level.OK) or []] == ["old"]
    assert await store.deliveries(DeliveryFilter(topic="bad")) == []


async def test_the_planner_counts_a_handlers_notifications_in_the_same_transaction(
        store: Store) -> None:
    """Flood counts come from the stored rows: earlier events of the same request count, and
    coalesced deliveries, other handlers, other topics and older rows do not."""
    counts: list[int] = []

    def plan(ctx: Collecting) -> Plan:
        counts.append(ctx.notifications("h", ctx.now - 60, 100))
        status = (DeliveryStatus.COALESCED if ctx.event.id.startswith("held")
                  else DeliveryStatus.PENDING)
        return Plan([new_delivery(ctx, status=status), new_delivery(ctx, handler_id="other")])

    await store.collect("mem", [event("x")], plan)
    await store.collect("cpu", [event("a"), event("b"), event("held1"), event("c")], plan)
    assert counts == [0, 0, 1, 2, 2]
    await store.collect("cpu", [event("d")], plan)
    assert counts[-1] == 3


async def test_the_notification_count_stops_at_its_limit_and_its_window(
        store: Store) -> None:
    for i in range(5):
        await store.collect("cpu", [event(f"e{i}")], one_delivery)
    seen: list[tuple[int, int]] = []

    def plan(ctx: Collecting) -> Plan:
        seen.append((ctx.notifications("h", ctx.now - 60, 3),
                     ctx.notifications("h", ctx.now + 1, 100)))
        return Plan()

    await store.collect("cpu", [event("x")], plan)
    assert seen == [(3, 0)]


async def test_unknown_topic_has_no_state_and_no_events(store: Store) -> None:
    assert await store.topic("nope") is None
    assert await store.events("nope", Level.OK) is None
    assert await store.event("nope", "a") is None


async def test_ensure_topic_makes_an_empty_ok_topic(store: Store) -> None:
    await store.ensure_topic("cpu")
    await store.ensure_topic("cpu")
    assert await store.topics() == [TopicState("cpu", Level.OK, 0)]
    assert await store.events("cpu", Level.OK) == []


async def test_topics_are_sorted_by_id(store: Store) -> None:
    for topic in ("mem", "cpu", "main:task:alert2", "disk"):
        await store.collect(topic, [event()], no_delivery)
    assert [t.id for t in await store.topics()] == ["cpu", "disk", "main:task:alert2", "mem"]


async def test_delete_topic_deletes_its_events_but_not_its_handlers(store: Store) -> None:
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

async def test_claim_leases_oldest_first_up_to_the_limit(store: Store) -> None:
    ids = (await enqueue(store, 3, topic="cpu", alert="cpu:host=a")
           + await enqueue(store, 3, topic="mem", alert="mem:host=a"))
    first = await claim(store, later(), 2)
    assert [d.id for d in first] == ids[:2]
    assert all(d.status is DeliveryStatus.SENDING and d.attempts == 1 for d in first)
    # cpu's alert's third waits behind its two leased elders; mem's alert is free to go.
    assert [d.id for d in await claim(store, later(), 10)] == ids[3:]
    assert await claim(store, later(), 10) == []


async def test_an_alert_waits_behind_its_earlier_delivery(store: Store) -> None:
    ids = await enqueue(store, 3, alert="cpu:host=a")
    [head] = await claim(store, later(), 1)
    await store.mark_failed(head.id, "HTTP 503", later() + 60, later())

    assert await claim(store, later(), 10) == []
    assert [d.id for d in await claim(store, later() + 61, 10)] == ids


async def test_order_is_kept_per_alert_so_other_alerts_of_the_handler_go_on(
        store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        return Plan([new_delivery(ctx, handler_id="oncall")])

    await store.collect("cpu", [event("a", Level.CRITICAL), event("b", Level.CRITICAL),
                                event("a", Level.OK)], plan)
    a1, b1, a2 = sorted(d.id for d in await store.deliveries(DeliveryFilter()))
    [head] = await claim(store, later(), 1)
    assert head.id == a1
    # a's recovery waits behind a's alert in flight; b is another alert of the same handler.
    assert [d.id for d in await claim(store, later())] == [b1]
    await store.mark_sent(b1, "r", None, later())
    await store.mark_failed(a1, "HTTP 503", later() + 60, later())
    assert await claim(store, later()) == []
    assert [d.id for d in await claim(store, later() + 61)] == [a1, a2]


async def test_leased_deliveries_come_back_only_when_the_lease_expires(
        store: Store) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    assert [d.id for d in await claim(store, now, 10)] == [delivery_id]
    assert await claim(store, now + LEASE - 1, 10) == []
    [again] = await claim(store, now + LEASE + 1, 10)
    assert (again.id, again.attempts) == (delivery_id, 2)


async def test_claim_takes_only_the_kinds_asked_for(store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        return Plan([new_delivery(ctx, handler_id="p", kind="pushover"),
                     new_delivery(ctx, handler_id="w", kind="post")])

    await store.collect("cpu", [event("a")], plan)
    [post] = await claim(store, later(), kinds=("post",))
    assert (post.kind, post.handler_id) == ("post", "w")
    assert await claim(store, later(), kinds=()) == []
    [push] = await claim(store, later(), kinds=("post", "pushover"))
    assert push.kind == "pushover"


async def test_a_reopened_store_frees_the_leases_a_dead_run_held(backend: Backend) -> None:
    first = backend.make()
    assert await first.open() == 0
    [delivery_id] = await enqueue(first, 1)
    await claim(first, later())  # ... and the daemon dies mid-send
    await first.close()

    second = backend.make()
    try:
        assert await second.open() == 1
        [again] = await claim(second, later())  # now, not after the lease
        assert (again.id, again.attempts) == (delivery_id, 2)
        assert again.last_error == "interrupted: the daemon stopped during the send"
    finally:
        await second.close()


async def test_nothing_is_claimed_before_it_is_due(store: Store) -> None:
    await enqueue(store, 1)
    assert await claim(store, time.time() - 60, 10) == []


async def test_mark_sent_records_the_receipt_and_finishes_the_delivery(
        store: Store) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    await claim(store, now, 1)
    await store.mark_sent(delivery_id, "req-1", "no active devices", now)
    sent = await store.delivery(delivery_id)
    assert sent is not None
    assert (sent.status, sent.sent_at, sent.request_id, sent.info, sent.attempts) == (
        DeliveryStatus.SENT, now, "req-1", "no active devices", 1)
    assert await claim(store, now + LEASE + 1, 10) == []


async def test_mark_failed_retries_at_the_given_time(store: Store) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    await claim(store, now, 1)
    await store.mark_failed(delivery_id, "HTTP 503", now + 60, now)
    failed = await store.delivery(delivery_id)
    assert failed is not None
    assert (failed.status, failed.last_error, failed.next_attempt_at) == (
        DeliveryStatus.FAILED, "HTTP 503", now + 60)
    assert await claim(store, now + 59, 10) == []
    [retry] = await claim(store, now + 61, 10)
    assert (retry.id, retry.attempts) == (delivery_id, 2)


async def test_mark_dead_stops_retries_until_requeued(store: Store) -> None:
    ids = await enqueue(store, 2)
    now = later()
    await claim(store, now)
    for delivery_id in ids:
        await store.mark_dead(delivery_id, "user key invalid", now)
    assert await claim(store, now + 3600) == []
    assert await requeue(store, now, delivery_id=ids[0]) == 1
    requeued = await store.delivery(ids[0])
    assert requeued is not None
    assert (requeued.status, requeued.attempts) == (DeliveryStatus.PENDING, 0)
    assert [d.id for d in await claim(store, now + 1)] == [ids[0]]
    assert await requeue(store, now, delivery_id=ids[0]) == 0  # in flight now


async def test_requeue_keeps_created_records_when_and_readdresses(store: Store) -> None:
    [delivery_id] = await enqueue(store, 1)
    before = await store.delivery(delivery_id)
    assert before is not None and before.requeued_at is None
    now = later(10)
    await claim(store, now)
    await store.mark_dead(delivery_id, "user key invalid", now)

    def readdress(d: Delivery) -> dict[str, Any]:
        return {**d.payload, "user": "new-key"}

    assert await requeue(store, now + 5, delivery_id=delivery_id, readdress=readdress) == 1
    after = await store.delivery(delivery_id)
    assert after is not None
    assert (after.created_at, after.requeued_at, after.age_basis) == (
        before.created_at, now + 5, now + 5)
    assert after.payload == {"message": before.payload["message"], "user": "new-key"}
    assert after.next_attempt_at == now + 5


async def test_requeue_takes_failed_deliveries_waiting_for_a_retry_but_not_sent_ones(
        store: Store) -> None:
    waiting, sent, pending = await enqueue(store, 3)
    now = later()
    await claim(store, now, 2)
    await store.mark_failed(waiting, "HTTP 503", now + 3600, now)
    await store.mark_sent(sent, "r", None, now)
    assert await requeue(store, now, delivery_id=sent) == 0
    assert await requeue(store, now, delivery_id=pending) == 0
    assert await requeue(store, now + 1, topic="cpu", handler_id="h") == 1
    assert [d.id for d in await claim(store, now + 2)] == [waiting, pending]


async def test_requeue_can_be_narrowed_to_a_kind_and_to_waiting_deliveries(
        store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        return Plan([new_delivery(ctx, handler_id=ctx.event.id, kind=ctx.event.message)])

    await store.collect("cpu", [Event("a", Level.OK, "pushover"), Event("b", Level.OK, "post"),
                                Event("c", Level.OK, "pushover")], plan)
    a, b, c = sorted(d.id for d in await store.deliveries(DeliveryFilter()))
    now = later()
    await claim(store, now, kinds=("pushover", "post"))
    for failed in (a, b):
        await store.mark_failed(failed, "HTTP 503", now + 3600, now)
    await store.mark_dead(c, "refused", now)
    waiting = (DeliveryStatus.FAILED,)
    assert await requeue(store, now, kind="pushover", statuses=waiting) == 1
    assert await requeue(store, now, statuses=(DeliveryStatus.SENT,)) == 0  # never re-sent
    by_id = {d.id: d.status for d in await store.deliveries(DeliveryFilter())}
    assert by_id == {a: DeliveryStatus.PENDING, b: DeliveryStatus.FAILED,
                     c: DeliveryStatus.DEAD}
    listed = await store.deliveries(DeliveryFilter(kind="post"))
    assert [d.id for d in listed] == [b]


async def test_requeue_by_topic_and_handler(store: Store) -> None:
    cpu = await enqueue(store, 2, "cpu")
    mem = await enqueue(store, 1, "mem")
    now = later()
    await claim(store, now)
    for delivery_id in cpu + mem:
        await store.mark_dead(delivery_id, "x", now)
    assert await requeue(store, now, topic="cpu", handler_id="other") == 0
    assert await requeue(store, now, topic="cpu", handler_id="h") == 2
    dead = await store.deliveries(DeliveryFilter(statuses=(DeliveryStatus.DEAD,)))
    assert [d.id for d in dead] == mem


async def test_release_returns_unattempted_deliveries_uncounted(store: Store) -> None:
    first, second = await enqueue(store, 2)
    now = later()
    await claim(store, now, 10)
    await store.mark_failed(second, "HTTP 500", now, now)
    await claim(store, now + 1, 10)  # ``second``'s retry: attempts 2
    await store.release([first, second], now + 1)
    released = {d.id: d for d in await store.deliveries(DeliveryFilter())}
    assert (released[first].status, released[first].attempts) == (DeliveryStatus.PENDING, 0)
    assert (released[second].status, released[second].attempts) == (DeliveryStatus.FAILED, 1)
    assert [d.id for d in await claim(store, now + 2, 10)] == [first, second]


async def test_release_leaves_finished_deliveries_alone(store: Store) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    await claim(store, now, 1)
    await store.mark_sent(delivery_id, "r", None, now)
    await store.release([delivery_id], now)
    sent = await store.delivery(delivery_id)
    assert sent is not None and sent.status is DeliveryStatus.SENT


async def test_stats_counts_every_status_and_the_oldest_waiting(store: Store) -> None:
    empty = await store.stats()
    assert empty.counts == {s.value: 0 for s in DeliveryStatus}
    assert empty.oldest_pending_at is None
    before = time.time()
    ids = await enqueue(store, 4)
    now = later()
    await claim(store, now, 3)
    await store.mark_sent(ids[0], "r", None, now)
    await store.mark_dead(ids[1], "x", now)
    stats = await store.stats()
    assert stats.counts == {**empty.counts, "pending": 1, "sending": 1, "sent": 1, "dead": 1}
    assert stats.oldest_pending_at is not None and before <= stats.oldest_pending_at <= now


async def test_prune_deletes_only_finished_deliveries_older_than_the_cutoff(
        store: Store) -> None:
    ids = await enqueue(store, 4)
    now = later()
    await claim(store, now, 2)
    await store.mark_sent(ids[0], "r", None, now)
    await store.mark_dead(ids[1], "x", now)
    assert await store.prune(now) == 0  # updated exactly at the cutoff: kept
    assert await store.prune(now + 1) == 2
    assert sorted(d.id for d in await store.deliveries(DeliveryFilter())) == ids[2:]


async def test_flush_coalesced_links_each_handlers_held_deliveries_to_one_summary(
        store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        return Plan([new_delivery(ctx, handler_id=h, status=DeliveryStatus.COALESCED)
                     for h in ("a", "b")])

    before = time.time()
    await store.collect("cpu", [event("e1"), event("e2", Level.WARNING),
                                event("e3")], plan)
    seen: list[HeldGroup] = []

    def summarize(held: HeldGroup, now: float) -> NewDelivery | None:
        seen.append(held)
        if held.handler_id == "b":
            return None  # not due yet
        return NewDelivery(topic=held.topic, handler_id=held.handler_id, kind="pushover",
                           event_id=held.latest.event_id, level=Level.CRITICAL,
                           payload={"message": "3 more"}, summarizes=held.count)

    assert await store.flush_coalesced(later(), summarize) == 1
    a, b = seen
    assert (a.topic, a.handler_id, a.count, b.handler_id) == ("cpu", "a", 3, "b")
    assert a.by_level == {Level.CRITICAL: 2, Level.WARNING: 1}
    assert (a.latest.event_id, a.latest.handler_id) == ("e3", "a")
    assert before <= a.first_created_at <= time.time()
    [summary] = [d for d in await store.deliveries(DeliveryFilter()) if d.summarizes]
    assert (summary.handler_id, summary.status, summary.summarizes) == (
        "a", DeliveryStatus.PENDING, 3)
    held = await store.deliveries(DeliveryFilter(handler_id="a",
                                                 statuses=(DeliveryStatus.COALESCED,)))
    assert {d.summary_id for d in held} == {summary.id}
    seen.clear()
    assert await store.flush_coalesced(later(), summarize) == 0
    assert [g.handler_id for g in seen] == ["b"]  # a's are summarised once
    assert await store.prune(later(60)) == 3  # summarised ones are finished; b's are not


async def test_a_delivery_held_after_the_flush_read_waits_for_the_next_summary(
        store: Store) -> None:
    def hold(ctx: Collecting) -> Plan:
        return Plan([new_delivery(ctx, status=DeliveryStatus.COALESCED)])

    await store.collect("cpu", [event("e1")], hold)
    summaries: list[int] = []

    def summarize(held: HeldGroup, now: float) -> NewDelivery | None:
        summaries.append(held.count)
        return NewDelivery(topic=held.topic, handler_id=held.handler_id, kind="pushover",
                           event_id=held.latest.event_id, level=Level.CRITICAL,
                           payload={"message": "summary"}, summarizes=held.count)

    assert await store.flush_coalesced(later(), summarize) == 1
    await store.collect("cpu", [event("e2")], hold)
    assert await store.flush_coalesced(later(), summarize) == 1
    assert summaries == [1, 1]  # each held delivery in exactly one summary


async def test_a_receipt_makes_an_outstanding_emergency_due_a_check_at_once(
        store: Store) -> None:
    emergency, plain = await enqueue(store, 2)
    now = later()
    await claim(store, now)
    await store.mark_sent(emergency, "r1", None, now, receipt="R" * 30)
    await store.mark_sent(plain, "r2", None, now)
    [due] = await store.receipts_due(now, 10)
    assert (due.id, due.receipt, due.receipt_state, due.receipt_check_at) == (
        emergency, "R" * 30, ReceiptState.OUTSTANDING, now)
    assert (await store.delivery(plain)).receipt_state is None  # type: ignore[union-attr]
    assert await store.receipts_due(now - 1, 10) == []
    stats = await store.stats()
    assert (stats.outstanding_receipts, stats.oldest_outstanding_at) == (1, now)


async def test_a_receipt_check_records_the_next_check_or_the_outcome(store: Store) -> None:
    [delivery_id] = await enqueue(store, 1)
    now = later()
    await claim(store, now)
    await store.mark_sent(delivery_id, "r", None, now, receipt="R" * 30)
    waiting = ReceiptUpdate(ReceiptState.OUTSTANDING, next_check_at=now + 30)
    assert await store.record_receipt(delivery_id, waiting, now) is True
    assert await store.receipts_due(now + 29, 10) == []
    assert [d.id for d in await store.receipts_due(now + 30, 10)] == [delivery_id]

    acked = ReceiptUpdate(ReceiptState.ACKNOWLEDGED, acknowledged_at=now + 40,
                          acknowledged_by="alice", acknowledged_by_device="phone")
    assert await store.record_receipt(delivery_id, acked, now + 41) is True
    shown = await store.delivery(delivery_id)
    assert shown is not None
    assert (shown.receipt_state, shown.acknowledged_at, shown.acknowledged_by,
            shown.acknowledged_by_device) == (ReceiptState.ACKNOWLEDGED, now + 40, "alice",
                                              "phone")
    assert await store.receipts_due(now + 3600, 10) == []
    assert (await store.stats()).outstanding_receipts == 0
    # A late answer (a lost callback, say) changes nothing once the outcome is known.
    late = ReceiptUpdate(ReceiptState.EXPIRED)
    assert await store.record_receipt(delivery_id, late, now + 50) is False
    assert (await store.delivery(delivery_id)).receipt_state is ReceiptState.ACKNOWLEDGED  # type: ignore[union-attr]


async def test_receipts_due_come_longest_waiting_first_up_to_the_limit(store: Store) -> None:
    ids = await enqueue(store, 3)
    now = later()
    await claim(store, now)
    for n, delivery_id in enumerate(ids):
        await store.mark_sent(delivery_id, "r", None, now, receipt=f"{n}" * 30)
        await store.record_receipt(delivery_id, ReceiptUpdate(
            ReceiptState.OUTSTANDING, next_check_at=now + 10 - n), now)
    assert [d.id for d in await store.receipts_due(now + 10, 2)] == [ids[2], ids[1]]


async def test_the_planner_sees_its_handlers_last_notification_about_the_alert(
        store: Store) -> None:
    seen: list[tuple[str, str | None]] = []

    def plan(ctx: Collecting) -> Plan:
        last = ctx.last_notification("h")
        seen.append((ctx.event.id, last.payload["message"] if last else None))
        status = DeliveryStatus.SUPPRESSED if ctx.event.message == "quiet" else (
            DeliveryStatus.PENDING)
        return Plan([new_delivery(ctx, status=status),
                     NewDelivery(topic=ctx.topic, handler_id="h", kind="pushover",
                                 event_id=ctx.event.id, level=ctx.event.level,
                                 payload={"message": "control"}, control=True)])

    await store.collect("cpu", [Event("a", Level.CRITICAL, "first"),
                                Event("b", Level.CRITICAL, "other alert"),
                                Event("a", Level.CRITICAL, "quiet")], plan)
    await store.collect("cpu", [Event("a", Level.OK, "recovered")], plan)
    # Suppressed and control deliveries are not notifications; the same request's count.
    assert seen == [("a", None), ("b", None), ("a", "first"), ("a", "first")]


async def test_the_planner_sees_what_of_the_alert_is_unfinished(store: Store) -> None:
    await store.collect("cpu", [event("a"), event("a"), event("a"), event("b")], one_delivery)
    sent, followed, pending, other = sorted(d.id for d in await store.deliveries(
        DeliveryFilter()))
    now = later()
    await claim(store, now, 2)
    await store.mark_sent(sent, "r", None, now)
    await store.mark_sent(followed, "r", None, now, receipt="F" * 30)
    seen: list[list[int]] = []

    def plan(ctx: Collecting) -> Plan:
        seen.append([d.id for d in ctx.unfinished("h")])
        return Plan()

    await store.collect("cpu", [event("a"), event("b")], plan)
    assert seen == [[followed, pending], [other]]


async def test_a_sent_control_delivery_closes_its_alerts_earlier_receipts(store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        return Plan([NewDelivery(topic=ctx.topic, handler_id="h", kind="pushover",
                                 event_id=ctx.event.id, level=ctx.event.level,
                                 payload={"message": ctx.event.message},
                                 control=ctx.event.message == "cancel")])

    await store.collect("cpu", [Event("a", Level.CRITICAL, "emergency"),
                                Event("b", Level.CRITICAL, "other alert"),
                                Event("a", Level.OK, "cancel")], plan)
    emergency, other, cancel = sorted(d.id for d in await store.deliveries(DeliveryFilter()))
    now = later()
    await claim(store, now)
    await store.mark_sent(emergency, "r", None, now, receipt="E" * 30)
    await store.mark_sent(other, "r", None, now, receipt="O" * 30)
    await store.mark_sent(cancel, None, "cancelled 1", now)
    states = {d.id: d.receipt_state for d in await store.deliveries(DeliveryFilter())}
    assert states == {emergency: ReceiptState.CANCELLED, other: ReceiptState.OUTSTANDING,
                      cancel: None}
    assert [d.id for d in await store.receipts_due(now + 1, 10)] == [other]
    assert (await store.delivery(cancel)).control is True  # type: ignore[union-attr]


async def test_suppressed_deliveries_are_finished_and_not_notifications(store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        return Plan([new_delivery(ctx, status=DeliveryStatus.SUPPRESSED)])

    await store.collect("cpu", [event("a")], plan)
    counts: list[int] = []

    def count(ctx: Collecting) -> Plan:
        counts.append(ctx.notifications("h", ctx.now - 60, 10))
        return Plan()

    await store.collect("cpu", [event("b")], count)
    assert counts == [0]
    assert await claim(store, later()) == []
    assert await store.prune(later(60)) == 1


async def test_deliveries_can_be_listed_by_recipient_and_by_acknowledgement(
        store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        return Plan([NewDelivery(topic=ctx.topic, handler_id="h", kind="pushover",
                                 event_id=ctx.event.id, level=ctx.event.level,
                                 payload={"message": ctx.event.message,
                                          "recipient": ctx.event.message})])

    await store.collect("cpu", [Event("a", Level.CRITICAL, "alice"),
                                Event("b", Level.CRITICAL, "bob"),
                                Event("c", Level.CRITICAL, "carol")], plan)
    alice, bob, carol = sorted(d.id for d in await store.deliveries(DeliveryFilter()))
    now = later()
    await claim(store, now)
    await store.mark_sent(alice, "r", None, now, receipt="A" * 30)
    await store.mark_sent(bob, "r", None, now, receipt="B" * 30)
    await store.mark_sent(carol, "r", None, now)  # not an emergency
    await store.record_receipt(alice, ReceiptUpdate(ReceiptState.ACKNOWLEDGED), now)
    assert [d.id for d in await store.deliveries(DeliveryFilter(recipient="bob"))] == [bob]
    assert [d.id for d in await store.deliveries(DeliveryFilter(acknowledged=True))] == [alice]
    assert [d.id for d in await store.deliveries(DeliveryFilter(acknowledged=False))] == [bob]


async def test_deliveries_are_listed_newest_first_and_filtered(store: Store) -> None:
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


async def test_unknown_delivery_is_none(store: Store) -> None:
    assert await store.delivery(12345) is None


# Handler specs ----------------------------------------------------------------------------------

async def test_create_handler_stores_the_spec_and_makes_its_topic(store: Store) -> None:
    spec = HandlerSpec("cpu", "h", "pushover", {"sound": "siren", "nested": {"a": [1]}})
    await store.create_handler(spec, "/etc/handlers/h.yaml")
    await store.create_handler(HandlerSpec("cpu", "bare", "pushover"), None)
    assert await store.load_handlers() == [
        (HandlerSpec("cpu", "bare", "pushover", None), None),
        (spec, "/etc/handlers/h.yaml")]
    assert await store.topic("cpu") == TopicState("cpu", Level.OK, 0)


async def test_handler_ids_are_unique_per_topic(store: Store) -> None:
    await store.create_handler(HandlerSpec("cpu", "h", "pushover"), None)
    await store.create_handler(HandlerSpec("mem", "h", "pushover"), None)  # another topic: fine
    with pytest.raises(Conflict, match='handler with ID "h" already exists'):
        await store.create_handler(HandlerSpec("cpu", "h", "pushover", {"x": "y"}), None)
    assert len(await store.load_handlers()) == 2


async def test_replace_handler_replaces_and_can_rename(store: Store) -> None:
    await store.create_handler(HandlerSpec("cpu", "h", "pushover"), "/f.yaml")
    await store.replace_handler("cpu", "h", HandlerSpec("cpu", "h", "pushover", {"a": "b"}),
                                "/f.yaml")
    await store.replace_handler("cpu", "h", HandlerSpec("cpu", "renamed", "pushover"), None)
    assert await store.load_handlers() == [(HandlerSpec("cpu", "renamed", "pushover"), None)]


async def test_replace_handler_refuses_unknown_ids_and_taken_names(store: Store) -> None:
    await store.create_handler(HandlerSpec("cpu", "a", "pushover"), None)
    await store.create_handler(HandlerSpec("cpu", "b", "pushover"), None)
    with pytest.raises(NotFound, match='unknown handler: "zzz"'):
        await store.replace_handler("cpu", "zzz", HandlerSpec("cpu", "zzz", "pushover"), None)
    with pytest.raises(Conflict, match='handler with ID "b" already exists'):
        await store.replace_handler("cpu", "a", HandlerSpec("cpu", "b", "pushover"), None)
    assert [s.id for s, _ in await store.load_handlers()] == ["a", "b"]


async def test_every_handler_change_moves_the_revision(store: Store) -> None:
    seen = [await store.handlers_revision()]
    await store.create_handler(HandlerSpec("cpu", "h", "pushover"), None)
    seen.append(await store.handlers_revision())
    await store.replace_handler("cpu", "h", HandlerSpec("cpu", "h", "pushover", {"a": 1}), None)
    seen.append(await store.handlers_revision())
    await store.delete_handler("cpu", "h")
    seen.append(await store.handlers_revision())
    assert len(set(seen)) == 4
    await store.delete_handler("cpu", "h")  # nothing deleted: nothing changed
    await store.collect("cpu", [event()], no_delivery)
    assert await store.handlers_revision() == seen[-1]


async def test_delete_handler_says_whether_it_existed(store: Store) -> None:
    await store.create_handler(HandlerSpec("cpu", "h", "pushover"), None)
    assert await store.delete_handler("cpu", "h") is True
    assert await store.delete_handler("cpu", "h") is False
    assert await store.load_handlers() == []
    assert await store.topic("cpu") is not None  # deleting a handler never deletes its topic


# Publishing and aggregates ---------------------------------------------------------------

def publish_to(*topics: str, deliver_on: str = "") -> Any:
    """A planner: events on ``cpu`` are published to ``topics``; one delivery per event on
    ``deliver_on``."""
    def plan(ctx: Collecting) -> Plan:
        published = [Published(t, ctx.event) for t in topics] if ctx.topic == "cpu" else []
        return Plan([new_delivery(ctx)] if ctx.topic == deliver_on else [],
                    published=published)
    return plan


def hold_on(topic: str) -> Any:
    """A planner: handler ``agg`` holds every event on ``topic``; deliveries elsewhere."""
    def plan(ctx: Collecting) -> Plan:
        if ctx.topic == topic:
            return Plan(held=[Held("agg", ctx.event)])
        return one_delivery(ctx)
    return plan


def summed(events: Any) -> Published:
    ids = ",".join(e.id for e in events)
    return Published("out", Event(id="agg", level=max(e.level for e in events), message=ids))


async def test_a_published_event_is_collected_into_each_topic_in_the_same_ingest(
        store: Store) -> None:
    seen: list[tuple[str, Level, int]] = []
    plan = publish_to("mem", "disk", deliver_on="disk")

    def record(ctx: Collecting) -> Plan:
        seen.append((ctx.topic, ctx.previous, ctx.hops))
        return plan(ctx)

    await store.collect("mem", [event("a", Level.WARNING)], no_delivery)
    collected = await store.collect("cpu", [event("a", Level.CRITICAL)], record)
    assert collected.enqueued == 1
    # Each topic has its own previous level for the event; hops count the publishes.
    assert seen == [("cpu", Level.OK, 0), ("mem", Level.WARNING, 1), ("disk", Level.OK, 1)]
    assert [t.id for t in await store.topics()] == ["cpu", "disk", "mem"]
    assert await store.topic("disk") == TopicState("disk", Level.CRITICAL, 1)
    assert await store.topic("mem") == TopicState("mem", Level.CRITICAL, 2)
    [delivery] = await store.deliveries(DeliveryFilter())
    assert (delivery.topic, delivery.event_id) == ("disk", "a")


async def test_a_published_event_new_to_a_topic_keeps_the_previous_level_it_brings(
        store: Store) -> None:
    seen: list[tuple[str, Level]] = []

    def plan(ctx: Collecting) -> Plan:
        seen.append((ctx.topic, ctx.previous))
        return Plan(published=[Published("ops", ctx.event, Level.INFO)] if ctx.topic == "cpu"
                    else [])

    await store.collect("cpu", [event("a"), event("a", Level.WARNING)], plan)
    assert seen == [("cpu", Level.OK), ("ops", Level.INFO),
                    ("cpu", Level.CRITICAL), ("ops", Level.CRITICAL)]
    state = await store.event("ops", "a")
    assert state is not None and state.previous_level is Level.CRITICAL


async def test_a_planner_failing_on_a_published_topic_leaves_nothing_anywhere(
        store: Store) -> None:
    def plan(ctx: Collecting) -> Plan:
        if ctx.topic == "mem":
            raise RuntimeError("planner failed")
        return Plan([new_delivery(ctx)], published=[Published("mem", ctx.event)])

    with pytest.raises(RuntimeError):
        await store.collect("cpu", [event("a")], plan)
    assert await store.topics() == []
    assert await store.deliveries(DeliveryFilter()) == []


async def test_held_events_are_collected_as_one_aggregate_and_forgotten(store: Store) -> None:
    await store.collect("agg", [event("a", Level.WARNING), event("b")], hold_on("agg"))
    await store.collect("agg", [event("c", Level.INFO)], hold_on("agg"))
    assert await store.deliveries(DeliveryFilter()) == []  # held, not delivered

    collected = await store.flush_aggregate("agg", "agg", summed, one_delivery)
    assert collected is not None and collected.enqueued == 1
    state = await store.event("out", "agg")
    assert state is not None and (state.message, state.level) == ("a,b,c", Level.CRITICAL)
    [delivery] = await store.deliveries(DeliveryFilter())
    assert (delivery.topic, delivery.event_id) == ("out", "agg")
    assert await store.flush_aggregate("agg", "agg", summed, one_delivery) is None


async def test_held_events_belong_to_their_handler(store: Store) -> None:
    await store.collect("agg", [event("a")], hold_on("agg"))
    assert await store.flush_aggregate("agg", "other", summed, one_delivery) is None
    assert await store.flush_aggregate("elsewhere", "agg", summed, one_delivery) is None
    assert await store.flush_aggregate("agg", "agg", summed, one_delivery) is not None


async def test_a_failing_aggregate_keeps_the_held_events(store: Store) -> None:
    def explode(ctx: Collecting) -> Plan:
        raise RuntimeError("planner failed")

    await store.collect("agg", [event("a")], hold_on("agg"))
    with pytest.raises(RuntimeError):
        await store.flush_aggregate("agg", "agg", summed, explode)
    assert await store.topic("out") is None
    collected = await store.flush_aggregate("agg", "agg", summed, no_delivery)
    assert collected is not None
    state = await store.event("out", "agg")
    assert state is not None and state.message == "a"


async def test_held_events_follow_a_rename_and_go_with_their_handler(store: Store) -> None:
    await store.create_handler(HandlerSpec("agg", "agg", "aggregate", {}), None)
    await store.create_handler(HandlerSpec("agg", "gone", "aggregate", {}), None)
    await store.collect("agg", [event("a")], lambda ctx: Plan(
        held=[Held("agg", ctx.event), Held("gone", ctx.event)]))
    await store.replace_handler("agg", "agg", HandlerSpec("agg", "renamed", "aggregate", {}),
                                None)
    await store.delete_handler("agg", "gone")
    assert await store.flush_aggregate("agg", "agg", summed, no_delivery) is None
    assert await store.flush_aggregate("agg", "gone", summed, no_delivery) is None
    assert await store.flush_aggregate("agg", "renamed", summed, no_delivery) is not None


# Durability -----------------------------------------------------------------------------

async def test_a_reopened_store_keeps_everything(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    await first.create_handler(HandlerSpec("cpu", "h", "pushover", {"sound": "siren"}), "/f")
    await first.collect("cpu", [event("a", Level.WARNING, time_ns=1_700_000_000_123_456_789)],
                        one_delivery)
    held = event("b", Level.INFO, time_ns=2**70, duration_ns=5, details="d",
                 data={"series": [{"name": "cpu"}]}, previous_level=Level.WARNING,
                 recoverable=False)
    await first.collect("agg", [held], hold_on("agg"))
    await first.close()

    second = backend.make()
    await second.open()  # SQLite: migrations are not applied twice
    try:
        assert await second.load_handlers() == [
            (HandlerSpec("cpu", "h", "pushover", {"sound": "siren"}), "/f")]
        assert await second.topic("cpu") == TopicState("cpu", Level.WARNING, 1)
        state = await second.event("cpu", "a")
        assert state is not None and state.time_ns == 1_700_000_000_123_456_789
        [delivery] = await second.deliveries(DeliveryFilter())
        assert (delivery.event_id, delivery.status) == ("a", DeliveryStatus.PENDING)
        kept: list[Event] = []
        await second.flush_aggregate("agg", "agg", lambda e: kept.extend(e) or summed(e),
                                     no_delivery)
        assert kept == [held]  # an aggregate's held events survive a restart, exactly
    finally:
        await second.close()


async def test_a_closed_store_refuses_writes(backend: Backend) -> None:
    s = backend.make()
    await s.open()
    await s.close()
    with pytest.raises(StoreError, match="closed"):
        await s.ensure_topic("cpu")



# Config overrides ---------------------------------------------------------------------------

async def test_config_overrides_start_empty(store: Store) -> None:
    assert await store.config_overrides() == []


async def test_config_override_is_stored_replaced_and_listed_by_id(store: Store) -> None:
    await store.set_config_override(ConfigOverride("pushover/", {"token": "t1", "enabled": True}))
    await store.set_config_override(ConfigOverride(
        "httppost/alerts", {"endpoint": "alerts", "url": "http://h.example/x",
                            "headers": {"X-A": "1"}, "basic-auth": {"username": "u"}},
        create=True))
    await store.set_config_override(ConfigOverride("pushover/", {"token": "t2"}))
    assert await store.config_overrides() == [
        ConfigOverride("httppost/alerts", {"endpoint": "alerts", "url": "http://h.example/x",
                                           "headers": {"X-A": "1"},
                                           "basic-auth": {"username": "u"}}, create=True),
        ConfigOverride("pushover/", {"token": "t2"}),
    ]


async def test_config_override_delete_says_whether_it_existed(store: Store) -> None:
    await store.set_config_override(ConfigOverride("pushover/", {"url": "http://p.example/"}))
    assert await store.delete_config_override("pushover/") is True
    assert await store.delete_config_override("pushover/") is False
    assert await store.config_overrides() == []


async def test_config_overrides_survive_a_restart(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    override = ConfigOverride("pushover/", {"token": "t", "user-key": "u", "enabled": True})
    await first.set_config_override(override)
    await first.close()
    second = backend.make()
    await second.open()
    try:
        assert await second.config_overrides() == [override]
    finally:
        await second.close()


async def test_config_override_options_are_not_shared_with_the_caller(store: Store) -> None:
    options: dict[str, Any] = {"headers": {"A": "1"}}
    await store.set_config_override(ConfigOverride("httppost/e", options))
    options["headers"]["A"] = "changed"
    (stored,) = await store.config_overrides()
    assert stored.options == {"headers": {"A": "1"}}
