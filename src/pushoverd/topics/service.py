"""The topic service: events in, topic state and outbox deliveries out; handler specs kept.

The stored handler specs are the source of truth for routing: the service compiles them into
an in-memory table (topic -> id -> route) that the ingest transaction reads, and rebuilds it
from the store after every change (and when another writer changed them, see ``refresh``).
Each rebuild replaces the table whole, so a concurrent ingest sees either the old or the new
set, never half of one. Planning an event is a pure function of the event, its previous
level, that table and the flood counts the store derives from its rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import jsonpatch

from pushoverd.errors import Conflict, InvalidHandlerSpec, NotFound, ValidationError
from pushoverd.handlers.aggregate import AggregateHandler
from pushoverd.handlers.base import AlertHistory, Forwarder, Handler, Outgoing
from pushoverd.handlers.registry import KindRegistry
from pushoverd.logs import REQUEST_ID
from pushoverd.models import (
    REDACTED,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    EventState,
    HandlerSpec,
    HeldGroup,
    Level,
    NewDelivery,
    TopicState,
    valid_handler_id,
    valid_topic_id,
)
from pushoverd.store.base import Collected, Collecting, Held, Plan, Published, Store
from pushoverd.topics.flood import FloodRule, split_options
from pushoverd.topics.forwarding import MAX_HOPS, check_no_cycle
from pushoverd.topics.match import MatchError, Scope, compile_match, scope_of
from pushoverd.topics.patterns import matches

MATCH_FAILED = "failed to evaluate match expression"

log = logging.getLogger(__name__)

NO_FLOOD_LIMIT = FloodRule(0, 60.0)


@dataclass(frozen=True, slots=True)
class Route:
    """A handler spec as defined, its compiled handler and match, and its flood rule."""

    spec: HandlerSpec
    handler: Handler | Forwarder
    flood: FloodRule
    match: Callable[[Scope], bool] | None = None
    """The compiled ``match`` expression (None: every event)."""
    plumbing: bool = False
    """Its handler is a :class:`Forwarder` (publish, aggregate), not a delivering one."""


HandlerTable = dict[str, dict[str, Route]]


def validate_spec(spec: HandlerSpec) -> None:
    """Kapacitor's spec checks, in its order and words."""
    if not valid_topic_id(spec.topic):
        raise InvalidHandlerSpec(
            "invalid handler spec: handler topic must contain only letters, numbers, "
            f"'-', '.' and '_'. \"{spec.topic}\"")
    if not valid_handler_id(spec.id):
        raise InvalidHandlerSpec(
            "invalid handler spec: handler ID must contain only letters, numbers, "
            f"'-', '.' and '_'. \"{spec.id}\"")
    if not spec.kind:
        raise InvalidHandlerSpec("invalid handler spec: handler Kind must not be empty")


def compile_spec(kinds: KindRegistry, spec: HandlerSpec, action: str = "create",
                 flood: FloodRule = NO_FLOOD_LIMIT) -> Route:
    """Check a spec and compile it with its kind; errors carry Kapacitor's prefixes.

    ``flood`` is the default flood rule; the ``flood-rate`` and ``flood-interval`` options
    override it for this handler and are taken out before the kind sees the options.
    """
    validate_spec(spec)
    try:
        match = compile_match(spec.match)
        if kinds.is_plumbing(spec.kind):  # sends nothing, so nothing to limit
            return Route(spec, kinds.compile(spec), NO_FLOOD_LIMIT, match, plumbing=True)
        default = flood if kinds.kind(spec.kind).flood_controlled else NO_FLOOD_LIMIT
        options, rule = split_options(spec.options, default)
        return Route(spec, kinds.compile(replace(spec, options=options)), rule, match)
    except ValidationError as exc:
        raise ValidationError(f"failed to {action} handler: {exc}") from None


