"""The topic service: planning is pure and survives a broken handler, the stored specs are
the routing table, and a re-queue sends to a handler's current recipients."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import OTHER_USER, STRANGER

from pushoverd.errors import Conflict
from pushoverd.handlers.pushover import PushoverKind
from pushoverd.handlers.registry import KindRegistry
from pushoverd.models import DeliveryFilter, DeliveryStatus, Event, HandlerSpec, Level
from pushoverd.store.memory import MemoryData, MemoryStore
from pushoverd.store.sqlite import SQLiteStore
from pushoverd.topics.service import TopicService

ALERT = Event(id="cpu:host=a", level=Level.CRITICAL, message="cpu:host=a is CRITICAL")


class BrokenKind(PushoverKind):
    """A kind whose handlers fail to render, as a bad template or match will."""

    name = "broken"

    def compile(self, spec: HandlerSpec) -> Any:
        handler = super().compile(spec)

        def render(topic: str, event: Event) -> tuple[dict[str, Any], str | None]:
            raise RuntimeError("template exploded")

        handler._render = render  # type: ignore[method-assign]
        return handler


@pytest.fixture
async def store() -> MemoryStore:
    s = MemoryStore()
    await s.open()
    return s


async def service_on(store: MemoryStore | SQLiteStore) -> TopicService:
    service = TopicService(store, KindRegistry([PushoverKind(True), BrokenKind(True)]))
    await service.start()
    return service


async def test_a_handler_that_fails_to_render_is_skipped_and_logged_once(
        store: MemoryStore, caplog: pytest.LogCaptureFixture) -> None:
    service = await service_on(store)
    await service.create_handler(HandlerSpec("cpu", "good", "pushover"))
    await service.create_handler(HandlerSpec("cpu", "bad", "broken"))

    with caplog.at_level(logging.ERROR):
        assert await service.collect("cpu", [ALERT]) == 1

    [delivery] = await store.deliveries(DeliveryFilter())
    assert delivery.handler_id == "good"
    assert (await service.event("cpu", ALERT.id)).level is Level.CRITICAL  # the event is kept
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["handler cpu/bad skipped for event 'cpu:host=a': "
                      "RuntimeError: template exploded"]


async def test_the_stored_specs_are_the_routing_table(store: MemoryStore) -> None:
    """Two daemons on one database: what one defines, the other routes by after a refresh."""
    one = await service_on(store)
    other_daemon = MemoryStore(store.data)
    await other_daemon.open()
    two = await service_on(other_daemon)

    await one.create_handler(HandlerSpec("cpu", "oncall", "pushover"))
    assert two.handlers("cpu") == []
    assert await two.refresh() is True
    assert [s.id for s in two.handlers("cpu")] == ["oncall"]
    assert await two.refresh() is False  # nothing changed since
    assert await two.collect("cpu", [ALERT]) == 1

    await one.delete_handler("cpu", "oncall")
    await two.refresh()
    assert await two.collect("cpu", [ALERT]) == 0


async def test_a_create_that_lost_a_race_is_a_conflict_with_kapacitors_words(
        store: MemoryStore) -> None:
    other_daemon = MemoryStore(store.data)
    await other_daemon.open()
    one, two = await service_on(store), await service_on(other_daemon)
    await one.create_handler(HandlerSpec("cpu", "oncall", "pushover"))
    with pytest.raises(Conflict) as refused:
        await two.create_handler(HandlerSpec("cpu", "oncall", "pushover"))
    assert str(refused.value) == ('failed to create handler: cannot register handler, '
                                  'handler with ID "oncall" already exists')


async def test_requeue_sends_to_the_handlers_current_user_key_with_the_same_text(
        store: MemoryStore) -> None:
    """Regression: a delivery kept the key it was rendered with, so re-queueing after fixing
    a handler's user-key sent to the refused key again."""
    service = await service_on(store)
    await service.create_handler(HandlerSpec("cpu", "h", "pushover", {"user-key": STRANGER}))
    await service.collect("cpu", [ALERT])
    [first] = await store.deliveries(DeliveryFilter())
    await store.mark_dead(first.id, "user identifier is not a valid user", first.created_at)

    await service.patch_handler("cpu", "h", [
        {"op": "replace", "path": "/options/user-key", "value": OTHER_USER}])
    assert await service.requeue(DeliveryFilter(topic="cpu", handler_id="h")) == 1

    requeued = await store.delivery(first.id)
    assert requeued is not None
    assert requeued.status is DeliveryStatus.PENDING
    assert requeued.payload == {**first.payload, "user": OTHER_USER}
    assert (requeued.created_at, requeued.requeued_at is not None) == (first.created_at, True)


async def test_requeue_after_the_key_was_removed_sends_to_the_default_key(
        store: MemoryStore) -> None:
    service = await service_on(store)
    await service.create_handler(HandlerSpec("cpu", "h", "pushover", {"user-key": STRANGER}))
    await service.collect("cpu", [ALERT])
    [first] = await store.deliveries(DeliveryFilter())
    await store.mark_dead(first.id, "refused", first.created_at)
    await service.replace_handler("cpu", "h", HandlerSpec("cpu", "h", "pushover"))
    await service.requeue(DeliveryFilter(delivery_id=first.id))
    requeued = await store.delivery(first.id)
    assert requeued is not None and "user" not in requeued.payload


