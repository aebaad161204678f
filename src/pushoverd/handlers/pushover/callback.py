"""Acknowledgement callbacks: Pushover POSTs to an emergency's ``callback`` URL when someone
acknowledges it. Pushover signs nothing, so each emergency gets its own unguessable token in
its URL (an HMAC of its handler, alert, level and time under a key derived from the app token),
and a callback counts only when its token and its ``receipt`` belong to the same emergency.
Anything else changes nothing; a repeated callback is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping

from pushoverd.handlers.pushover.directory import Recipient
from pushoverd.handlers.pushover.receipts import record, who
from pushoverd.models import Delivery, ReceiptState, ReceiptUpdate
from pushoverd.store.base import Store

log = logging.getLogger(__name__)

CALLBACK_PATH = "/pushoverd/v1/callback"
_RECEIPT = re.compile(r"[A-Za-z0-9]{30}")
_TOKEN = re.compile(r"[0-9a-f]{40}")


class Callbacks:
    """The callback URLs emergencies carry, and their tokens."""

    def __init__(self, public_url: str, app_token: str | Callable[[], str]) -> None:
        self._base = f"{public_url.rstrip('/')}{CALLBACK_PATH}"
        # The token in effect when the emergency is planned (the config API can change it);
        # a callback is checked against the URL stored with its delivery, so an emergency
        # sent under the old token still matches its callback.
        self._token = app_token if callable(app_token) else (lambda: app_token)

    def url(self, topic: str, handler_id: str, event_id: str, level: str, time_ns: int) -> str:
        """The callback URL of one emergency ("" while no app token is configured)."""
        app_token = self._token()
        if not app_token:
            return ""
        # A key of our own from the app token: one secret less to configure, and no token
        # is ever derived from outside input alone.
        key = hashlib.sha256(b"pushoverd callbacks\0" + app_token.encode()).digest()
        message = "\0".join((topic, handler_id, event_id, level, str(time_ns))).encode()
        token = hmac.new(key, message, hashlib.sha256).hexdigest()[:40]
        return f"{self._base}/{token}"


class CallbackReceiver:
    """Records the acknowledgements Pushover calls back with."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time,
                 directory: Mapping[str, Recipient] | None = None,
                 on_enqueued: Callable[[], None] = lambda: None,
                 on_acknowledged: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._on_acknowledged = on_acknowledged  # metrics
        self._clock = clock
        self._directory = dict(directory or {})
        self._on_enqueued = on_enqueued

    async def receive(self, token: str, form: Mapping[str, str]) -> bool:
        """Record a callback; whether its token and receipt name one emergency of ours."""
        receipt = form.get("receipt", "")
        if not _TOKEN.fullmatch(token) or not _RECEIPT.fullmatch(receipt):
            return False
        delivery = await self._store.delivery_by_receipt(receipt)
        if delivery is None or not _token_of(delivery, token):
            log.warning("refused a callback whose token and receipt do not match")
            return False
        if form.get("acknowledged") == "1":
            update = _acknowledgement(form, self._clock(), self._directory)
            if await record(self._store, delivery, update, self._clock()):
                self._on_acknowledged()
                self._on_enqueued()
        return True


def _token_of(delivery: Delivery, token: str) -> bool:
    url = str(delivery.payload.get("callback", ""))
    return hmac.compare_digest(url.rpartition("/")[2], token)


def _acknowledgement(form: Mapping[str, str], now: float,
                     directory: Mapping[str, Recipient]) -> ReceiptUpdate:
    at = form.get("acknowledged_at", "")
    return ReceiptUpdate(
        ReceiptState.ACKNOWLEDGED, acknowledged_at=float(at) if at.isdigit() else now,
        acknowledged_by=who(form.get("acknowledged_by"), directory),
        acknowledged_by_device=form.get("acknowledged_by_device") or None)