class TopicService:
    """Collects events into topics and keeps the handler specs that route them."""

    def __init__(self, store: Store, kinds: KindRegistry,
                 on_enqueued: Callable[[], None] = lambda: None,
                 flood: FloodRule = NO_FLOOD_LIMIT, clock: Callable[[], float] = time.time
                 ) -> None:
        self._store = store
        self._kinds = kinds
        self._on_enqueued = on_enqueued
        self._flood = flood
        self._clock = clock
        self._table: HandlerTable = {}
        self._sources: dict[tuple[str, str], str | None] = {}
        self._revision: int | None = None
        self._lock = asyncio.Lock()
        self._match_failures: set[str] = set()

    async def start(self) -> None:
        """Compile every stored handler spec; a spec that no longer compiles is logged."""
        async with self._lock:
            await self._reload()

    async def refresh(self) -> bool:
        """Rebuild the table if the stored specs changed behind our back; whether they had."""
        if await self._store.handlers_revision() == self._revision:
            return False
        async with self._lock:
            await self._reload()
        return True

    async def _reload(self) -> None:
        revision = await self._store.handlers_revision()
        table: HandlerTable = {}
        sources: dict[tuple[str, str], str | None] = {}
        for spec, source in await self._store.load_handlers():
            route = self._compiled(spec)
            if route is not None:
                table.setdefault(spec.topic, {})[spec.id] = route
                sources[(spec.topic, spec.id)] = source
        self._table, self._sources, self._revision = table, sources, revision

    def _compiled(self, spec: HandlerSpec) -> Route | None:
        current = self._table.get(spec.topic, {}).get(spec.id)
        if current is not None and current.spec == spec:
            return current  # unchanged: keep the compiled handler
        try:
            return compile_spec(self._kinds, spec, flood=self._flood)
        except ValidationError as exc:
            log.error("stored handler %s/%s no longer valid: %s", spec.topic, spec.id, exc)
            return None

    # Ingest --------------------------------------------------------------------------------
    async def collect(self, topic: str, events: Sequence[Event]) -> int:
        """Store events on ``topic`` with one delivery per matching handler; durable on return."""
        # The request being answered (set by the API) is recorded on what it causes.
        origin = REQUEST_ID.get()
        collected = await self._store.collect(topic, events,
                                              lambda ctx: self._plan(ctx, origin))
        self._after_collect(collected)
        return collected.enqueued

    def _after_collect(self, collected: Collected) -> None:
        for reason in collected.skipped:
            self._log_skip(reason)
        if collected.enqueued:
            self._on_enqueued()

    def _log_skip(self, reason: str) -> None:
        # A match that fails to evaluate is logged once (per handler and error), not per alert.
        if reason.startswith(MATCH_FAILED):
            if reason in self._match_failures:
                return
            if len(self._match_failures) > 10_000:
                self._match_failures.clear()
            self._match_failures.add(reason)
        log.error("%s", reason)

    def _plan(self, ctx: Collecting, origin: str | None = None) -> Plan:
        # Runs inside the store's ingest transaction, perhaps twice: it must stay pure.
        deliveries: list[NewDelivery] = []
        skipped: list[str] = []
        published: list[Published] = []
        held: list[Held] = []
        scope = scope_of(ctx.event, ctx.previous)
        for route in self._table.get(ctx.topic, {}).values():
            try:
                if route.match is not None and not route.match(scope):
                    continue
            except MatchError as exc:  # counts as no match, never fails the ingest
                skipped.append(f"{MATCH_FAILED} of handler {ctx.topic}/{route.spec.id}: {exc}")
                continue
            try:
                if route.plumbing:
                    self._forward(cast(Forwarder, route.handler), ctx, published, held, skipped)
                else:
                    deliveries += self._deliveries(route, cast(Handler, route.handler), ctx,
                                                   origin)
            except Exception as exc:  # one broken handler must not fail the ingest
                skipped.append(f"handler {ctx.topic}/{route.spec.id} skipped for event "
                               f"{ctx.event.id!r}: {type(exc).__name__}: {exc}")
        return Plan(deliveries, skipped, published, held)

    def _forward(self, forwarder: Forwarder, ctx: Collecting, published: list[Published],
                 held: list[Held], skipped: list[str]) -> None:
        forwarded = forwarder.forward(ctx.event)
        if forwarded.hold:
            held.append(Held(forwarder.spec.id, ctx.event))
        if forwarded.publish and ctx.hops >= MAX_HOPS:
            # Cycles are refused when handlers are defined; this bounds one that got past.
            skipped.append(f"handler {ctx.topic}/{forwarder.spec.id} did not publish event "
                           f"{ctx.event.id!r}: it already passed {MAX_HOPS} publish handlers")
            return
        published += [Published(t, ctx.event, ctx.previous) for t in forwarded.publish]

    def _deliveries(self, route: Route, handler: Handler, ctx: Collecting,
                    origin: str | None) -> list[NewDelivery]:
        spec, event = route.spec, ctx.event
        if event.previous_level is not ctx.previous:  # the topic's history, not the sender's
            event = replace(event, previous_level=ctx.previous)
        history = AlertHistory(ctx.last_notification(spec.id), tuple(ctx.unfinished(spec.id)))
        planned = handler.plan(ctx.topic, event, history, ctx.now)
        return [NewDelivery(topic=ctx.topic, handler_id=spec.id, kind=spec.kind,
                            event_id=event.id, level=event.level, payload=out.payload,
                            control=out.control, origin=origin,
                            **self._outcome(route, ctx, out))
                for out in planned]

    def _outcome(self, route: Route, ctx: Collecting, out: Outgoing) -> dict[str, Any]:
        """The status a planned delivery starts in, and why if it is not pending."""
        status, error = self._status(route.spec.kind)
        if status is not DeliveryStatus.PENDING:
            return {"status": status, "last_error": error}
        if out.suppressed:
            return {"status": DeliveryStatus.SUPPRESSED, "last_error": out.suppressed}
        if not out.control and _flooded(route, ctx):
            return {"status": DeliveryStatus.COALESCED, "last_error": out.note}
        return {"status": DeliveryStatus.PENDING, "last_error": out.note}

    def _status(self, kind: str) -> tuple[DeliveryStatus, str | None]:
        disabled = self._kinds.kind(kind).disabled_reason
        return (DeliveryStatus.DEAD, disabled) if disabled else (DeliveryStatus.PENDING, None)

    # Flood summaries -----------------------------------------------------------------------
    async def flush_floods(self) -> int:
        """Enqueue the summaries of flooded handlers whose interval has passed."""
        flushed = await self._store.flush_coalesced(self._clock(), self._summary)
        if flushed:
            self._on_enqueued()
        return flushed

    def _summary(self, held: HeldGroup, now: float) -> NewDelivery | None:
        # Runs inside the store's transaction; a deleted handler's flood is summarised at once.
        route = self._table.get(held.topic, {}).get(held.handler_id)
        interval = route.flood.interval if route else 0.0
        if held.first_created_at > now - interval:
            return None
        latest = held.latest
        status, error = self._status(latest.kind)
        return NewDelivery(
            topic=held.topic, handler_id=held.handler_id, kind=latest.kind,
            event_id=latest.event_id, level=max(held.by_level), status=status, last_error=error,
            payload=self._kinds.kind(latest.kind).summarize(
                held, cast(Handler, route.handler)
                if route and route.spec.kind == latest.kind else None),
            summarizes=held.count)

    # Aggregates ----------------------------------------------------------------------------
    def aggregates(self) -> dict[tuple[str, str], float]:
        """Every aggregate handler, (topic, id), with its interval in seconds."""
        return {(t, i): r.handler.interval for t, routes in self._table.items()
                for i, r in routes.items() if isinstance(r.handler, AggregateHandler)}

    async def flush_aggregate(self, topic: str, handler_id: str) -> bool:
        """Collect the aggregate of what the handler held since its last tick; whether it held
        anything (a handler that is gone, or no longer an aggregate, holds nothing)."""
        route = self._table.get(topic, {}).get(handler_id)
        if route is None or not isinstance(route.handler, AggregateHandler):
            return False
        return await self._flush(route.handler)

    async def _flush(self, handler: AggregateHandler) -> bool:
        spec = handler.spec
        collected = await self._store.flush_aggregate(
            spec.topic, spec.id, lambda events: Published(handler.options.topic,
                                                          handler.aggregate(events)),
            self._plan)
        if collected is None:
            return False
        self._after_collect(collected)
        return True

    # Re-queueing ---------------------------------------------------------------------------
    async def requeue(self, query: DeliveryFilter) -> int:
        """Send the deliveries matching ``query`` that are not yet sent (dead, or waiting for
        a retry) again now, to their handler's current recipients; the rendered text stays.
        How many."""
        count = await self._store.requeue(self._clock(), self._readdress, query)
        if count:
            self._on_enqueued()
        return count

    def _readdress(self, delivery: Delivery) -> dict[str, Any]:
        route = self._table.get(delivery.topic, {}).get(delivery.handler_id)
        if route is None or route.spec.kind != delivery.kind:
            return delivery.payload  # its handler is gone: the recipients it had
        return cast(Handler, route.handler).readdress(delivery.payload)

    # Topics --------------------------------------------------------------------------------
    async def topics(self, pattern: str = "", min_level: Level = Level.OK) -> list[TopicState]:
        """Topics whose ID matches ``pattern`` and whose level is at least ``min_level``."""
        return [t for t in await self._store.topics()
                if matches(pattern, t.id) and t.level >= min_level]

    async def topic(self, topic: str) -> TopicState:
        """One topic; NotFound if it does not exist."""
        state = await self._store.topic(topic)
        if state is None:
            raise NotFound(f'unknown topic: "{topic}"')
        return state

    async def delete_topic(self, topic: str) -> None:
        """Delete a topic and its events; its handlers stay and keep firing."""
        await self._store.delete_topic(topic)

    async def events(self, topic: str, min_level: Level = Level.OK) -> list[EventState]:
        """A topic's events at or above ``min_level``; NotFound for an unknown topic."""
        events = await self._store.events(topic, min_level)
        if events is None:
            raise NotFound(f'failed to get topic events: unknown topic "{topic}"')
        return events

    async def event(self, topic: str, event_id: str) -> EventState:
        """One event's state; NotFound if absent."""
        state = await self._store.event(topic, event_id)
        if state is None:
            raise NotFound(f'unknown event "{event_id}" in topic "{topic}"')
        return state

    # Handlers ------------------------------------------------------------------------------
    def handlers(self, topic: str, pattern: str = "") -> list[HandlerSpec]:
        """The topic's handler specs whose ID matches ``pattern``, sorted by ID."""
        found = self._table.get(topic, {})
        return [found[i].spec for i in sorted(found) if matches(pattern, i)]

    def handler(self, topic: str, handler_id: str) -> HandlerSpec:
        """One handler spec; NotFound if absent."""
        try:
            return self._table[topic][handler_id].spec
        except KeyError:
            raise NotFound(f'unknown handler: "{handler_id}"') from None

    def source(self, topic: str, handler_id: str) -> str | None:
        """Where a handler came from: a file path, or None for the API."""
        return self._sources.get((topic, handler_id))

    def file_handlers(self) -> list[tuple[str, str, str]]:
        """(topic, id, path) of every handler that was loaded from a file."""
        return [(t, i, src) for (t, i), src in self._sources.items() if src is not None]

    def redacted(self, spec: HandlerSpec) -> HandlerSpec:
        """``spec`` as the API shows it: every secret option of its kind reads REDACTED."""
        secrets = self._kinds.secret_options(spec.kind)
        if not spec.options or not secrets.intersection(spec.options):
            return spec
        return replace(spec, options={k: REDACTED if k in secrets and v else v
                                      for k, v in spec.options.items()})

    async def create_handler(self, spec: HandlerSpec, source: str | None = None) -> HandlerSpec:
        """Validate, store and activate a new handler."""
        self._refuse_placeholders(spec)
        route = compile_spec(self._kinds, spec, "create", self._flood)
        async with self._lock:
            self._refuse_loop(route, "create")
            try:
                await self._store.create_handler(spec, source)
            except Conflict as exc:
                raise Conflict(f"failed to create handler: {exc}") from None
            await self._reload()
        return spec

    async def replace_handler(self, topic: str, handler_id: str, spec: HandlerSpec,
                              source: str | None = None) -> HandlerSpec:
        """Replace a handler's whole spec; a different ``spec.id`` renames it."""
        spec = self._keep_secrets(replace(spec, topic=topic), self.handler(topic, handler_id))
        route = compile_spec(self._kinds, spec, "update", self._flood)
        async with self._lock:
            self._refuse_loop(route, "update", replacing=handler_id)
            await self._flush_before_change(topic, handler_id, spec)
            try:
                await self._store.replace_handler(topic, handler_id, spec, source)
            except Conflict as exc:
                raise Conflict(f"failed to update handler: {exc}") from None
            await self._reload()
        return spec

    async def patch_handler(self, topic: str, handler_id: str, patch: Any) -> HandlerSpec:
        """Apply an RFC 6902 JSON Patch to a handler spec."""
        current = self.handler(topic, handler_id)
        doc = {"id": current.id, "topic": current.topic, "kind": current.kind,
               "options": current.options, "match": current.match}
        patched = _apply_patch(doc, patch)
        if patched.get("topic") != topic:
            raise ValidationError("failed to update handler: cannot change topic in update")
        spec = spec_from_mapping(patched, topic)
        return await self.replace_handler(topic, handler_id, spec, self.source(topic, handler_id))

    async def delete_handler(self, topic: str, handler_id: str) -> None:
        """Delete a handler (nothing happens if it does not exist)."""
        async with self._lock:
            await self._flush_before_change(topic, handler_id)
            await self._store.delete_handler(topic, handler_id)
            await self._reload()

    def _refuse_loop(self, route: Route, action: str, replacing: str | None = None) -> None:
        if not route.plumbing:
            return
        topic = route.spec.topic
        edges: dict[str, list[str]] = {}
        for t, routes in self._table.items():
            for handler_id, other in routes.items():
                if other.plumbing and (t, handler_id) != (topic, replacing):
                    edges.setdefault(t, []).extend(cast(Forwarder, other.handler).targets)
        forwarder = cast(Forwarder, route.handler)
        try:
            check_no_cycle(edges, topic, forwarder.targets, forwarder.target_option)
        except ValidationError as exc:
            raise ValidationError(f"failed to {action} handler: {exc}") from None

    async def _flush_before_change(self, topic: str, handler_id: str,
                                   new: HandlerSpec | None = None) -> None:
        """An aggregate about to change (to ``new``) or go collects what it held under its
        old options first: accepted events are never dropped with a handler."""
        route = self._table.get(topic, {}).get(handler_id)
        if (route is not None and route.spec != new
                and isinstance(route.handler, AggregateHandler)):
            await self._flush(route.handler)

    def _keep_secrets(self, new: HandlerSpec, current: HandlerSpec) -> HandlerSpec:
        """A secret option sent back as REDACTED (read from the API) keeps its current value."""
        if not new.options or not current.options:
            return new
        secrets = self._kinds.secret_options(new.kind)
        kept = {k: current.options[k] for k, v in new.options.items()
                if k in secrets and v == REDACTED and k in current.options}
        return replace(new, options={**new.options, **kept}) if kept else new

    def _refuse_placeholders(self, spec: HandlerSpec) -> None:
        for key in sorted(self._kinds.secret_options(spec.kind)):
            if (spec.options or {}).get(key) == REDACTED:
                raise ValidationError(f"failed to create handler: option '{key}' is {REDACTED},"
                                      " a placeholder the API shows instead of the secret; "
                                      "give the real value")


