"""Acknowledgement callbacks: believed only when the URL's token and the posted receipt name
the same emergency; anything else changes nothing; a repeat is harmless."""

from __future__ import annotations

import pytest
from tests.conftest import OTHER_USER, TOKEN

from pushoverd.handlers.pushover.callback import CallbackReceiver, Callbacks
from pushoverd.models import DeliveryFilter, Event, Level, NewDelivery, ReceiptState
from pushoverd.store.base import Collecting, Plan
from pushoverd.store.memory import MemoryStore

CALLBACKS = Callbacks("https://alerts.example.com/", TOKEN)


def url_for(event_id: str) -> str:
    return CALLBACKS.url("cpu", "oncall", event_id, "CRITICAL", 1_700_000_000)


async def sent_emergency(store: MemoryStore, event_id: str, receipt: str) -> int:
    def plan(ctx: Collecting) -> Plan:
        return Plan([NewDelivery(topic="cpu", handler_id="oncall", kind="pushover",
                                 event_id=event_id, level=Level.CRITICAL,
                                 payload={"message": "m", "priority": 2,
                                          "callback": url_for(event_id)})])

    await store.collect("cpu", [Event(event_id, Level.CRITICAL)], plan)
    [d] = await store.deliveries(DeliveryFilter(limit=1))
    await store.claim(d.created_at + 1, 10, 60, ["pushover"])
    await store.mark_sent(d.id, "r", None, d.created_at + 1, receipt)
    return d.id


def ack(receipt: str, **extra: str) -> dict[str, str]:
    return {"receipt": receipt, "acknowledged": "1", "acknowledged_at": "1700000100",
            "acknowledged_by": OTHER_USER, "acknowledged_by_device": "iphone", **extra}


@pytest.fixture
async def store() -> MemoryStore:
    s = MemoryStore()
    await s.open()
    return s


def token(url: str) -> str:
    return url.rpartition("/")[2]


async def test_a_matching_callback_acknowledges_its_emergency(store: MemoryStore) -> None:
    delivery_id = await sent_emergency(store, "cpu:host=a", "A" * 30)
    receiver = CallbackReceiver(store)
    assert await receiver.receive(token(url_for("cpu:host=a")), ack("A" * 30)) is True
    acked = await store.delivery(delivery_id)
    assert acked is not None
    assert (acked.receipt_state, acked.acknowledged_at, acked.acknowledged_by_device) == (
        ReceiptState.ACKNOWLEDGED, 1_700_000_100.0, "iphone")
    assert acked.acknowledged_by == f"{OTHER_USER[:4]}…{OTHER_USER[-4:]}"
    assert await receiver.receive(token(url_for("cpu:host=a")), ack("A" * 30)) is True  # again


@pytest.mark.parametrize(("url_of", "receipt"), [
    ("cpu:host=b", "A" * 30),  # the token of another emergency
    ("cpu:host=a", "B" * 30),  # the receipt of another emergency
    ("cpu:host=a", "C" * 30),  # a receipt that is not ours
    ("cpu:host=a", "short"),
])
async def test_a_callback_whose_token_and_receipt_do_not_match_changes_nothing(
        store: MemoryStore, url_of: str, receipt: str) -> None:
    await sent_emergency(store, "cpu:host=a", "A" * 30)
    await sent_emergency(store, "cpu:host=b", "B" * 30)
    assert await CallbackReceiver(store).receive(token(url_for(url_of)), ack(receipt)) is (
        url_of == "cpu:host=b" and receipt == "B" * 30)
    states = {d.event_id: d.receipt_state for d in await store.deliveries(DeliveryFilter())}
    assert states == {"cpu:host=a": ReceiptState.OUTSTANDING,
                      "cpu:host=b": ReceiptState.OUTSTANDING}


@pytest.mark.parametrize("bad", ["", "not-hex", "0" * 40])
async def test_a_malformed_or_guessed_token_is_refused(store: MemoryStore, bad: str) -> None:
    await sent_emergency(store, "cpu:host=a", "A" * 30)
    assert await CallbackReceiver(store).receive(bad, ack("A" * 30)) is False


def test_tokens_are_unguessable_and_specific_to_one_emergency() -> None:
    first = token(url_for("cpu:host=a"))
    assert len(first) == 40 and first != token(url_for("cpu:host=b"))
    assert first != token(Callbacks("https://alerts.example.com", "b" * 30).url(
        "cpu", "oncall", "cpu:host=a", "CRITICAL", 1_700_000_000))  # another app's key
    assert url_for("cpu:host=a") == f"https://alerts.example.com/pushoverd/v1/callback/{first}"


