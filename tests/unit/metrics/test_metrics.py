"""The metric families and their recorders, read back through prometheus_client's parser; and
each part that counts, told of what it did (client, child process, worker, writer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import TOKEN, USER, eventually
from tests.fakes.pushover import FakePushover
from tests.fakes.senders import ScriptedSender

from pushoverd.delivery.retry import RetryPolicy
from pushoverd.delivery.worker import DeliveryWorker, WorkerSettings
from pushoverd.errors import DeliveryFailed, PushoverRejected, PushoverTransientError
from pushoverd.handlers.pushover import RemoteTransport
from pushoverd.metrics import Metrics
from pushoverd.models import DeliveryFilter, DeliveryStatus, Event, Level, NewDelivery, OutboxStats
from pushoverd.pushover import Message, PushoverClient
from pushoverd.store.base import Collecting, Plan
from pushoverd.store.memory import MemoryStore
from pushoverd.store.sqlite import SQLiteStore

URL = "https://api.pushover.test/1/messages.json"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scraped(metrics: Metrics) -> Samples:
    text = (await metrics.exposition()).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


async def test_recorders_show_in_the_exposition() -> None:
    m = Metrics()
    m.alert("cpu", "CRITICAL")
    m.alert("cpu", "CRITICAL")
    m.bad_request("invalid_alert")
    m.delivery("pushover", "sent")
    m.delivery("pushover", "retry")
    m.delivery("post", "dead")
    m.pushover_request("messages", "200", 0.03)
    m.acknowledged("callback")
    m.commit(3, 0.002)
    got = await scraped(m)
    assert got[key("pushoverd_alerts_received_total", topic="cpu", level="CRITICAL")] == 2
    assert got[key("pushoverd_bad_requests_total", reason="invalid_alert")] == 1
    assert got[key("pushoverd_deliveries_total", kind="pushover", status="sent")] == 1
    assert got[key("pushoverd_deliveries_total", kind="post", status="dead")] == 1
    assert got[key("pushoverd_delivery_retries_total", kind="pushover")] == 1
    assert got[key("pushoverd_pushover_responses_total", endpoint="messages", code="200")] == 1
    assert got[key("pushoverd_pushover_request_duration_seconds_bucket", endpoint="messages",
                   le="0.05")] == 1
    assert got[key("pushoverd_pushover_request_duration_seconds_bucket", endpoint="messages",
                   le="0.025")] == 0
    assert got[key("pushoverd_pushover_acknowledgements_total", via="callback")] == 1
    assert got[key("pushoverd_store_commit_group_size_sum")] == 3
    assert not any(name.endswith("_created") for name, _ in got)


async def test_state_is_read_when_scraped_and_unknown_quota_figures_are_left_out() -> None:
    m = Metrics()
    stats = OutboxStats({"pending": 2, "sent": 5}, oldest_pending_at=1000.0,
                        outstanding_receipts=1)

    async def refresh() -> None:
        m.set_outbox(stats, 1042.0)
        m.set_paused({"pushover": True, "post": False})
        m.set_pushover(True, 10000, None, None)
    m.on_scrape(refresh)
    got = await scraped(m)
    assert got[key("pushoverd_outbox_deliveries", status="pending")] == 2
    assert got[key("pushoverd_outbox_oldest_waiting_seconds")] == 42
    assert got[key("pushoverd_pushover_emergencies_outstanding")] == 1
    assert got[key("pushoverd_delivery_paused", kind="pushover")] == 1
    assert got[key("pushoverd_delivery_paused", kind="post")] == 0
    assert got[key("pushoverd_pushover_breaker_open")] == 1
    assert got[key("pushoverd_pushover_app_limit")] == 10000
    assert key("pushoverd_pushover_app_remaining") not in got


async def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.alert("cpu", "OK")
    assert key("pushoverd_alerts_received_total", topic="cpu", level="OK") not in (
        await scraped(second))


# The Pushover client times every request ----------------------------------------------------

@pytest.fixture
def router() -> respx.MockRouter:
    return respx.MockRouter(using=None, assert_all_called=False)


@pytest.fixture
def seen() -> list[tuple[str, str, float]]:
    return []


@pytest.fixture
async def client(router: respx.MockRouter,
                 seen: list[tuple[str, str, float]]) -> AsyncIterator[PushoverClient]:
    transport = httpx.MockTransport(router.async_handler)
    async with PushoverClient(URL, TOKEN, USER, transport=transport,
                              observe=lambda *f: seen.append(f)) as c:
        yield c


async def test_the_client_tells_each_requests_endpoint_answer_and_duration(
        client: PushoverClient, router: respx.MockRouter,
        seen: list[tuple[str, str, float]]) -> None:
    router.post(URL).mock(side_effect=[httpx.Response(200, json={"status": 1}),
                                       httpx.Response(400, json={"status": 0}),
                                       httpx.ConnectError("refused")])
    router.get("https://api.pushover.test/1/apps/limits.json").mock(
        return_value=httpx.Response(200, json={"limit": 1, "remaining": 1, "reset": 1}))
    await client.send(Message("a"))
    with pytest.raises(PushoverRejected):
        await client.send(Message("b"))
    with pytest.raises(PushoverTransientError):
        await client.send(Message("c"))
    await client.limits()
    assert [(e, c) for e, c, _ in seen] == [("messages", "200"), ("messages", "400"),
                                            ("messages", "error"), ("limits", "200")]
    assert all(seconds >= 0 for _, _, seconds in seen)


async def test_the_sender_child_hands_its_figures_back_with_its_answers(
        fake: FakePushover) -> None:
    seen: list[tuple[str, str, float]] = []
    remote = RemoteTransport(fake.url, TOKEN, USER, timeout=2.0, max_connections=2,
                             log_level="ERROR", log_file="STDERR", secrets=[TOKEN, USER],
                             observe=lambda *f: seen.append(f))
    try:
        await remote.start()
        await remote.send(Message("a").to_dict())
        fake.fail_next(1, 503)
        with pytest.raises(PushoverTransientError):
            await remote.send(Message("b").to_dict())
        await remote.validate()
    finally:
        await remote.aclose()
    assert [(e, c) for e, c, _ in seen] == [("messages", "200"), ("messages", "503"),
                                            ("validate", "200")]


# The worker tells each attempt's outcome; the writer each group commit ----------------------

async def test_the_worker_tells_sent_retry_and_dead_by_kind() -> None:
    now = [1_750_000_000.0]
    store = MemoryStore(clock=lambda: now[0])
    await store.open()
    sender = ScriptedSender("pushover")
    sender.script += [DeliveryFailed("503", retry=True), DeliveryFailed("bad key", retry=False)]
    outcomes: list[tuple[str, str]] = []
    worker = DeliveryWorker(store, {"pushover": sender}, RetryPolicy(),
                            WorkerSettings(poll_interval=0.01), clock=lambda: now[0],
                            observe=lambda *o: outcomes.append(o))

    def plan(ctx: Collecting) -> Plan:
        return Plan([NewDelivery(topic="cpu", handler_id="h", kind="pushover",
                                 event_id=ctx.event.id, level=ctx.event.level,
                                 payload={"message": ctx.event.message})])

    await store.collect("cpu", [Event(id=f"e{n}", level=Level.CRITICAL, message=f"m{n}")
                                for n in range(2)], plan)
    worker.start()
    try:
        await eventually(lambda: len(outcomes) == 2)
        now[0] += 3600.0  # the retry is due
        worker.notify()

        async def finished() -> bool:
            found = await store.deliveries(DeliveryFilter(limit=10))
            return all(d.status in (DeliveryStatus.SENT, DeliveryStatus.DEAD) for d in found)
        await eventually(finished)
    finally:
        await worker.stop(1.0)
    assert sorted(outcomes) == [("pushover", "dead"), ("pushover", "retry"),
                                ("pushover", "sent")]


async def test_the_writer_tells_each_group_commit(tmp_path: Path) -> None:
    commits: list[tuple[int, float]] = []
    store = SQLiteStore(tmp_path / "db", on_commit=lambda *c: commits.append(c))
    await store.open()
    before = sum(size for size, _ in commits)
    try:
        await asyncio.gather(*(store.ensure_topic(f"t{n}") for n in range(50)))
    finally:
        await store.close()
    sizes = [size for size, _ in commits]
    assert sum(sizes) - before == 50  # every write counted once
    assert max(sizes) > 1, "50 concurrent writes should share commits"
    assert all(seconds >= 0 for _, seconds in commits)
