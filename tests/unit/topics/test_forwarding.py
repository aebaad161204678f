"""Publish and aggregate handlers through the topic service: events passed on between topics
with their own match and history there, loops refused when defined (and bounded if one got
past), aggregates collected on demand, and nothing an aggregate held dropped with it."""

from __future__ import annotations

import logging

import pytest

from pushoverd.errors import ValidationError
from pushoverd.handlers.aggregate import AggregateKind
from pushoverd.handlers.log import LogKind
from pushoverd.handlers.publish import PublishKind
from pushoverd.handlers.registry import KindRegistry
from pushoverd.models import DeliveryFilter, Event, HandlerSpec, Level
from pushoverd.store.memory import MemoryStore
from pushoverd.topics.forwarding import MAX_HOPS, check_no_cycle
from pushoverd.topics.service import TopicService

ALERT = Event(id="cpu:host=a", level=Level.CRITICAL, message="cpu:host=a is CRITICAL")
KINDS = KindRegistry([LogKind()], plumbing=[PublishKind(), AggregateKind()])


@pytest.fixture
async def store() -> MemoryStore:
    s = MemoryStore()
    await s.open()
    return s


@pytest.fixture
async def service(store: MemoryStore) -> TopicService:
    s = TopicService(store, KINDS)
    await s.start()
    return s


def publish(topic: str, handler_id: str, *topics: str, match: str = "") -> HandlerSpec:
    return HandlerSpec(topic, handler_id, "publish", {"topics": list(topics)}, match)


def to_file(topic: str, handler_id: str = "file") -> HandlerSpec:
    return HandlerSpec(topic, handler_id, "log", {"path": f"/var/log/{topic}.log"})


def aggregate(topic: str, into: str, handler_id: str = "agg", **options: object) -> HandlerSpec:
    return HandlerSpec(topic, handler_id, "aggregate",
                       {"id": "summary", "interval": "1s", "topic": into, **options})


async def delivered_on(store: MemoryStore, topic: str) -> list[str]:
    return [d.event_id for d in await store.deliveries(DeliveryFilter(topic=topic))]


async def test_a_published_event_reaches_the_other_topics_handlers(
        store: MemoryStore, service: TopicService) -> None:
    await service.create_handler(publish("cpu", "fanout", "ops", "audit"))
    await service.create_handler(to_file("ops"))
    await service.create_handler(to_file("audit"))
    assert await service.collect("cpu", [ALERT]) == 2
    assert await delivered_on(store, "ops") == ["cpu:host=a"]
    assert await delivered_on(store, "audit") == ["cpu:host=a"]
    state = await service.event("ops", "cpu:host=a")
    assert (state.level, state.message) == (Level.CRITICAL, ALERT.message)


async def test_match_decides_what_is_published_and_changed_is_per_topic(
        store: MemoryStore, service: TopicService) -> None:
    await service.create_handler(publish("cpu", "crit", "pager", match="level() == CRITICAL"))
    pager = HandlerSpec("pager", "file", "log", {"path": "/p.log"}, "changed() == TRUE")
    await service.create_handler(pager)
    warning = Event(id="e", level=Level.WARNING)
    critical = Event(id="e", level=Level.CRITICAL)
    for alert in (warning, critical, critical, warning, critical):
        await service.collect("cpu", [alert])
    # pager saw only the CRITICALs; for it the second and third are no change.
    assert len(await delivered_on(store, "pager")) == 1
    assert (await service.topic("pager")).collected == 3


async def test_a_chain_of_publishes_carries_the_event_to_its_end(
        store: MemoryStore, service: TopicService) -> None:
    await service.create_handler(publish("a", "p", "b"))
    await service.create_handler(publish("b", "p", "c"))
    await service.create_handler(to_file("c"))
    await service.collect("a", [ALERT])
    assert await delivered_on(store, "c") == ["cpu:host=a"]


@pytest.mark.parametrize(("existing", "new", "loop"), [
    ([], publish("a", "self", "a"), "a -> a"),
    ([publish("b", "p", "a")], publish("a", "p", "b"), "a -> b -> a"),
    ([publish("b", "p", "c"), publish("c", "p", "a")], publish("a", "p", "x", "b"),
     "a -> b -> c -> a"),
    ([aggregate("b", "a")], publish("a", "p", "b"), "a -> b -> a"),
    ([publish("b", "p", "a")], aggregate("a", "b"), "a -> b -> a"),
])
async def test_a_handler_that_would_close_a_loop_is_refused(
        service: TopicService, existing: list[HandlerSpec], new: HandlerSpec,
        loop: str) -> None:
    for spec in existing:
        await service.create_handler(spec)
    with pytest.raises(ValidationError) as refused:
        await service.create_handler(new)
    option = "topic" if new.kind == "aggregate" else "topics"
    assert str(refused.value) == (
        f"failed to create handler: '{option}' in options would make a loop: {loop}")
    assert service.handlers(new.topic) == []


