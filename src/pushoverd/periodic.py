"""A job on a timer that outlives its own failures: housekeeping, receipt checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``job`` every ``every`` seconds until stopped; a failing run is logged and the
    next one comes as usual (a store hiccup must not end the job for good). ``wait``, when
    given, says after each run how long until the next one instead (at most ``every``)."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]], every: float,
                 wait: Callable[[], float] | None = None) -> None:
        self._name = name
        self._job = job
        self._every = every
        self._wait = wait
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the timer."""
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop the timer (a run in progress is cancelled)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self._job()
            except Exception:
                log.exception("%s failed; trying again in %ss", self._name, self._every)
            wait = self._every if self._wait is None else min(max(self._wait(), 0.0),
                                                              self._every)
            await asyncio.sleep(wait)
