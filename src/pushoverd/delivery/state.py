"""Whether sending may go on now: pauses for outages and rate limits, and the 4xx breaker.

Pushover blocks a sending IP that makes many bad requests within a few minutes, so a burst of
rejections (a revoked token, say) opens a breaker that stops all sending, keeps everything
queued, and lets one probe through now and then until one succeeds.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pushoverd.delivery.recipients import RefusedRecipients
from pushoverd.delivery.retry import Action, Decision
from pushoverd.errors import PushoverError, PushoverRejected
from pushoverd.timefmt import format_unix

log = logging.getLogger(__name__)




@dataclass
class SendingState:
    """The worker's view of Pushover: paused or not, why, and the last rate-limit figures."""

    breaker_threshold: int = 10
    breaker_window: float = 300.0
    probe_interval: float = 300.0
    paused_until: float | None = None
    pause_reason: str | None = None
    breaker_open: bool = False
    breaker_reason: str | None = None
    probe_at: float = 0.0
    limits: Any = None
    last_success_at: float | None = None
    refused: RefusedRecipients = field(default_factory=RefusedRecipients)
    _rejections: deque[float] = field(default_factory=deque)

    def may_send(self, now: float) -> bool:
        """Whether an attempt may start now."""
        if self.breaker_open:
            return now >= self.probe_at
        return self.paused_until is None or now >= self.paused_until

    def wait_seconds(self, now: float) -> float | None:
        """How long until sending may resume (None when it may now)."""
        resume = self.probe_at if self.breaker_open else self.paused_until
        return None if resume is None or resume <= now else resume - now

    def on_attempt(self, now: float) -> None:
        """An attempt starts; while the breaker is open it is the probe, one per interval."""
        if self.breaker_open:
            self.probe_at = now + self.probe_interval

    def on_success(self, now: float, limits: Any) -> None:
        """A send succeeded: close the breaker, clear an elapsed pause, note the quota.

        A pause still running is kept: another delivery's retry is due at its end, and
        sending earlier would let that handler's later alerts overtake it.
        """
        if self.breaker_open:
            log.warning("pushover accepted a probe; resuming deliveries")
            self._rejections.clear()  # the burst is over; a fresh one must reopen it
        self.breaker_open, self.breaker_reason = False, None
        if self.paused_until is not None and self.paused_until <= now:
            self.paused_until, self.pause_reason = None, None
        self.last_success_at = now
        self._note_limits(limits)
        remaining, reset = getattr(limits, "remaining", None), getattr(limits, "reset", None)
        if remaining == 0 and reset and reset > now:
            until = format_unix(reset)
            self._pause(float(reset), f"Pushover message quota exhausted until {until}")

    def on_failure(self, now: float, exc: PushoverError, decision: Decision) -> None:
        """A send failed: pause on outages and rate limits, count rejections for the breaker."""
        self._note_limits(exc.limits)
        if decision.action is Action.PAUSE and decision.retry_at:
            until = decision.retry_at
            self._pause(until, f"rate limited by Pushover until {format_unix(until)}")
        elif decision.action is Action.RETRY and decision.retry_at:
            self._pause(decision.retry_at, f"Pushover unavailable: {decision.error}")
        elif isinstance(exc, PushoverRejected):
            self._count_rejection(now, str(exc))

    def _pause(self, until: float, reason: str) -> None:
        if self.paused_until is not None and self.paused_until >= until:
            return  # a longer pause (a rate limit, a later retry) already covers this one
        self.paused_until, self.pause_reason = until, reason
        log.warning("pausing deliveries until %s: %s", format_unix(until), reason)

    def _note_limits(self, limits: Any) -> None:
        if limits is not None:
            self.limits = limits

    def _count_rejection(self, now: float, error: str) -> None:
        self._rejections.append(now)
        while self._rejections and self._rejections[0] < now - self.breaker_window:
            self._rejections.popleft()
        if self.breaker_open:
            return
        if len(self._rejections) >= self.breaker_threshold:
            self.breaker_open, self.probe_at = True, now + self.probe_interval
            self.breaker_reason = (
                f"{len(self._rejections)} requests rejected by Pushover within "
                f"{self.breaker_window:.0f}s (last: {error}); sending stopped to avoid an IP "
                "block. Fix the token or user keys; a probe is sent every "
                f"{self.probe_interval:.0f}s")
            log.error("delivery breaker open: %s", self.breaker_reason)

    def snapshot(self, now: float) -> dict[str, Any]:
        """The state for the status endpoint."""
        limits = self.limits
        return {
            "sending": self.may_send(now),
            "paused_until": format_unix(self.paused_until) if self.paused_until else None,
            "pause_reason": self.pause_reason if self.paused_until else None,
            "breaker": {"open": self.breaker_open, "reason": self.breaker_reason,
                        "next_probe": format_unix(self.probe_at) if self.breaker_open else None},
            "rate_limit": None if limits is None else {
                "limit": limits.limit, "remaining": limits.remaining,
                "reset": format_unix(limits.reset) if limits.reset else None},
            "last_success": format_unix(self.last_success_at) if self.last_success_at else None,
            "refused_user_keys": self.refused.count(now),
        }
