"""The daemon's parts wired as ``pushoverd.app`` wires them, for tests that drive the real HTTP
API in-process (the acceptance tier starts the real daemon instead)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from tests.conftest import TOKEN, USER

from pushoverd.api.auth import AuthGuard
from pushoverd.api.debugvars import Identity
from pushoverd.api.server import build_app
from pushoverd.configservice import ConfigService
from pushoverd.delivery.retry import RetryPolicy
from pushoverd.delivery.worker import DeliveryWorker, WorkerSettings
from pushoverd.handlers.aggregate import AggregateKind
from pushoverd.handlers.log import LogKind, LogSender
from pushoverd.handlers.post import PostKind, PostSender
from pushoverd.handlers.publish import PublishKind
from pushoverd.handlers.pushover import (
    LocalTransport,
    PushoverKind,
    PushoverSender,
    PushoverServiceTest,
    Transport,
)
from pushoverd.handlers.pushover.callback import CallbackReceiver
from pushoverd.handlers.registry import KindRegistry
from pushoverd.metrics import Metrics
from pushoverd.pushover.client import PushoverClient
from pushoverd.store.base import Store
from pushoverd.topics.service import NO_FLOOD_LIMIT, TopicService

UNREACHABLE = "http://127.0.0.1:9/1/messages.json"  # nothing listens on the discard port


@dataclass
class Wired:
    """The web app and the parts behind it."""

    app: web.Application
    topics: TopicService
    worker: DeliveryWorker
    transport: Transport


async def wire(store: Store, *, enabled: bool = True, pushover_url: str = UNREACHABLE,
               service_tests: bool = False,
               config_service: ConfigService | None = None,
               observed: tuple[Metrics, Identity] | None = None,
               guard: AuthGuard | None = None) -> Wired:
    """The API over ``store`` (open, or behind ``guard``, with the callback route) with a
    worker that is not started: deliveries stay in the outbox for the test to inspect unless
    it starts the worker."""
    transport = LocalTransport(PushoverClient(pushover_url, TOKEN, USER, timeout=2.0))
    post = PostSender()
    senders = {"pushover": PushoverSender(transport), "log": LogSender(), "post": post}
    worker = DeliveryWorker(store, senders, RetryPolicy(), WorkerSettings(poll_interval=0.05))
    kinds = KindRegistry([PushoverKind(enabled), LogKind(), PostKind()],
                         plumbing=[PublishKind(), AggregateKind()])
    topics = TopicService(store, kinds, on_enqueued=worker.notify, flood=NO_FLOOD_LIMIT)
    await topics.start()
    tests = PushoverServiceTest(transport, enabled) if service_tests else None
    callbacks = CallbackReceiver(store) if guard else None
    app = build_app(topics, store, worker, tests, callbacks, config_service=config_service,
                    observed=observed, guard=guard)

    async def close(_: web.Application) -> None:
        await worker.stop(1.0)
        await transport.aclose()
        await post.aclose()

    app.on_cleanup.append(close)
    return Wired(app, topics, worker, transport)