def _flooded(route: Route, ctx: Collecting) -> bool:
    """Whether the handler already had its ``rate`` notifications within the interval."""
    rule = route.flood
    if rule.unlimited:
        return False
    since = ctx.now - rule.interval
    return ctx.notifications(route.spec.id, since, rule.rate) >= rule.rate


def _apply_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    try:
        result = jsonpatch.JsonPatch(patch).apply(doc)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError,
            KeyError, AttributeError) as exc:
        raise ValidationError(f"failed to apply patch: {exc}") from None
    if not isinstance(result, dict):
        raise ValidationError("failed to apply patch: the result is not an object")
    return result


def spec_from_mapping(data: Any, topic: str) -> HandlerSpec:
    """A HandlerSpec from decoded JSON, as Kapacitor decodes it (case-insensitive keys)."""
    if not isinstance(data, dict):
        raise InvalidHandlerSpec("invalid handler json: expected a JSON object")
    fields = {str(k).lower(): v for k, v in data.items()}
    for key in ("id", "kind", "match"):
        if not isinstance(fields.get(key) or "", str):
            raise InvalidHandlerSpec(f"invalid handler json: '{key}' must be a string")
    options = fields.get("options")
    if options is not None and not isinstance(options, dict):
        raise InvalidHandlerSpec("invalid handler json: 'options' must be an object")
    return HandlerSpec(topic=topic, id=fields.get("id") or "", kind=fields.get("kind") or "",
                       options=options, match=fields.get("match") or "")
