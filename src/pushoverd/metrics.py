"""The daemon's metrics: every family ``GET /metrics`` shows, on a registry of its own.

The composition root makes one :class:`Metrics` (a registry per daemon, so in-process tests
can build several) and hands its narrow recorders to the parts that count: the API counts
alerts and refusals, the delivery worker outcomes, the Pushover client its requests (from the
sender child process too: the figures come back with its answers), the SQLite writer its
group commits. What is state rather than events (the outbox's depth, the breaker, pauses, the
quota) is read when scraped, by the refreshers the composition root registers, so it is right
after a restart too.

Labels stay bounded: topics (operator-defined, as in Kapacitor's own statistics), levels,
kinds, statuses, reasons, endpoints and HTTP codes; never alert ids or user keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from pushoverd.models import OutboxStats

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The Prometheus text format's content type, as the installed prometheus_client names it."""

PUSHOVER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Pushover answers in well under a second; the client's timeout is 10 s by default."""
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""A group commit is one fsync: a millisecond or two on an SSD, tens on a busy disk."""
GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
"""Writes per commit, up to the writer's batch limit (1024)."""

Refresher = Callable[[], Awaitable[None]]


class Metrics:
    """The metric families, and the recorders the daemon's parts are given."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # No ``*_created`` series: they double the page and say only when the daemon started
        # (process-wide, and before any family below is made).
        disable_created_metrics()
        self.registry = r = registry or CollectorRegistry(auto_describe=True)
        self._refreshers: list[Refresher] = []
        self.alerts = Counter("pushoverd_alerts_received", "Alerts accepted on a topic, by "
                              "their level.", ["topic", "level"], registry=r)
        self.bad_requests = Counter("pushoverd_bad_requests", "Requests refused as the "
                                    "client's mistake (4xx), by reason.", ["reason"], registry=r)
        self.deliveries = Counter("pushoverd_deliveries", "Deliveries finished, by handler kind "
                                  "and final status (sent or dead).", ["kind", "status"],
                                  registry=r)
        self.retries = Counter("pushoverd_delivery_retries", "Failed delivery attempts that "
                               "were scheduled for another try, by kind.", ["kind"], registry=r)
        self.outbox = Gauge("pushoverd_outbox_deliveries", "Deliveries in the outbox, by "
                            "status.", ["status"], registry=r)
        self.oldest_waiting = Gauge("pushoverd_outbox_oldest_waiting_seconds", "Age of the "
                                    "oldest pending or failed delivery (0 when none waits).",
                                    registry=r)
        self.paused = Gauge("pushoverd_delivery_paused", "1 while a handler kind's deliveries "
                            "are paused (an outage, a spent quota, an open breaker).", ["kind"],
                            registry=r)
        self.request_seconds = Histogram(
            "pushoverd_pushover_request_duration_seconds", "Pushover API requests, by endpoint, "
            "from sending to the answer (or the failure).", ["endpoint"],
            buckets=PUSHOVER_BUCKETS, registry=r)
        self.responses = Counter("pushoverd_pushover_responses", "Pushover API answers, by "
                                 "endpoint and HTTP status (\"error\": no answer).",
                                 ["endpoint", "code"], registry=r)
        self.breaker_open = Gauge("pushoverd_pushover_breaker_open", "1 while the 4xx breaker "
                                  "holds every Pushover send back.", registry=r)
        self.quota = _Quota()
        r.register(self.quota)
        self.emergencies = Gauge("pushoverd_pushover_emergencies_outstanding", "Emergencies "
                                 "sent and not yet acknowledged, expired or cancelled.",
                                 registry=r)
        self.acknowledgements = Counter("pushoverd_pushover_acknowledgements", "Emergencies "
                                        "acknowledged, by how pushoverd learnt it (poll or "
                                        "callback).", ["via"], registry=r)
        self.commit_seconds = Histogram("pushoverd_store_commit_duration_seconds", "One group "
                                        "commit of the store's writer, BEGIN to durable COMMIT.",
                                        buckets=COMMIT_BUCKETS, registry=r)
        self.commit_size = Histogram("pushoverd_store_commit_group_size", "Writes (alert "
                                     "batches, delivery outcomes...) sharing one commit.",
                                     buckets=GROUP_BUCKETS, registry=r)

    # Recorders, handed to the parts that count -------------------------------------------
    def alert(self, topic: str, level: str) -> None:
        """One alert accepted on ``topic``."""
        self.alerts.labels(topic, level).inc()

    def bad_request(self, reason: str) -> None:
        """One request refused as the client's mistake."""
        self.bad_requests.labels(reason).inc()

    def delivery(self, kind: str, outcome: str) -> None:
        """One attempt's outcome: ``sent`` and ``dead`` finish it, ``retry`` reschedules."""
        if outcome == "retry":
            self.retries.labels(kind).inc()
        else:
            self.deliveries.labels(kind, outcome).inc()

    def pushover_request(self, endpoint: str, code: str, seconds: float) -> None:
        """One Pushover API request: its endpoint, answer (an HTTP status or ``error``) and
        duration."""
        self.request_seconds.labels(endpoint).observe(seconds)
        self.responses.labels(endpoint, code).inc()

    def acknowledged(self, via: str) -> None:
        """One emergency newly acknowledged."""
        self.acknowledgements.labels(via).inc()

    def commit(self, size: int, seconds: float) -> None:
        """One group commit (called from the writer thread: prometheus_client locks)."""
        self.commit_size.observe(size)
        self.commit_seconds.observe(seconds)

    # State, read at scrape time ----------------------------------------------------------
    def set_outbox(self, stats: OutboxStats, now: float) -> None:
        """The outbox's depth, oldest waiting delivery and outstanding emergencies."""
        for status, count in stats.counts.items():
            self.outbox.labels(status).set(count)
        oldest = stats.oldest_pending_at
        self.oldest_waiting.set(max(0.0, now - oldest) if oldest is not None else 0.0)
        self.emergencies.set(stats.outstanding_receipts)

    def set_paused(self, paused: Mapping[str, bool]) -> None:
        """Which kinds are paused now."""
        for kind, is_paused in paused.items():
            self.paused.labels(kind).set(1 if is_paused else 0)

    def set_pushover(self, breaker_open: bool, limit: int | None, remaining: int | None,
                     reset: int | None) -> None:
        """The breaker and the last quota figures (unknown figures are left out, not 0)."""
        self.breaker_open.set(1 if breaker_open else 0)
        self.quota.figures = (limit, remaining, reset)

    def on_scrape(self, refresher: Refresher) -> None:
        """Run ``refresher`` before each scrape (to read state such as the outbox)."""
        self._refreshers.append(refresher)

    async def refresh(self) -> None:
        """Bring the scrape-time gauges up to date."""
        for refresher in self._refreshers:
            await refresher()

    async def exposition(self) -> bytes:
        """Everything, up to date, in the Prometheus text format."""
        await self.refresh()
        return generate_latest(self.registry)

    # Reading back, for /kapacitor/v1/debug/vars ------------------------------------------
    def totals(self, counter: Counter | Gauge, by: Iterable[str] = ()) -> dict[tuple[str, ...],
                                                                            float]:
        """A metric's current values summed by the labels ``by``."""
        keys = tuple(by)
        sums: dict[tuple[str, ...], float] = {}
        for family in counter.collect():
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                key = tuple(sample.labels.get(k, "") for k in keys)
                sums[key] = sums.get(key, 0.0) + sample.value
        return sums

    def total(self, counter: Counter | Gauge) -> float:
        """A metric's current value summed over all its labels."""
        return self.totals(counter).get((), 0.0)


class _Quota(Collector):
    """The last ``X-Limit-App-*`` figures Pushover sent; only those it did send."""

    _FAMILIES = (
        ("pushoverd_pushover_app_limit", "The last X-Limit-App-Limit Pushover sent "
         "(messages per month)."),
        ("pushoverd_pushover_app_remaining", "The last X-Limit-App-Remaining Pushover sent."),
        ("pushoverd_pushover_app_reset_timestamp_seconds", "The last X-Limit-App-Reset "
         "Pushover sent (Unix time of the monthly reset)."),
    )

    def __init__(self) -> None:
        self.figures: tuple[int | None, int | None, int | None] = (None, None, None)

    def collect(self) -> Iterable[Metric]:
        """A gauge per known figure."""
        for (name, text), value in zip(self._FAMILIES, self.figures, strict=True):
            if value is not None:
                yield GaugeMetricFamily(name, text, value=value)

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the families come and go with the figures."""
        return []
