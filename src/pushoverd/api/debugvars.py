"""``GET /kapacitor/v1/debug/vars``: Kapacitor's expvar page, read by ``kapacitor vars`` and
``kapacitor stats general``.

Written as Go's ``expvar`` handler writes it (``"{\\n"``, ``"key": value`` pairs in key order
joined by ``",\\n"``, ``"\\n}\\n"``). ``kapacitor`` maps an id per statistic to
``{"name", "tags", "values"}``: each topic's ``topics`` statistic (``collected``) as Kapacitor
publishes it, then pushoverd's own (``ingest``, ``deliveries`` per kind, ``outbox``,
``pushover``), read from the same metrics as ``/metrics``. ``memstats`` holds what Python can
tell of Go's runtime figures: resident memory and garbage collections.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pushoverd.api.http import JSON_TYPE, KAPACITOR_VERSION
from pushoverd.api.kapacitor import SERVICE
from pushoverd.api.metrics import METRICS
from pushoverd.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Identity:
    """Who answers: Kapacitor's cluster and server ids, and the configured ``hostname``."""

    cluster_id: str
    server_id: str
    host: str


IDENTITY = web.AppKey("identity", Identity)


async def debug_vars(request: web.Request) -> web.Response:
    """The expvar page."""
    metrics, me = request.app[METRICS], request.app[IDENTITY]
    await metrics.refresh()
    topics = await request.app[SERVICE].topics()
    stats = [_stat("topics", {"id": t.id}, {"collected": t.collected}) for t in topics]
    stats += pushoverd_stats(metrics)
    tagged = {"cluster_id": me.cluster_id, "server_id": me.server_id, "host": me.host}
    kapacitor = {_stat_id(s): {**s, "tags": {**s["tags"], **tagged}} for s in stats}
    return web.Response(body=render(_vars(me, kapacitor)), headers={"Content-Type": JSON_TYPE})


def render(variables: dict[str, Any]) -> bytes:
    """Go's expvar layout: one ``"key": value`` line per variable, in key order."""
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(variables.items())]
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


def _vars(me: Identity, kapacitor: dict[str, Any]) -> dict[str, Any]:
    return {"cluster_id": me.cluster_id, "server_id": me.server_id, "host": me.host,
            "product": "kapacitor", "version": KAPACITOR_VERSION, "platform": "OSS",
            "num_tasks": 0, "num_enabled_tasks": 0, "num_subscriptions": 0,
            "cmdline": sys.argv, "memstats": _memstats(), "kapacitor": kapacitor}


def _stat(name: str, tags: dict[str, str], values: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "tags": tags, "values": values}


def _stat_id(stat: dict[str, Any]) -> str:
    """Kapacitor keys each statistic by a random UUID; ours stays the same between reads."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, json.dumps([stat["name"], stat["tags"]])))


def _n(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def pushoverd_stats(m: Metrics) -> list[dict[str, Any]]:
    """pushoverd's core counters as Kapacitor statistics."""
    sent = m.totals(m.deliveries, ("kind", "status"))
    retries = m.totals(m.retries, ("kind",))
    paused = m.totals(m.paused, ("kind",))
    kinds = sorted({k for k, _ in sent} | {k for (k,) in retries} | {k for (k,) in paused})
    outbox = {status: _n(v) for (status,), v in sorted(m.totals(m.outbox, ("status",)).items())}
    return [
        _stat("ingest", {}, {"alerts_received": _n(m.total(m.alerts)),
                             "bad_requests": _n(m.total(m.bad_requests)),
                             "commits": _n(_sample(m.commit_size, "_count")),
                             "commit_writes": _n(_sample(m.commit_size, "_sum"))}),
        *(_stat("deliveries", {"kind": k}, {
            "sent": _n(sent.get((k, "sent"), 0)), "dead": _n(sent.get((k, "dead"), 0)),
            "retries": _n(retries.get((k,), 0)), "paused": _n(paused.get((k,), 0))})
          for k in kinds),
        _stat("outbox", {}, {**outbox,
                             "oldest_waiting_seconds": _n(m.total(m.oldest_waiting)),
                             "emergencies_outstanding": _n(m.total(m.emergencies))}),
        _stat("pushover", {}, {"requests": _n(_sample(m.responses, "_total")),
                               "breaker_open": _n(m.total(m.breaker_open)),
                               "acknowledgements": _n(m.total(m.acknowledgements))}),
    ]


def _sample(metric: Any, suffix: str) -> float:
    """The sum of a metric's samples whose name ends with ``suffix``."""
    return sum(s.value for family in metric.collect() for s in family.samples
               if s.name.endswith(suffix))


def _memstats() -> dict[str, int]:
    """Go's MemStats has no Python twin: resident memory (bytes) and GC runs stand in."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss = _resident_bytes()
    return {"Alloc": rss, "Sys": max(rss, usage.ru_maxrss * 1024), "HeapAlloc": rss,
            "NumGC": sum(s["collections"] for s in gc.get_stats())}


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def routes(prefix: str) -> list[web.RouteDef]:
    """``<prefix>/debug/vars``."""
    return [web.get(f"{prefix}/debug/vars", debug_vars, allow_head=False)]
