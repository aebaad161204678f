"""Our own API (``/pushoverd/v1``): what happened to each alert, re-queueing, resuming, status."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from pushoverd.api.http import json_response
from pushoverd.api.kapacitor import SERVICE
from pushoverd.delivery.worker import DeliveryWorker
from pushoverd.errors import NotFound, ValidationError
from pushoverd.models import Delivery, DeliveryFilter, DeliveryStatus, ReceiptState
from pushoverd.store.base import Store
from pushoverd.timefmt import format_unix, parse_rfc3339nano

STORE = web.AppKey("store", Store)
WORKER = web.AppKey("delivery_worker", DeliveryWorker)
MAX_LIMIT = 1000
# Payload keys safe to show: never the per-handler user key.
# Not the callback: its token is what makes an acknowledgement believable.
_SHOWN = ("message", "title", "priority", "url", "url_title", "device", "sound", "timestamp",
          "retry", "expire", "tags", "ttl", "html", "monospace", "cancel")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else format_unix(ts, "milliseconds")


def delivery_json(d: Delivery) -> dict[str, Any]:
    """A delivery as the API shows it (secrets left out)."""
    return {
        "id": d.id, "topic": d.topic, "handler": d.handler_id, "kind": d.kind,
        "event": d.event_id, "level": d.level.name, "priority": d.payload.get("priority"),
        "recipient": d.payload.get("recipient"), "recipient_note": d.payload.get("recipient_note"),
        "status": d.status.value, "attempts": d.attempts, "created": _iso(d.created_at),
        "updated": _iso(d.updated_at), "next_attempt": _iso(d.next_attempt_at)
        if d.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED) else None,
        "sent": _iso(d.sent_at), "requeued": _iso(d.requeued_at), "request": d.request_id,
        "receipt": d.receipt, "receipt_state": d.receipt_state.value if d.receipt_state else None,
        "acknowledged_at": _iso(d.acknowledged_at), "acknowledged_by": d.acknowledged_by,
        "acknowledged_by_device": d.acknowledged_by_device,
        "expired": d.receipt_state is ReceiptState.EXPIRED,
        "cancelled": d.receipt_state is ReceiptState.CANCELLED, "error": d.last_error,
        "info": d.info, "summary": d.summary_id, "summarizes": d.summarizes,
        "origin": d.origin,
        "notification": {k: d.payload[k] for k in _SHOWN if k in d.payload},
    }


def _time(request: web.Request, name: str) -> float | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        return parse_rfc3339nano(value) / 1e9
    except ValueError:
        raise ValidationError(f"{name}: expected an RFC3339 time, got {value!r}") from None


def _int(request: web.Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name)
    if not value:
        return default
    if not value.isdigit():
        raise ValidationError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _bool(request: web.Request, name: str) -> bool | None:
    value = request.query.get(name, "")
    if value in ("", "true", "false"):
        return None if not value else value == "true"
    raise ValidationError(f"{name}: expected true or false, got {value!r}")


def _statuses(request: web.Request) -> tuple[DeliveryStatus, ...]:
    names = [s for s in request.query.get("status", "").split(",") if s]
    try:
        return tuple(DeliveryStatus(s) for s in names)
    except ValueError:
        choices = ", ".join(s.value for s in DeliveryStatus)
        raise ValidationError(f"status: expected one or more of {choices}") from None


def _filter(request: web.Request) -> DeliveryFilter:
    limit = _int(request, "limit", 100) or 100
    return DeliveryFilter(
        topic=request.query.get("topic") or None, handler_id=request.query.get("handler") or None,
        kind=request.query.get("kind") or None,
        recipient=request.query.get("recipient") or None,
        acknowledged=_bool(request, "acknowledged"),
        statuses=_statuses(request), since=_time(request, "since"), until=_time(request, "until"),
        limit=min(limit, MAX_LIMIT), before_id=_int(request, "before", None))


async def list_deliveries(request: web.Request) -> web.Response:
    """Deliveries, newest first, filtered by topic, handler, status and time."""
    found = await request.app[STORE].deliveries(_filter(request))
    return json_response({"deliveries": [delivery_json(d) for d in found]})


async def get_delivery(request: web.Request) -> web.Response:
    """One delivery."""
    found = await request.app[STORE].delivery(_path_id(request))
    if found is None:
        raise NotFound(f"unknown delivery {request.match_info['id']}")
    return json_response(delivery_json(found))


def _path_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise ValidationError(f"delivery id must be a number, got {raw!r}")
    return int(raw)


async def requeue_one(request: web.Request) -> web.Response:
    """Send one delivery not yet sent (dead, or waiting for a retry) again now."""
    delivery_id = _path_id(request)
    count = await request.app[SERVICE].requeue(DeliveryFilter(delivery_id=delivery_id))
    if not count:
        raise NotFound(f"no dead or failed delivery {delivery_id}")
    return json_response({"requeued": count})


async def requeue_many(request: web.Request) -> web.Response:
    """Send every delivery of a handler not yet sent again now (``topic`` and ``handler``)."""
    topic, handler = request.query.get("topic"), request.query.get("handler")
    if not topic or not handler:
        raise ValidationError("topic and handler query parameters are required")
    count = await request.app[SERVICE].requeue(DeliveryFilter(topic=topic, handler_id=handler))
    return json_response({"requeued": count})


async def resume(request: web.Request) -> web.Response:
    """"Try now": lift the pauses of ``kind`` (default: every kind), probe at once, and make
    its deliveries that wait for a retry due now (dead ones need a requeue); the status."""
    worker = request.app[WORKER]
    kind = request.query.get("kind") or None
    if kind is not None and kind not in worker.kinds:
        raise ValidationError(f"kind: expected one of {', '.join(worker.kinds)}, got {kind!r}")
    resumed = worker.resume(kind)
    waiting = (DeliveryStatus.FAILED,)
    due = [await request.app[SERVICE].requeue(DeliveryFilter(kind=k, statuses=waiting))
           for k in resumed]
    return json_response({"resumed": resumed, "retrying": sum(due),
                          "delivery": worker.status()})


async def status(request: web.Request) -> web.Response:
    """Outbox depth by status, oldest waiting delivery, and each kind's sending state."""
    now = time.time()
    stats = await request.app[STORE].stats()
    oldest = stats.oldest_pending_at
    return json_response({
        "outbox": stats.counts,
        "oldest_pending_age_seconds": None if oldest is None else round(now - oldest, 3),
        "emergencies": {
            "outstanding": stats.outstanding_receipts,
            "oldest_sent": _iso(stats.oldest_outstanding_at)},
        "delivery": request.app[WORKER].status(),
    })


def routes(prefix: str) -> list[web.RouteDef]:
    """The routes under ``prefix``."""
    return [
        web.get(f"{prefix}/status", status, allow_head=False),
        web.get(f"{prefix}/deliveries", list_deliveries, allow_head=False),
        web.post(f"{prefix}/deliveries/requeue", requeue_many),
        web.get(f"{prefix}/deliveries/{{id}}", get_delivery, allow_head=False),
        web.post(f"{prefix}/deliveries/{{id}}/requeue", requeue_one),
        web.post(f"{prefix}/resume", resume),
    ]