async def test_a_deleted_handlers_delivery_is_requeued_as_it_was(store: MemoryStore) -> None:
    service = await service_on(store)
    await service.create_handler(HandlerSpec("cpu", "h", "pushover", {"user-key": OTHER_USER}))
    await service.collect("cpu", [ALERT])
    [first] = await store.deliveries(DeliveryFilter())
    await store.mark_dead(first.id, "x", first.created_at)
    await service.delete_handler("cpu", "h")
    assert await service.requeue(DeliveryFilter(delivery_id=first.id)) == 1
    assert (await store.delivery(first.id)).payload == first.payload  # type: ignore[union-attr]


async def test_the_api_view_redacts_the_kinds_secret_options(store: MemoryStore) -> None:
    service = await service_on(store)
    spec = await service.create_handler(
        HandlerSpec("cpu", "h", "pushover", {"user-key": OTHER_USER, "sound": "siren"}))
    assert service.redacted(spec).options == {"user-key": "[REDACTED]", "sound": "siren"}
    assert service.handler("cpu", "h").options == {"user-key": OTHER_USER, "sound": "siren"}


def test_memory_data_is_shared_not_copied() -> None:
    data = MemoryData()
    assert MemoryStore(data).data is MemoryStore(data).data


# --- match expressions --------------------------------------------------------------------

def kapacitor_alert(level: Level, host: str = "serverA") -> Event:
    """An alert as Kapacitor's post handler sends it: the group's tags in data.series."""
    return Event(id=f"cpu:host={host}", level=level, message=f"{host} is {level.name}",
                 data={"series": [{"name": "cpu", "tags": {"host": host, "cpu": "cpu-total"},
                                   "columns": ["time", "usage_idle"],
                                   "values": [["2026-11-23T07:00:00Z", 3.2]]}]})


async def test_a_handler_gets_only_the_events_its_match_accepts(store: MemoryStore) -> None:
    service = await service_on(store)
    await service.create_handler(HandlerSpec("cpu", "crit-a", "pushover",
                                             match='"host" == \'serverA\' AND level() == CRITICAL'))
    await service.create_handler(HandlerSpec("cpu", "all", "pushover"))
    for event in (kapacitor_alert(Level.CRITICAL), kapacitor_alert(Level.WARNING),
                  kapacitor_alert(Level.CRITICAL, "serverB")):
        await service.collect("cpu", [event])
    got = sorted((d.handler_id, d.event_id, d.level.name)
                 for d in await store.deliveries(DeliveryFilter()))
    assert [g for g in got if g[0] == "crit-a"] == [("crit-a", "cpu:host=serverA", "CRITICAL")]
    assert len([g for g in got if g[0] == "all"]) == 3


async def test_changed_sees_the_stored_previous_level_across_a_restart(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path / "db")
    await first.open()
    service = await service_on(first)
    await service.create_handler(HandlerSpec("cpu", "changes", "pushover", match="changed()"))
    await service.collect("cpu", [kapacitor_alert(Level.CRITICAL)])
    await first.close()

    second = SQLiteStore(tmp_path / "db")
    await second.open()
    try:
        service = await service_on(second)
        await service.collect("cpu", [kapacitor_alert(Level.CRITICAL)])  # unchanged
        await service.collect("cpu", [kapacitor_alert(Level.OK)])        # changed
        levels = [d.level.name for d in sorted(await second.deliveries(DeliveryFilter()),
                                               key=lambda d: d.id)]
        assert levels == ["CRITICAL", "OK"]
    finally:
        await second.close()


async def test_a_match_that_fails_to_evaluate_is_no_match_and_logged_once(
        store: MemoryStore, caplog: pytest.LogCaptureFixture) -> None:
    service = await service_on(store)
    await service.create_handler(HandlerSpec("cpu", "by-dc", "pushover", match='"dc" == \'eu\''))
    await service.create_handler(HandlerSpec("cpu", "all", "pushover"))
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert await service.collect("cpu", [kapacitor_alert(Level.CRITICAL)]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["failed to evaluate match expression of handler cpu/by-dc: "
                      "no tag exists for dc"]
    assert {d.handler_id for d in await store.deliveries(DeliveryFilter())} == {"all"}


# --- templates -----------------------------------------------------------------------------

async def test_a_template_render_error_is_recorded_on_the_delivery_which_still_goes(
        store: MemoryStore) -> None:
    service = await service_on(store)
    await service.create_handler(HandlerSpec(
        "cpu", "titled", "pushover", options={"title": '{{ index .Level "x" }}'}))
    await service.collect("cpu", [kapacitor_alert(Level.CRITICAL)])
    [delivery] = await store.deliveries(DeliveryFilter())
    assert delivery.status is DeliveryStatus.PENDING
    assert delivery.payload["title"] == '{{ index .Level "x" }}'
    assert delivery.last_error == ("template failed, untemplated text sent: title: error "
                                   "calling index: can't index item of type string")


async def test_the_text_is_rendered_once_when_enqueued(store: MemoryStore) -> None:
    """A retry sends the stored payload, so the text is the one rendered at ingest."""
    service = await service_on(store)
    await service.create_handler(HandlerSpec(
        "cpu", "titled", "pushover", options={"title": '{{ .Level }} {{ index .Tags "host" }}'}))
    await service.collect("cpu", [kapacitor_alert(Level.CRITICAL)])
    [delivery] = await store.deliveries(DeliveryFilter())
    assert delivery.payload["title"] == "CRITICAL serverA"
    assert delivery.last_error is None