async def test_a_replaced_publish_handler_is_checked_and_its_old_topics_are_forgotten(
        service: TopicService) -> None:
    await service.create_handler(publish("a", "p", "b"))
    await service.create_handler(publish("b", "p", "c"))
    with pytest.raises(ValidationError, match=r"^failed to create handler: .* c -> a -> b -> c"):
        await service.create_handler(publish("c", "p", "a"))
    await service.replace_handler("a", "p", publish("a", "p", "d"))  # a no longer reaches c
    await service.create_handler(publish("c", "p", "a"))
    with pytest.raises(ValidationError, match=r"^failed to update handler: .* a -> c -> a"):
        await service.replace_handler("a", "p", publish("a", "p", "c"))


async def test_a_loop_that_got_past_definition_is_bounded_and_logged(
        store: MemoryStore, caplog: pytest.LogCaptureFixture) -> None:
    # As another writer to a shared store could leave it: stored without the service's check.
    await store.create_handler(publish("a", "p", "b"), None)
    await store.create_handler(publish("b", "p", "a"), None)
    await store.create_handler(to_file("b"), None)
    service = TopicService(store, KINDS)
    await service.start()
    with caplog.at_level(logging.ERROR):
        await service.collect("a", [ALERT])
    assert len(await delivered_on(store, "b")) == MAX_HOPS // 2
    assert f"it already passed {MAX_HOPS} publish handlers" in caplog.text


def test_the_loop_check_names_the_path_it_found() -> None:
    edges = {"b": ["x", "c"], "c": ["d"], "d": ["a"]}
    with pytest.raises(ValidationError, match=r"^'topics' in options would make a loop: "
                                              r"a -> b -> c -> d -> a$"):
        check_no_cycle(edges, "a", ["z", "b"], "topics")
    check_no_cycle(edges, "q", ["b"], "topics")


async def test_an_aggregate_holds_events_until_it_is_flushed(
        store: MemoryStore, service: TopicService) -> None:
    await service.create_handler(aggregate("cpu", "digest", message="{{ .Count }} alerts"))
    await service.create_handler(to_file("digest"))
    await service.collect("cpu", [ALERT, Event(id="b", level=Level.WARNING, message="b")])
    assert await delivered_on(store, "digest") == []
    assert service.aggregates() == {("cpu", "agg"): 1.0}

    assert await service.flush_aggregate("cpu", "agg") is True
    assert await delivered_on(store, "digest") == ["summary"]
    state = await service.event("digest", "summary")
    assert (state.message, state.details, state.level) == (
        "2 alerts", f"{ALERT.message}\nb", Level.CRITICAL)
    assert await service.flush_aggregate("cpu", "agg") is False  # nothing held since


async def test_an_aggregate_collects_what_it_held_before_it_changes_or_goes(
        store: MemoryStore, service: TopicService) -> None:
    await service.create_handler(aggregate("cpu", "digest"))
    await service.collect("cpu", [ALERT])
    await service.replace_handler("cpu", "agg", aggregate("cpu", "digest", message="new"))
    first = await service.event("digest", "summary")
    assert first.message == "Received 1 events in the last 1s."  # under the old options

    await service.collect("cpu", [ALERT, ALERT])
    await service.delete_handler("cpu", "agg")
    assert (await service.event("digest", "summary")).message == "new"
    assert (await service.topic("digest")).collected == 2


async def test_flushing_what_is_not_an_aggregate_does_nothing(service: TopicService) -> None:
    await service.create_handler(to_file("cpu"))
    assert await service.flush_aggregate("cpu", "file") is False
    assert await service.flush_aggregate("cpu", "missing") is False


async def test_plumbing_handlers_take_no_flood_options(service: TopicService) -> None:
    with pytest.raises(ValidationError, match="'' has invalid keys: flood-rate"):
        await service.create_handler(HandlerSpec("cpu", "p", "publish",
                                                 {"topics": ["x"], "flood-rate": 3}))


async def test_a_published_event_brings_its_previous_level_until_the_topic_has_its_own(
        store: MemoryStore, service: TopicService) -> None:
    """As Kapacitor's publish: the event goes on with the previous state it had, which only a
    state the new topic stored for that ID replaces (the oracle checks this against 1.5.7)."""
    await service.create_handler(publish("cpu", "p", "ops", match="level() == CRITICAL"))
    await service.create_handler(to_file("ops"))
    for level in (Level.WARNING, Level.CRITICAL, Level.WARNING, Level.CRITICAL):
        await service.collect("cpu", [Event(id="e", level=level, previous_level=Level.INFO)])
    lines = [d.payload["line"] for d in await store.deliveries(DeliveryFilter(topic="ops"))]
    assert ['"previousLevel":"WARNING"' in x for x in reversed(lines)] == [True, False]
    assert '"previousLevel":"CRITICAL"' in lines[0]  # ops's own, not cpu's WARNING
    state = await service.event("ops", "e")
    assert state.previous_level is Level.CRITICAL
