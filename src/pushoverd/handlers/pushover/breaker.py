"""The 4xx breaker: Pushover blocks a sending IP that makes many bad requests in a few minutes.

A burst of rejections (a revoked token, say) opens the breaker: nothing more is sent, every
delivery stays queued, and now and then one probe checks the credentials until they work.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pushoverd.timefmt import format_unix

log = logging.getLogger(__name__)


@dataclass
class Breaker:
    """Counts rejections in a sliding window; open once ``threshold`` fall within ``window``."""

    threshold: int = 10
    window: float = 300.0
    probe_interval: float = 300.0
    open: bool = False
    reason: str | None = None
    probe_at: float = 0.0
    _rejections: deque[float] = field(default_factory=deque)

    def reject(self, now: float, error: str) -> None:
        """Count one rejection; open the breaker when it completes a burst."""
        self._rejections.append(now)
        while self._rejections and self._rejections[0] < now - self.window:
            self._rejections.popleft()
        if self.open or len(self._rejections) < self.threshold:
            return
        self.open, self.probe_at = True, now + self.probe_interval
        self.reason = (
            f"{len(self._rejections)} requests rejected by Pushover within {self.window:.0f}s "
            f"(last: {error}); sending stopped to avoid an IP block. Fix the token or user "
            f"keys; a probe is sent every {self.probe_interval:.0f}s")
        log.error("pushover breaker open: %s", self.reason)

    def probe_due(self, now: float) -> bool:
        """Whether the next probe may go now; if so, the one after it is scheduled."""
        if now < self.probe_at:
            return False
        self.probe_at = now + self.probe_interval
        return True

    def close(self) -> None:
        """A probe (or a send) succeeded: an open breaker's burst is over, and a fresh one must
        reopen it; while closed, rejections keep counting across successes."""
        if not self.open:
            return
        log.warning("pushover accepted a probe; resuming deliveries")
        self.open, self.reason = False, None
        self._rejections.clear()

    def snapshot(self) -> dict[str, Any]:
        """The breaker for the status endpoint."""
        return {"open": self.open, "reason": self.reason,
                "next_probe": format_unix(self.probe_at) if self.open else None}
