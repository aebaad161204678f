"""Following emergencies up: each outstanding receipt is checked with Pushover until it is
acknowledged (by whom, masked), expires, or Pushover no longer knows it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from tests.conftest import OTHER_USER, TOKEN, USER
from tests.fakes.pushover import FakePushover

from pushoverd.handlers.pushover.directory import Recipient
from pushoverd.handlers.pushover.receipts import ReceiptPoller, mask, who
from pushoverd.handlers.pushover.transport import LocalTransport
from pushoverd.models import DeliveryFilter, Event, Level, NewDelivery, ReceiptState
from pushoverd.pushover.client import PushoverClient
from pushoverd.pushover.message import Message
from pushoverd.store.base import Collecting, Plan
from pushoverd.store.memory import MemoryStore

INTERVAL = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client(fake: FakePushover) -> AsyncIterator[PushoverClient]:
    async with PushoverClient(fake.url, TOKEN, USER) as c:
        yield c


async def emergency(store: MemoryStore, client: PushoverClient, clock: Clock) -> int:
    """An emergency sent for real (the fake issues its receipt), recorded as sent."""
    def plan(ctx: Collecting) -> Plan:
        return Plan([NewDelivery(topic="cpu", handler_id="oncall", kind="pushover",
                                 event_id=ctx.event.id, level=ctx.event.level,
                                 payload={"message": "a is CRITICAL"})])

    await store.collect("cpu", [Event("cpu:host=a", Level.CRITICAL)], plan)
    [delivery] = await store.deliveries(DeliveryFilter(limit=1))
    sent = await client.send(Message.build("a is CRITICAL", priority=2, retry=60, expire=300,
                                           tags="pdtag"))
    await store.claim(clock(), 1, 60, ["pushover"])
    await store.mark_sent(delivery.id, sent.request_id, None, clock(), sent.receipt)
    return delivery.id


@pytest.fixture
async def rig(client: PushoverClient) -> tuple[MemoryStore, ReceiptPoller, Clock]:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await store.open()
    return store, ReceiptPoller(store, LocalTransport(client), INTERVAL, clock=clock), clock


async def test_an_unanswered_receipt_is_checked_again_after_the_interval(
        rig: tuple[MemoryStore, ReceiptPoller, Clock], client: PushoverClient,
        fake: FakePushover) -> None:
    store, poller, clock = rig
    delivery_id = await emergency(store, client, clock)
    assert await poller.poll() == 1  # at once after the send
    waiting = await store.delivery(delivery_id)
    assert waiting is not None and waiting.receipt_state is ReceiptState.OUTSTANDING
    assert waiting.receipt_check_at == clock.now + INTERVAL
    clock.now += INTERVAL - 1
    assert await poller.poll() == 0
    clock.now += 1
    assert await poller.poll() == 1
    assert len(fake.receipt_checks) == 2
    assert all(r.path == f"/1/receipts/{waiting.receipt}.json" for r in fake.receipt_checks)


async def test_an_acknowledgement_is_recorded_with_the_key_masked(
        rig: tuple[MemoryStore, ReceiptPoller, Clock], client: PushoverClient,
        fake: FakePushover) -> None:
    store, poller, clock = rig
    delivery_id = await emergency(store, client, clock)
    [receipt] = fake.receipts
    fake.acknowledge(receipt, OTHER_USER, "iphone")
    await poller.poll()
    acked = await store.delivery(delivery_id)
    assert acked is not None
    assert (acked.receipt_state, acked.acknowledged_by, acked.acknowledged_by_device) == (
        ReceiptState.ACKNOWLEDGED, mask(OTHER_USER), "iphone")
    assert acked.acknowledged_at is not None
    clock.now += 3600
    assert await poller.poll() == 0  # never checked again
    assert (await store.stats()).outstanding_receipts == 0


async def test_an_expired_or_forgotten_receipt_is_recorded_as_expired(
        rig: tuple[MemoryStore, ReceiptPoller, Clock], client: PushoverClient,
        fake: FakePushover) -> None:
    store, poller, clock = rig
    expired = await emergency(store, client, clock)
    fake.expire(next(iter(fake.receipts)))
    forgotten = await emergency(store, client, clock)
    with fake._changed:
        fake._receipts.pop(list(fake._receipts)[-1])
    await poller.poll()
    states = {d.id: d.receipt_state for d in await store.deliveries(DeliveryFilter())}
    assert states == {expired: ReceiptState.EXPIRED, forgotten: ReceiptState.EXPIRED}


async def test_a_failed_check_is_tried_again_later(
        rig: tuple[MemoryStore, ReceiptPoller, Clock], client: PushoverClient,
        fake: FakePushover) -> None:
    store, poller, clock = rig
    delivery_id = await emergency(store, client, clock)
    fake.fail_next(1, 503)
    await poller.poll()
    waiting = await store.delivery(delivery_id)
    assert waiting is not None and waiting.receipt_state is ReceiptState.OUTSTANDING
    assert waiting.receipt_check_at == clock.now + INTERVAL


def test_keys_are_masked_to_their_first_and_last_four_characters() -> None:
    assert mask(OTHER_USER) == f"{OTHER_USER[:4]}…{OTHER_USER[-4:]}"
    assert OTHER_USER not in mask(OTHER_USER)
    assert mask("short") == "…"


async def escalating_emergency(store: MemoryStore, clock: Clock, receipt: str) -> int:
    def plan(ctx: Collecting) -> Plan:
        return Plan([NewDelivery(topic="cpu", handler_id="oncall", kind="pushover",
                                 event_id=ctx.event.id, level=ctx.event.level,
                                 payload={"message": "a is CRITICAL", "priority": 2,
                                          "retry": 60, "expire": 300, "tags": "pdtag",
                                          "user": USER, "recipient": "alice",
                                          "escalate": {"after": 300, "to": ["bob"]}})])

    await store.collect("cpu", [Event("cpu:host=a", Level.CRITICAL)], plan)
    [delivery] = await store.deliveries(DeliveryFilter(limit=1))
    await store.claim(clock(), 1, 60, ["pushover"])
    await store.mark_sent(delivery.id, "r", None, clock(), receipt)
    return delivery.id


@pytest.fixture
async def escalation(client: PushoverClient) -> tuple[MemoryStore, ReceiptPoller, Clock,
                                                       list[int]]:
    clock, woken = Clock(), []
    store = MemoryStore(clock=clock)
    await store.open()
    bob = Recipient("bob", OTHER_USER, "tablet")
    poller = ReceiptPoller(store, LocalTransport(client), INTERVAL, clock=clock,
                           directory={"bob": bob}, on_enqueued=lambda: woken.append(1))
    return store, poller, clock, woken


async def test_an_emergency_nobody_answers_is_passed_on_once_after_escalate_after(
        escalation: tuple[MemoryStore, ReceiptPoller, Clock, list[int]],
        client: PushoverClient, fake: FakePushover) -> None:
    store, poller, clock, woken = escalation
    sent = await client.send(Message.build("a", priority=2, retry=60, expire=300))
    source = await escalating_emergency(store, clock, str(sent.receipt))
    await poller.poll()
    assert len(await store.deliveries(DeliveryFilter())) == 1
    clock.now += 300
    await poller.poll()
    first, passed_on = sorted(await store.deliveries(DeliveryFilter()), key=lambda d: d.id)
    assert first.id == source and first.escalated_at == clock.now
    assert (passed_on.payload["user"], passed_on.payload["recipient"],
            passed_on.payload["device"], passed_on.payload["priority"]) == (
        OTHER_USER, "bob", "tablet", 2)
    assert "escalate" not in passed_on.payload  # it does not escalate again
    assert passed_on.payload["recipient_note"] == (f"escalated: delivery {source} was not "
                                                   "acknowledged in time")
    assert woken == [1]
    clock.now += 600
    await poller.poll()
    assert len(await store.deliveries(DeliveryFilter())) == 2


async def test_an_acknowledged_emergency_is_not_escalated(
        escalation: tuple[MemoryStore, ReceiptPoller, Clock, list[int]],
        client: PushoverClient, fake: FakePushover) -> None:
    store, poller, clock, _ = escalation
    sent = await client.send(Message.build("a", priority=2, retry=60, expire=300))
    await escalating_emergency(store, clock, str(sent.receipt))
    fake.acknowledge(str(sent.receipt), USER)
    clock.now += 301
    await poller.poll()
    assert len(await store.deliveries(DeliveryFilter())) == 1


async def test_the_next_check_comes_no_later_than_the_escalation(
        escalation: tuple[MemoryStore, ReceiptPoller, Clock, list[int]],
        client: PushoverClient) -> None:
    store, poller, clock, _ = escalation
    poller._interval = 600.0
    sent = await client.send(Message.build("a", priority=2, retry=60, expire=300))
    source = await escalating_emergency(store, clock, str(sent.receipt))
    await poller.poll()
    waiting = await store.delivery(source)
    assert waiting is not None and waiting.receipt_check_at == waiting.sent_at + 300  # type: ignore[operator]


def test_an_acknowledgement_names_the_recipient_when_the_key_is_one_of_theirs() -> None:

    directory = {"bob": Recipient("bob", OTHER_USER)}
    assert who(OTHER_USER, directory) == "bob"
    assert who(USER, directory) == mask(USER)
    assert who(None, directory) is None


async def test_one_recipients_acknowledgement_stops_the_others_repeats(
        rig: tuple[MemoryStore, ReceiptPoller, Clock], client: PushoverClient,
        fake: FakePushover) -> None:
    store, poller, clock = rig

    def plan(ctx: Collecting) -> Plan:
        return Plan([NewDelivery(topic="cpu", handler_id="oncall", kind="pushover",
                                 event_id="cpu:host=a", level=Level.CRITICAL,
                                 payload={"message": f"to {who}", "priority": 2,
                                          "tags": "pdtag", "recipient": who})
                     for who in ("alice", "bob")])

    await store.collect("cpu", [Event("cpu:host=a", Level.CRITICAL)], plan)
    await store.claim(clock(), 10, 60, ["pushover"])
    alice, bob = sorted(d.id for d in await store.deliveries(DeliveryFilter()))
    receipts = []
    for delivery_id in (alice, bob):
        sent = await client.send(Message.build("m", priority=2, retry=60, expire=300,
                                               tags="pdtag"))
        receipts.append(str(sent.receipt))
        await store.mark_sent(delivery_id, "r", None, clock(), sent.receipt)
    fake.acknowledge(receipts[1], OTHER_USER)  # bob answers
    await poller.poll()
    found = sorted(await store.deliveries(DeliveryFilter()), key=lambda d: d.id)
    assert [(d.control, d.payload.get("cancel")) for d in found] == [
        (False, None), (False, None), (True, "pdtag")]
    clock.now += INTERVAL
    await poller.poll()  # alice's is still outstanding until the cancel is sent: no second one
    assert len(await store.deliveries(DeliveryFilter())) == 3
