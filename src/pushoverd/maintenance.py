"""Housekeeping on a timer: flood summaries when due, pruning of old deliveries, and picking up
handler specs another writer changed in the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from pushoverd.periodic import Periodic
from pushoverd.store.base import Store

log = logging.getLogger(__name__)


class Maintenance:
    """Runs ``flush`` every ``flush_every`` s; prunes past ``retention`` every ``prune_every``."""

    def __init__(self, store: Store, flush: Callable[[], Awaitable[int]], retention: float,
                 flush_every: float = 1.0, prune_every: float = 60.0,
                 refresh: Callable[[], Awaitable[bool]] | None = None) -> None:
        self._store = store
        self._flush = flush
        self._refresh = refresh
        self._retention = retention
        self._prune_every = prune_every
        self._next_prune = 0.0
        self._timer = Periodic("maintenance", self._once, flush_every)

    def start(self) -> None:
        """Start the timer."""
        self._timer.start()

    async def stop(self) -> None:
        """Stop the timer."""
        await self._timer.stop()

    async def _once(self) -> None:
        if self._refresh is not None:
            await self._refresh()
        await self._flush()
        if time.monotonic() >= self._next_prune:
            await self.prune()
            self._next_prune = time.monotonic() + self._prune_every

    async def prune(self) -> int:
        """Delete sent, dead and summarised deliveries older than the retention."""
        pruned = await self._store.prune(time.time() - self._retention)
        if pruned:
            log.info("pruned %d deliveries older than the retention", pruned)
        return pruned
