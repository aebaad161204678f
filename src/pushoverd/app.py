"""The composition root: builds every concrete part from the config; ordered start and stop."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import signal
import ssl
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from pushoverd import logs
from pushoverd.api.auth import AuthGuard
from pushoverd.api.debugvars import Identity
from pushoverd.api.http import AccessLogger
from pushoverd.api.server import build_app
from pushoverd.api.tls import server_context
from pushoverd.auth import Authenticator, FailureLimiter
from pushoverd.config import Config, HTTPConfig, LoadedConfig
from pushoverd.configservice import ConfigService
from pushoverd.delivery.base import Sender
from pushoverd.delivery.retry import RetryPolicy
from pushoverd.delivery.worker import DeliveryWorker, WorkerSettings
from pushoverd.errors import StartupError
from pushoverd.handlers.aggregate import AggregateKind
from pushoverd.handlers.log import LogKind, LogSender
from pushoverd.handlers.post import Endpoint, PostKind, PostSender
from pushoverd.handlers.publish import PublishKind
from pushoverd.handlers.pushover import (
    LocalTransport,
    PushoverKind,
    PushoverSender,
    PushoverServiceTest,
    RemoteTransport,
    Transport,
)
from pushoverd.handlers.pushover.breaker import Breaker
from pushoverd.handlers.pushover.callback import CallbackReceiver, Callbacks
from pushoverd.handlers.pushover.directory import directory
from pushoverd.handlers.pushover.receipts import ReceiptPoller
from pushoverd.handlers.registry import KindRegistry
from pushoverd.maintenance import Maintenance
from pushoverd.metrics import Metrics
from pushoverd.pushover.client import Observer, PushoverClient
from pushoverd.settings import LiveSettings
from pushoverd.store.base import Store
from pushoverd.store.sqlite import SQLiteStore
from pushoverd.topics.aggregation import AggregateClock
from pushoverd.topics.flood import FloodRule
from pushoverd.topics.load import load_handler_files
from pushoverd.topics.service import TopicService

log = logging.getLogger("pushoverd")

CALLBACK_FALLBACK_POLL = 300.0
"""How often receipts are polled when callbacks are configured (a lost callback's fallback)."""


def store_path(config: Config) -> Path:
    """The SQLite database file."""
    return Path(config.pushoverd.store.path or Path(config.data_dir) / "pushoverd.db")


def build_store(config: Config, metrics: Metrics | None = None) -> Store:
    """The configured store backend (config loading refuses the ones not built yet)."""
    return SQLiteStore(store_path(config), config.pushoverd.store.synchronous,
                       on_commit=metrics.commit if metrics else None)


def build_kinds(config: Config, settings: LiveSettings | None = None) -> KindRegistry:
    """Every handler kind, as the daemon and ``pushoverd check`` both compile specs with. The
    overridable settings (enabled, token, endpoints) are read from ``settings`` when used."""
    live = settings or LiveSettings(config)
    public_url = config.pushoverd.public_url
    callbacks = Callbacks(public_url, live.pushover_token) if public_url else None
    recipients = directory(config.pushoverd.recipients)
    post = PostKind(config.pushoverd.delivery.lease_timeout / 2, endpoint_lookup(live))
    return KindRegistry([PushoverKind(live.pushover_enabled, callbacks, recipients),
                         LogKind(), post], plumbing=[PublishKind(), AggregateKind()])


def endpoint_lookup(settings: LiveSettings) -> Callable[[str], Endpoint | None]:
    """The ``[[httppost]]`` endpoint of a name as the post kind uses it, read when asked."""
    def lookup(name: str) -> Endpoint | None:
        found = settings.endpoint(name)
        if found is None:
            return None
        auth = found.basic_auth
        headers: dict[str, str] = {}
        if auth.valid:  # as Go's SetBasicAuth, before the endpoint's own headers
            pair = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        return Endpoint(found.url, {**headers, **found.headers})
    return lookup


def receipt_poll_interval(config: Config) -> float:
    """With callbacks, polling is only the fallback for a lost one: every few minutes."""
    interval = config.pushoverd.receipts.poll_interval
    return max(interval, CALLBACK_FALLBACK_POLL) if config.pushoverd.public_url else interval


def build_transport(config: Config, observe: Observer | None = None) -> Transport:
    """Pushover requests from a child process (``separate-process``), or from this one; either
    way over at most ``concurrency`` connections, the only ones the daemon opens to Pushover.
    ``observe`` is told of every request (from the child: with its answers)."""
    d, p = config.pushoverd.delivery, config.pushover
    if not d.separate_process:
        return LocalTransport(PushoverClient(p.url, p.token, p.user_key, timeout=d.timeout,
                                             max_connections=d.concurrency, observe=observe))
    return RemoteTransport(p.url, p.token, p.user_key, timeout=d.timeout,
                           max_connections=d.concurrency, log_level=config.logging.level,
                           log_file=config.logging.file, secrets=config.secrets(),
                           log_format=config.logging.format, observe=observe)


def build_senders(config: Config, pushover: Transport) -> dict[str, Sender]:
    """One sender per handler kind."""
    d = config.pushoverd.delivery
    breaker = Breaker(threshold=d.breaker_threshold, window=d.breaker_window,
                      probe_interval=d.breaker_probe_interval)
    return {"pushover": PushoverSender(pushover, breaker), "log": LogSender(),
            "post": PostSender()}


def build_worker(config: Config, store: Store, senders: dict[str, Sender],
                 metrics: Metrics | None = None) -> DeliveryWorker:
    """The delivery worker with its retry policy and pacing from ``[pushoverd.delivery]``."""
    d = config.pushoverd.delivery
    policy = RetryPolicy(initial=d.retry_initial, maximum=d.retry_max, max_age=d.max_age)
    settings = WorkerSettings(concurrency=d.concurrency, poll_interval=d.poll_interval,
                              lease_timeout=d.lease_timeout)
    if metrics is None:
        return DeliveryWorker(store, senders, policy, settings)
    return DeliveryWorker(store, senders, policy, settings, observe=metrics.delivery)


def identity(config: Config) -> Identity:
    """Kapacitor's cluster and server ids (stable for one database file) and hostname."""
    where = str(store_path(config).absolute())
    return Identity(str(uuid.uuid5(uuid.NAMESPACE_URL, f"pushoverd-cluster:{where}")),
                    str(uuid.uuid5(uuid.NAMESPACE_URL, f"pushoverd-server:{where}")),
                    config.hostname)


def watch_state(metrics: Metrics, store: Store, worker: DeliveryWorker,
                pushover: PushoverSender) -> None:
    """What ``/metrics`` reads when scraped: the outbox (from the store, so right after a
    restart), each kind's pause, the breaker and the last quota figures."""
    async def refresh() -> None:
        now = time.time()
        metrics.set_outbox(await store.stats(), now)
        metrics.set_paused({k: not worker.pauses.may_send(k, now) for k in worker.kinds})
        limits = pushover.limits
        metrics.set_pushover(pushover.breaker.open, *(
            (limits.limit, limits.remaining, limits.reset) if limits else (None, None, None)))
    metrics.on_scrape(refresh)


def flood_rule(config: Config) -> FloodRule:
    """The default flood rule; ``[pushoverd.flood] enabled = false`` lifts the limit."""
    flood = config.pushoverd.flood
    return FloodRule(flood.rate if flood.enabled else 0, flood.interval)


def build_guard(config: Config) -> AuthGuard | None:
    """The auth middleware's guard when ``[http] auth-enabled``, else None (the API is open)."""
    if not config.http.auth_enabled:
        return None
    authenticator = Authenticator(config.pushoverd.users, config.http.shared_secret)
    return AuthGuard(authenticator, FailureLimiter())


def build_ssl_context(http: HTTPConfig) -> ssl.SSLContext | None:
    """The TLS context when ``[http] https-enabled``; raises StartupError if it cannot load."""
    if not http.https_enabled:
        return None
    return server_context(http.https_certificate, http.https_private_key)


MIN_SECRET_BYTES = 32
"""RFC 7518 §3.2: an HMAC key at least as long as the hash (32 bytes for HS256, 64 for HS512)."""


def exposure_warnings(http: HTTPConfig) -> list[str]:
    """What to warn about how the API is exposed: open to the network, passwords in clear."""
    warnings = []
    local = is_loopback(http.host)
    if not http.auth_enabled and not local:
        warnings.append(f"the HTTP API is open to the network: [http] bind-address "
                        f"\"{http.bind_address}\" is not loopback and auth-enabled is false, so "
                        "anyone who reaches the port can read and change topics and handlers")
    if http.auth_enabled and not http.https_enabled and not local:
        warnings.append("[http] auth-enabled without https-enabled: passwords and tokens cross "
                        "the network in clear text")
    if http.auth_enabled and 0 < len(http.shared_secret.encode()) < MIN_SECRET_BYTES:
        warnings.append(f"[http] shared-secret is shorter than {MIN_SECRET_BYTES} bytes: "
                        "tokens signed with it are easier to forge")
    return warnings


def is_loopback(host: str) -> bool:
    """Whether a bind host only accepts local connections (empty means every interface)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "" (every interface) or a host name: assume reachable
        return False


class Daemon:
    """pushoverd, assembled: store, topic service, worker and HTTP API."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self.config = config = loaded.config
        self.loaded = loaded
        self.metrics = Metrics()  # a registry of its own: several daemons may share a process
        self.store = build_store(config, self.metrics)
        # What the config API can change; every part reads it from here when it needs it.
        self.settings = LiveSettings(config)
        self.config_service = ConfigService(config, self.store, self.settings)
        self.transport = build_transport(config, self.metrics.pushover_request)
        self.settings.on_change(self._settings_changed)
        self.senders = build_senders(config, self.transport)
        self.worker = build_worker(config, self.store, self.senders, self.metrics)
        self.topics = TopicService(self.store, build_kinds(config, self.settings),
                                   on_enqueued=self.worker.notify, flood=flood_rule(config))
        self.receipts = ReceiptPoller(self.store, self.transport, receipt_poll_interval(config),
                                      directory=directory(config.pushoverd.recipients),
                                      on_enqueued=self.worker.notify,
                                      on_acknowledged=lambda: self.metrics.acknowledged("poll"))
        self.callbacks = CallbackReceiver(
            self.store, directory=directory(config.pushoverd.recipients),
            on_enqueued=self.worker.notify,
            on_acknowledged=lambda: self.metrics.acknowledged("callback"))
        self.aggregates = AggregateClock(self.topics)
        self.maintenance = Maintenance(self.store, self.topics.flush_floods,
                                       retention=config.pushoverd.delivery.retention,
                                       refresh=self.topics.refresh)
        pushover = self.senders["pushover"]
        assert isinstance(pushover, PushoverSender)
        watch_state(self.metrics, self.store, self.worker, pushover)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        """Open the store, load handlers, start delivering, then start accepting requests."""
        log.info("starting pushoverd", extra={"fields": {"config": self.loaded.path or "-"}})
        if self.loaded.ignored:
            log.info("ignoring config settings pushoverd does not use: %s",
                     ", ".join(self.loaded.ignored))
        reclaimed = await self.store.open()
        if reclaimed:
            log.warning("%d deliveries were being sent when the daemon last stopped; they are "
                        "sent again (Pushover may have received some already)", reclaimed)
        await self.config_service.load()  # before handlers compile: endpoints, enabled
        await self.topics.start()
        await self.reload_handler_files()
        if not self.settings.pushover_enabled():
            log.warning("[pushover] is disabled: alerts are stored, but their pushover "
                        "deliveries are dead-lettered as \"service is not enabled\"")
        for sender in self.senders.values():  # ready before the first alert can arrive
            await sender.start()
        self.worker.start()
        self.receipts.start()
        self.aggregates.start()
        self.maintenance.start()
        await self._serve()

    async def _settings_changed(self, old: Config, new: Config) -> None:
        """Make a config change live: new secrets redacted first, then new credentials for
        the transport."""
        logs.redact_also(new.secrets())
        p, q = old.pushover, new.pushover
        if (p.url, p.token, p.user_key) != (q.url, q.token, q.user_key):
            await self.transport.reconfigure(q.url, q.token, q.user_key)
        if p.enabled != q.enabled:
            log.info("[pushover] is now %s", "enabled" if q.enabled else "disabled")

    async def reload_handler_files(self) -> None:
        """Apply ``[load] dir``'s handler files (at start and on SIGHUP)."""
        if self.config.load.enabled:
            await load_handler_files(self.topics, self.config.load.dir)

    async def _serve(self) -> None:
        http = self.config.http
        tests = PushoverServiceTest(self.transport, self.settings.pushover_enabled)
        context = build_ssl_context(http)  # before anything listens: a bad file stops here
        app = build_app(self.topics, self.store, self.worker, tests, self.callbacks,
                        self.config_service, observed=(self.metrics, identity(self.config)),
                        guard=build_guard(self.config))
        self._runner = web.AppRunner(app, access_log=log if http.log_enabled else None,
                                     shutdown_timeout=http.shutdown_timeout,
                                     access_log_class=AccessLogger)
        await self._runner.setup()
        site = web.TCPSite(self._runner, http.host or None, http.port, ssl_context=context)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(f"cannot listen on {http.bind_address}: {exc.strerror}") from None
        self.port = _bound_port(self._runner)
        for warning in exposure_warnings(http):
            log.warning(warning)
        log.info("listening", extra={"fields": {
            "address": f"{http.host}:{self.port}", "protocol": "https" if context else "http",
            "auth": "enabled" if http.auth_enabled else "disabled"}})

    async def stop(self) -> None:
        """Stop accepting, let sends in flight finish within the grace period, close."""
        grace = self.config.http.shutdown_timeout
        if self._runner is not None:
            await self._runner.cleanup()
        await self.maintenance.stop()
        await self.aggregates.stop()
        await self.receipts.stop()
        await self.worker.stop(grace)
        for sender in self.senders.values():
            await sender.aclose()
        await self.store.close()
        log.info("stopped")

    async def run(self) -> None:
        """Run until SIGINT or SIGTERM; SIGHUP reloads the handler files."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(
            self.reload_handler_files()))
        try:
            await self.start()
            await stop.wait()
        finally:
            await self.stop()  # also after a failed start: release what was already opened


def _bound_port(runner: web.AppRunner) -> int | None:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return None
