"""The Pushover integration's delivery side: Pushover's etiquette, in one place.

It turns each answer into what the outbox must do (``DeliveryFailed``), following
spec/pushover-api.md:

| answer                                  | verdict                                               |
|-----------------------------------------|-------------------------------------------------------|
| 2xx                                     | sent; the request id, any ``info`` and the quota kept |
| connection error, timeout, 5xx          | retry with backoff; pause Pushover for 5 s            |
| 429 with a usable reset                 | retry at the reset; pause Pushover until then         |
| 429 without one                         | ask ``apps/limits.json``; else retry with backoff     |
| other 4xx                               | dead; counts toward the breaker; a refused per-handler|
|                                         | user key is held back for 10 minutes                  |

While the breaker is open nothing is sent: the first delivery after each probe interval
probes the credentials with ``users/validate.json`` (no message spent) and is sent if they
work; sends that arrive meanwhile wait for that probe's outcome. A quota the last answer
reported as spent is not tried again before its reset. Deliveries held back unsent say so
(``attempted=False``): they wait for the pause uncounted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pushoverd.delivery.base import Sent
from pushoverd.delivery.retry import MIN_RETRY_SECONDS
from pushoverd.errors import DeliveryFailed, PushoverError, PushoverRateLimited, PushoverRejected
from pushoverd.handlers.pushover.breaker import Breaker
from pushoverd.handlers.pushover.refused import RefusedRecipients
from pushoverd.handlers.pushover.transport import Transport
from pushoverd.pushover.client import RateLimit
from pushoverd.timefmt import format_unix

log = logging.getLogger(__name__)

MAX_RESET_AHEAD = 32 * 86400.0
"""A quota resets on the 1st of the next month: a reset further ahead than this is garbage."""


class PushoverSender:
    """Sends stored pushover payloads through a transport, keeping Pushover's rules."""

    def __init__(self, transport: Transport, breaker: Breaker | None = None,
                 refused: RefusedRecipients | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.transport = transport
        self.breaker = breaker or Breaker()
        self.refused = refused or RefusedRecipients()
        self._clock = clock
        self.limits: RateLimit | None = None
        self.last_success_at: float | None = None
        self._probing = asyncio.Lock()

    async def start(self) -> None:
        """Start the transport, so the first alert does not wait for it. A transport that
        cannot start now is logged, not fatal: alerts are still stored, and the first send
        tries again."""
        try:
            await self.transport.start()
        except PushoverError as exc:
            log.error("the Pushover transport did not start (the first send retries): %s", exc)

    async def aclose(self) -> None:
        """Close the transport."""
        await self.transport.aclose()

    async def send(self, payload: dict[str, Any]) -> Sent:
        """Send one payload (a message, or the cancel of an emergency's repeats), or raise
        DeliveryFailed with Pushover's verdict."""
        now = self._clock()
        self._hold_refused(payload, now)
        if "cancel" not in payload:  # a cancel spends no message: a spent quota cannot stop it
            self._hold_spent_quota(now)
        if not self.breaker.open:
            return await self._send(payload)
        async with self._probing:  # one probe at a time; the others learn its outcome
            if self.breaker.open:
                await self._probe()
            return await self._send(payload)

    async def _send(self, payload: dict[str, Any]) -> Sent:
        try:
            if "cancel" in payload:
                cancelled = await self.transport.cancel_by_tag(str(payload["cancel"]))
                self._succeeded(None)
                return Sent(info=f"cancelled {cancelled} emergency notification(s)")
            result = await self.transport.send(payload)
        except PushoverRateLimited as exc:
            raise await self._rate_limited(exc) from None
        except PushoverRejected as exc:
            raise self._rejected(exc, payload) from None
        except PushoverError as exc:  # transient: Pushover asks for 5 s between retries
            self._note(exc.limits)
            raise DeliveryFailed(str(exc), retry=True,
                                 pause_until=self._clock() + MIN_RETRY_SECONDS) from None
        self._succeeded(result.limits)
        return Sent(result.request_id, result.info, result.receipt)

    def _hold_refused(self, payload: dict[str, Any], now: float) -> None:
        user = payload.get("user")
        if user and (reason := self.refused.refused(user, now)):
            raise DeliveryFailed(reason, retry=False)

    async def _probe(self) -> None:
        """With the breaker open: hold the send unless a probe is due, then check the
        credentials (without a validate endpoint, the send itself is the probe)."""
        breaker = self.breaker
        if not breaker.probe_due(self._clock()):
            raise DeliveryFailed(f"not sent: {breaker.reason}", retry=True, attempted=False,
                                 retry_at=breaker.probe_at, pause_until=breaker.probe_at)
        if not self.transport.can_validate:
            return
        try:
            await self.transport.validate()
        except PushoverError as exc:
            log.warning("breaker probe failed, deliveries stay queued: %s", exc)
            raise DeliveryFailed(f"not sent: breaker probe failed: {exc}", retry=True,
                                 attempted=False, retry_at=breaker.probe_at,
                                 pause_until=breaker.probe_at) from None
        breaker.close()

    def _hold_spent_quota(self, now: float) -> None:
        limits = self.limits
        reset = _usable_reset(limits.reset if limits else None, now)
        if limits is not None and limits.remaining == 0 and reset is not None:
            raise DeliveryFailed(f"not sent: Pushover message quota exhausted until "
                                 f"{format_unix(reset)}", retry=True, retry_at=reset,
                                 pause_until=reset, attempted=False)

    async def _rate_limited(self, exc: PushoverRateLimited) -> DeliveryFailed:
        now = self._clock()
        self._note(exc.limits)
        reset = _usable_reset(exc.reset, now)
        if reset is None:
            figures = await self._fetch_limits()
            if figures is not None and figures.remaining == 0:
                reset = _usable_reset(figures.reset, now)
        if reset is None:
            return DeliveryFailed(f"{exc} (no usable reset time: retrying with backoff)",
                                  retry=True, pause_until=now + MIN_RETRY_SECONDS)
        return DeliveryFailed(f"{exc} (rate limited until {format_unix(reset)})", retry=True,
                              retry_at=reset, pause_until=reset)

    async def _fetch_limits(self) -> RateLimit | None:
        try:
            figures = await self.transport.limits()
        except PushoverError as exc:
            log.warning("could not read Pushover's quota figures: %s", exc)
            return None
        self._note(figures)
        return figures

    def _rejected(self, exc: PushoverRejected, payload: dict[str, Any]) -> DeliveryFailed:
        now = self._clock()
        self._note(exc.limits)
        if exc.param == "user" and payload.get("user"):
            self.refused.refuse(payload["user"], str(exc), now)
        self.breaker.reject(now, str(exc))
        pause = self.breaker.probe_at if self.breaker.open else None
        return DeliveryFailed(str(exc), retry=False, pause_until=pause)

    def _succeeded(self, limits: RateLimit | None) -> None:
        self.breaker.close()
        self.last_success_at = self._clock()
        self._note(limits)

    def _note(self, limits: RateLimit | None) -> None:
        if limits is not None:
            self.limits = limits

    def resume(self, now: float) -> None:
        """An operator said "try now": probe at once, release held keys, retry a spent quota."""
        if self.breaker.open:
            self.breaker.probe_at = now
        self.refused.clear()
        if self.limits is not None and self.limits.remaining == 0:
            self.limits = replace(self.limits, remaining=None)

    def status(self, now: float) -> dict[str, Any]:
        """The breaker, the last quota figures, the last success and the held keys."""
        limits = self.limits
        return {
            "breaker": self.breaker.snapshot(),
            "rate_limit": None if limits is None else {
                "limit": limits.limit, "remaining": limits.remaining,
                "reset": format_unix(limits.reset) if limits.reset else None},
            "last_success": format_unix(self.last_success_at) if self.last_success_at else None,
            "refused_user_keys": self.refused.count(now),
        }


def _usable_reset(reset: float | None, now: float) -> float | None:
    """A reset time worth waiting for: in the future, and not absurdly far."""
    if reset is None or not now < reset <= now + MAX_RESET_AHEAD:
        return None
    return float(reset)
