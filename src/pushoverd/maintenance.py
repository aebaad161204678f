"""Housekeeping on a timer: flood summaries when due, pruning of old deliveries, and picking up
handler specs another writer changed in the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

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
        self._flush_every = flush_every
        self._prune_every = prune_every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the timer."""
        self._task = asyncio.create_task(self._run(), name="maintenance")

    async def stop(self) -> None:
        """Stop the timer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        next_prune = 0.0
        while True:
            try:
                if self._refresh is not None:
                    await self._refresh()
                await self._flush()
                if time.monotonic() >= next_prune:
                    await self.prune()
                    next_prune = time.monotonic() + self._prune_every
            except Exception:  # keep housekeeping alive through a store hiccup
                log.exception("maintenance failed; trying again")
            await asyncio.sleep(self._flush_every)

    async def prune(self) -> int:
        """Delete sent, dead and summarised deliveries older than the retention."""
        pruned = await self._store.prune(time.time() - self._retention)
        if pruned:
            log.info("pruned %d deliveries older than the retention", pruned)
        return pruned
