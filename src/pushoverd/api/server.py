"""The aiohttp application: Kapacitor's API under /kapacitor/v1, ours under /pushoverd/v1."""

from __future__ import annotations

from aiohttp import web

from pushoverd.api import callback, config, debugvars, kapacitor, metrics, outbox, servicetests
from pushoverd.api.auth import AuthGuard
from pushoverd.api.http import kapacitor_middleware
from pushoverd.configservice import ConfigService
from pushoverd.delivery.worker import DeliveryWorker
from pushoverd.handlers.pushover import PushoverServiceTest
from pushoverd.handlers.pushover.callback import CallbackReceiver
from pushoverd.metrics import Metrics
from pushoverd.store.base import Store
from pushoverd.topics.service import TopicService

MAX_BODY = 16 * 1024 * 1024


def build_app(topics: TopicService, store: Store, worker: DeliveryWorker,
              tests: PushoverServiceTest | None = None,
              callbacks: CallbackReceiver | None = None,
              config_service: ConfigService | None = None,
              observed: tuple[Metrics, debugvars.Identity] | None = None,
              guard: AuthGuard | None = None) -> web.Application:
    """The web application over the topic service and the outbox (and service tests, the
    config override API, ``/metrics`` and ``debug/vars`` over ``observed``); ``guard``
    demands credentials on every route it does not list open."""
    middlewares = [kapacitor_middleware]
    if observed is not None:  # inside the error middleware: it sees the exceptions
        middlewares.append(metrics.count_bad_requests)
    if guard is not None:  # innermost: its refusals get Kapacitor's headers and are counted
        middlewares.append(guard.middleware)
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app[kapacitor.SERVICE] = topics
    app[outbox.STORE] = store
    app[outbox.WORKER] = worker
    if tests is not None:
        app[servicetests.SERVICE_TESTS] = tests
    if config_service is not None:
        app[config.CONFIG_SERVICE] = config_service
    if observed is not None:
        app[metrics.METRICS], app[debugvars.IDENTITY] = observed
        app.add_routes(metrics.routes())
    # Kapacitor rewrites /kapacitor/v1preview/... to /kapacitor/v1/...; serve both.
    for prefix in ("/kapacitor/v1", "/kapacitor/v1preview"):
        app.add_routes(kapacitor.routes(prefix))
        if tests is not None:
            app.add_routes(servicetests.routes(prefix))
        if config_service is not None:
            app.add_routes(config.routes(prefix))
        if observed is not None:
            app.add_routes(debugvars.routes(prefix))
    app.add_routes(outbox.routes("/pushoverd/v1"))
    if callbacks is not None:
        app[callback.RECEIVER] = callbacks
        app.add_routes(callback.routes())
    return app
