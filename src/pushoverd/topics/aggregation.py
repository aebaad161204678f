"""The aggregate handlers' clock: every ``interval``, each one collects the aggregate of what it
held since its last tick (nothing, if it held nothing), as Kapacitor's ticker does.

A handler's first tick comes one interval after the clock first sees it (when the daemon
starts, or within a moment of the handler being defined). Ticks missed while the daemon was
busy are not caught up one by one: the next comes an interval after the late one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from pushoverd.periodic import Periodic
from pushoverd.topics.service import TopicService

log = logging.getLogger(__name__)

LOOK_EVERY = 0.25
"""How often, at most, the clock looks for aggregate handlers defined or changed since."""

Key = tuple[str, str]


class AggregateClock:
    """Ticks every aggregate handler of ``service`` on its own interval."""

    def __init__(self, service: TopicService,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._service = service
        self._clock = clock
        self._intervals: dict[Key, float] = {}
        self._next: dict[Key, float] = {}
        self._timer = Periodic("aggregates", self.tick_due, LOOK_EVERY, wait=self._until_next)

    def start(self) -> None:
        """Start ticking."""
        self._timer.start()

    async def stop(self) -> None:
        """Stop ticking; what handlers hold stays stored for their next tick."""
        await self._timer.stop()

    async def tick_due(self) -> int:
        """Flush every handler whose tick is due; how many collected an aggregate."""
        now = self._clock()
        self._schedule(now)
        flushed = 0
        for key, at in list(self._next.items()):
            if at > now:
                continue
            interval = self._intervals[key]
            self._next[key] = at + interval if at + interval > now else now + interval
            try:
                flushed += await self._service.flush_aggregate(*key)
            except Exception:  # the held events stay stored; the next tick tries again
                log.exception("aggregate handler %s/%s failed to collect", *key)
        return flushed

    def _schedule(self, now: float) -> None:
        """Follow the handlers defined, changed and deleted since the last look."""
        current = self._service.aggregates()
        for key in set(self._intervals) - set(current):
            del self._intervals[key], self._next[key]
        for key, interval in current.items():
            if self._intervals.get(key) != interval:
                self._intervals[key], self._next[key] = interval, now + interval

    def _until_next(self) -> float:
        """Seconds until the soonest tick (the timer looks again after LOOK_EVERY at most)."""
        return min(self._next.values(), default=float("inf")) - self._clock()
