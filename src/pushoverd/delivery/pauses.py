"""Which integrations may send now: the pauses their failures asked for, per kind.

An integration that fails as a whole (Pushover down, its quota spent, its breaker open) says
so on the failure (``DeliveryFailed.pause_until``); the worker then sends nothing of that kind
until the pause ends, while other kinds keep sending. A pause only ever lengthens, because a
delivery's retry is due at its end and sending earlier would let that handler's later
notifications overtake it; an operator lifts it with ``resume``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pushoverd.timefmt import format_unix

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pause:
    """Nothing of one kind is sent before ``until``, for ``reason``."""

    until: float
    reason: str


class Pauses:
    """The running pauses, by kind."""

    def __init__(self) -> None:
        self._pauses: dict[str, Pause] = {}

    def pause(self, kind: str, until: float, reason: str) -> None:
        """Pause ``kind`` until ``until`` unless a longer pause already covers it."""
        current = self._pauses.get(kind)
        if current is not None and current.until >= until:
            return
        self._pauses[kind] = Pause(until, reason)
        log.warning("pausing %s deliveries until %s: %s", kind, format_unix(until), reason)

    def may_send(self, kind: str, now: float) -> bool:
        """Whether a delivery of ``kind`` may be attempted now."""
        return self.current(kind, now) is None

    def current(self, kind: str, now: float) -> Pause | None:
        """The pause of ``kind`` still running at ``now``, if any."""
        pause = self._pauses.get(kind)
        if pause is not None and pause.until <= now:
            del self._pauses[kind]
            return None
        return pause

    def wait_seconds(self, kinds: list[str], now: float) -> float | None:
        """How long until the first of ``kinds`` may send again (None: one may now)."""
        ends = [p.until for k in kinds if (p := self.current(k, now)) is not None]
        return None if not ends or len(ends) < len(kinds) else min(ends) - now

    def lift(self, kind: str) -> bool:
        """End ``kind``'s pause now (an operator said "try now"); whether there was one."""
        return self._pauses.pop(kind, None) is not None

    def snapshot(self, kind: str, now: float) -> dict[str, object]:
        """The pause of ``kind`` for the status endpoint."""
        pause = self.current(kind, now)
        return {"sending": pause is None,
                "paused_until": format_unix(pause.until) if pause else None,
                "pause_reason": pause.reason if pause else None}
