"""A single SQLite writer thread whose concurrent callers share one commit (group commit).

SQLite allows one writer at a time and a durable commit costs an fsync, so committing per
request caps throughput at the disk's fsync rate. Instead every write is a function queued to
one thread; the thread runs everything queued so far inside one transaction, commits once, and
only then resolves the callers' futures: an answer means the data is on disk. Writes rarely
fail; when one does, the group is rolled back and each write is run again in its own
transaction, so it alone fails (a write must therefore be repeatable: it may run twice).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pushoverd.errors import StoreError

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], Any]
_Item = tuple[Write, asyncio.Future[Any], asyncio.AbstractEventLoop]
CommitObserver = Callable[[int, float], None]
"""Told of each group commit, in the writer thread: how many writes, and seconds taken."""

log = logging.getLogger(__name__)


class GroupWriter:
    """Runs write functions on one connection, committing them in groups."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], max_batch: int = 1024,
                 on_commit: CommitObserver | None = None) -> None:
        self._connect = connect
        self._on_commit = on_commit
        self._conn: sqlite3.Connection | None = None
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self.commits = 0
        self.rollbacks = 0

    def start(self) -> None:
        """Connect (here, so a database that cannot be opened fails the caller), then start
        the writer thread."""
        self._conn = self._connect()
        self._thread.start()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue ``fn`` to run in the next group; the future resolves after the commit."""
        if not self._thread.is_alive():
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, future, loop))
        return future

    def stop(self) -> None:
        """Commit what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        conn = self._conn
        assert conn is not None, "start() connects first"
        try:
            stop = False
            while not stop:
                batch, stop = self._next_batch()
                if batch:
                    self._commit(conn, batch)
        finally:
            conn.close()

    def _next_batch(self) -> tuple[list[_Item], bool]:
        """Everything queued so far (up to the batch limit), and whether to stop after it."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _commit(self, conn: sqlite3.Connection, batch: list[_Item]) -> None:
        try:
            outcomes = self._group(conn, batch)
        except Exception as exc:
            # One write failed (or the commit did): undo the group and give every write its
            # own transaction, so only the failing one fails.
            log.debug("group of %d writes rolled back (%s); retrying them one by one",
                      len(batch), exc)
            self.rollbacks += 1
            outcomes = [self._alone(conn, fn) for fn, _, _ in batch]
        _resolve(batch, outcomes)

    def _group(self, conn: sqlite3.Connection, batch: list[_Item]) -> list[tuple[bool, Any]]:
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        try:
            outcomes = [(True, fn(conn)) for fn, _, _ in batch]
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        self.commits += 1
        if self._on_commit is not None:
            self._on_commit(len(batch), time.perf_counter() - started)
        return outcomes

    def _alone(self, conn: sqlite3.Connection, fn: Write) -> tuple[bool, Any]:
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = fn(conn)
            conn.execute("COMMIT")
        except Exception as exc:  # the caller gets it
            _rollback(conn)
            if isinstance(exc, sqlite3.Error):
                log.error("store write failed: %s", exc)
                exc = StoreError(f"store write failed: {exc}")
            return False, exc
        self.commits += 1
        if self._on_commit is not None:
            self._on_commit(1, time.perf_counter() - started)
        return True, result


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _settle(items: list[tuple[asyncio.Future[Any], tuple[bool, Any]]]) -> None:
    for future, (ok, value) in items:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _resolve(batch: list[_Item], outcomes: list[tuple[bool, Any]]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], tuple[bool, Any]]]]
    by_loop = {}
    for (_, future, loop), outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, outcome))
    for loop, items in by_loop.items():
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle, items)
