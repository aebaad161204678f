"""The embedded store: SQLite in WAL mode, one group-committing writer, pooled readers.

Statements live in ``sql/queries_sqlite.sql`` and the schema in ``sql/sqlite_NNN_*.sql``
migrations. The database holds user keys, so its folder is created private (0700), its files
are kept 0600, and a folder that is more open is reported once at start.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import IO, Any, TypeVar

from pushoverd.errors import Conflict, NotFound, StoreError
from pushoverd.models import (
    ConfigOverride,
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    EventState,
    HandlerSpec,
    HeldGroup,
    Level,
    NewDelivery,
    OutboxStats,
    ReceiptState,
    ReceiptUpdate,
    TopicState,
)
from pushoverd.store.base import (
    Aggregation,
    Collected,
    Collecting,
    Planner,
    Readdress,
    Summarizer,
    requeueable,
)
from pushoverd.store.writer import CommitObserver, GroupWriter
from pushoverd.timefmt import format_rfc3339nano, parse_rfc3339nano

T = TypeVar("T")
log = logging.getLogger(__name__)
_SQL = resources.files("pushoverd.store") / "sql"
_DB_FILE_SUFFIXES = ("", "-wal", "-shm", ".lock")


def _load_queries() -> dict[str, str]:
    """The named statements of ``queries_sqlite.sql``, column lists filled in."""
    queries: dict[str, list[str]] = {}
    current: list[str] = []
    for line in (_SQL / "queries_sqlite.sql").read_text().splitlines():
        if line.startswith("-- name:"):
            current = queries.setdefault(line.removeprefix("-- name:").strip(), [])
        elif not line.lstrip().startswith("--"):
            current.append(line)
    text = {name: "\n".join(lines).strip() for name, lines in queries.items()}
    columns = {"delivery_columns": text["delivery_columns"]}
    return {name: sql.format(**columns) if "{" in sql else sql for name, sql in text.items()}


Q = _load_queries()


def _migrations() -> list[tuple[int, str]]:
    """The schema scripts shipped in ``sql/``, as (version, script), in order."""
    scripts = [p for p in _SQL.iterdir()
               if p.name.startswith("sqlite_") and p.name.endswith(".sql")]
    return sorted((int(p.name.split("_")[1]), p.read_text()) for p in scripts)


class SQLiteStore:
    """The Store protocol on one SQLite database file."""

    def __init__(self, path: str | Path, synchronous: str = "FULL", readers: int = 2,
                 clock: Callable[[], float] = time.time,
                 on_commit: CommitObserver | None = None) -> None:
        self.path = str(path)
        self._synchronous = synchronous
        self._clock = clock
        self._writer = GroupWriter(self._connect, on_commit=on_commit)
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-reader")
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._exclusive: IO[str] | None = None

    # Plumbing ------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._lock:
                self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, lambda: fn(self._reader()))
        except sqlite3.Error as exc:
            raise StoreError(f"store read failed: {exc}") from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._writer.submit(fn)
        except sqlite3.Error as exc:
            raise StoreError(f"store write failed: {exc}") from exc

    async def open(self) -> int:
        """Create the database file (private) and bring its schema up to date; return how
        many deliveries a previous run left leased."""
        try:
            _prepare_files(self.path)
            self._exclusive = _lock_file(self.path + ".lock")
            self._writer.start()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from None
        await self._write(_migrate)
        now = self._clock()
        return await self._write(lambda c: c.execute(Q["reclaim"], (now, now)).rowcount)

    async def close(self) -> None:
        """Commit queued writes and close every connection."""
        await asyncio.get_running_loop().run_in_executor(None, self._writer.stop)
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()
        if self._exclusive is not None:
            self._exclusive.close()
            self._exclusive = None

    @property
    def commits(self) -> int:
        """How many group commits the writer has made (for benchmarks)."""
        return self._writer.commits

    @property
    def rollbacks(self) -> int:
        """How many groups were rolled back and retried write by write."""
        return self._writer.rollbacks

    # Handler specs -------------------------------------------------------------------------
    async def load_handlers(self) -> list[tuple[HandlerSpec, str | None]]:
        """Every handler spec with its source, sorted by topic and ID."""
        rows = await self._read(lambda c: c.execute(Q["select_handlers"]).fetchall())
        return [(_handler(r), r[5]) for r in rows]

    async def handlers_revision(self) -> int:
        """Changes whenever a spec is created, replaced or deleted."""
        return await self._read(lambda c: c.execute(Q["handlers_revision"]).fetchone()[0])

    async def create_handler(self, spec: HandlerSpec, source: str | None) -> None:
        """Store a new spec; Conflict if its ID is taken in its topic."""
        now = self._clock()

        def write(conn: sqlite3.Connection) -> None:
            if _handler_exists(conn, spec.topic, spec.id):
                raise Conflict("cannot register handler, "
                               f'handler with ID "{spec.id}" already exists')
            conn.execute(Q["ensure_topic"], (spec.topic, now))
            _insert_handler(conn, spec, source, now, now)

        await self._write(write)

    async def replace_handler(self, topic: str, handler_id: str, spec: HandlerSpec,
                              source: str | None) -> None:
        """Replace a spec, renaming it if ``spec.id`` differs."""
        now = self._clock()

        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute(Q["handler_created_at"], (topic, handler_id)).fetchone()
            if row is None:
                raise NotFound(f'unknown handler: "{handler_id}"')
            if spec.id != handler_id and _handler_exists(conn, spec.topic, spec.id):
                raise Conflict(f'cannot rename handler, handler with ID "{spec.id}" already exists')
            conn.execute(Q["delete_handler"], (topic, handler_id))
            _insert_handler(conn, spec, source, row[0], now)
            conn.execute(Q["rename_held_events"], (spec.id, topic, handler_id))

        await self._write(write)

    async def delete_handler(self, topic: str, handler_id: str) -> bool:
        """Delete a spec; whether it existed."""
        def write(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute(Q["delete_handler"], (topic, handler_id)).rowcount > 0
            conn.execute(Q["delete_held_events"], (topic, handler_id))
            if deleted:
                conn.execute(Q["bump_handlers_revision"])
            return deleted

        return await self._write(write)

    # Topics and events ---------------------------------------------------------------------
    async def ensure_topic(self, topic: str) -> None:
        """Create the topic if it does not exist."""
        now = self._clock()
        await self._write(lambda c: c.execute(Q["ensure_topic"], (topic, now)))

    async def collect(self, topic: str, events: Sequence[Event], plan: Planner) -> Collected:
        """Record events and their deliveries in one transaction."""
        now = self._clock()
        return await self._write(lambda c: _collect(c, topic, events, plan, now))

    async def flush_aggregate(self, topic: str, handler_id: str, aggregate: Aggregation,
                              plan: Planner) -> Collected | None:
        """Collect the aggregate of the handler's held events, and forget them, atomically."""
        now = self._clock()
        return await self._write(
            lambda c: _flush_aggregate(c, topic, handler_id, aggregate, plan, now))

    async def topics(self) -> list[TopicState]:
        """Every topic, sorted by ID."""
        rows = await self._read(lambda c: c.execute(Q["select_topics"]).fetchall())
        return [TopicState(r[0], Level(r[1]), r[2]) for r in rows]

    async def topic(self, topic: str) -> TopicState | None:
        """One topic, or None."""
        row = await self._read(lambda c: c.execute(Q["select_topic"], (topic,)).fetchone())
        return TopicState(row[0], Level(row[1]), row[2]) if row else None

    async def delete_topic(self, topic: str) -> bool:
        """Delete a topic and its events; its handlers stay and keep working."""
        def write(conn: sqlite3.Connection) -> bool:
            conn.execute(Q["delete_topic_events"], (topic,))
            return conn.execute(Q["delete_topic"], (topic,)).rowcount > 0

        return await self._write(write)

    async def events(self, topic: str, min_level: Level) -> list[EventState] | None:
        """A topic's events at or above ``min_level``, highest level first, then by ID."""
        def read(conn: sqlite3.Connection) -> list[EventState] | None:
            if conn.execute(Q["topic_exists"], (topic,)).fetchone() is None:
                return None
            rows = conn.execute(Q["select_events"], (topic, int(min_level))).fetchall()
            return [_event_state(r) for r in rows]

        return await self._read(read)

    async def event(self, topic: str, event_id: str) -> EventState | None:
        """One event's state, or None."""
        row = await self._read(lambda c: c.execute(
            Q["select_event"], (topic, event_id)).fetchone())
        return _event_state(row) if row else None

    # Outbox --------------------------------------------------------------------------------
    async def claim(self, now: float, limit: int, lease_seconds: float,
                    kinds: Sequence[str]) -> list[Delivery]:
        """Lease due deliveries of ``kinds`` (and those whose lease expired), oldest first; a
        delivery is held back while an earlier one of the same alert (handler and event id)
        waits."""
        if not kinds or limit <= 0:
            return []
        until, names = now + lease_seconds, json.dumps(list(kinds))
        rows = await self._write(lambda c: c.execute(
            Q["claim"], (until, until, now, now, names, now, limit)).fetchall())
        return sorted((_delivery(r) for r in rows), key=lambda d: d.id)

    async def mark_sent(self, delivery_id: int, request_id: str | None, info: str | None,
                        now: float, receipt: str | None = None) -> None:
        """Record a successful send."""
        args = {"now": now, "request": request_id, "info": info, "receipt": receipt,
                "id": delivery_id}

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(Q["mark_sent"], args)
            conn.execute(Q["close_receipts"], args)

        await self._write(write)

    async def mark_failed(self, delivery_id: int, error: str, next_attempt_at: float,
                          now: float) -> None:
        """Record a failed attempt, to be retried at ``next_attempt_at``."""
        await self._write(lambda c: c.execute(
            Q["mark_failed"], (error, next_attempt_at, now, delivery_id)))

    async def mark_dead(self, delivery_id: int, error: str, now: float) -> None:
        """Dead-letter a delivery."""
        await self._write(lambda c: c.execute(Q["mark_dead"], (error, now, now, delivery_id)))

    async def release(self, delivery_ids: Sequence[int], now: float) -> None:
        """Give claimed, unattempted deliveries back (their attempt is not counted)."""
        rows = [(now, now, i) for i in delivery_ids]
        await self._write(lambda c: c.executemany(Q["release"], rows))

    async def deliveries(self, query: DeliveryFilter) -> list[Delivery]:
        """Deliveries matching ``query``, newest first."""
        where, args = _delivery_where(query)
        sql = f"SELECT {Q['delivery_columns']} FROM deliveries{where} ORDER BY id DESC LIMIT ?"
        rows = await self._read(lambda c: c.execute(sql, [*args, query.limit]).fetchall())
        return [_delivery(r) for r in rows]

    async def delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery, or None."""
        row = await self._read(lambda c: c.execute(
            Q["select_delivery"], (delivery_id,)).fetchone())
        return _delivery(row) if row else None

    async def requeue(self, now: float, readdress: Readdress, query: DeliveryFilter) -> int:
        """Make matching dead and failed deliveries due now, re-addressed; how many."""
        statuses = requeueable(query.statuses)
        if not statuses:
            return 0
        where, args = _delivery_where(replace(query, statuses=statuses))
        select = f"SELECT {Q['delivery_columns']} FROM deliveries{where}"

        def write(conn: sqlite3.Connection) -> int:
            found = [_delivery(r) for r in conn.execute(select, args).fetchall()]
            rows = [(json.dumps(readdress(d)), now, now, now, d.id) for d in found]
            return conn.executemany(Q["requeue"], rows).rowcount

        return await self._write(write)

    async def receipts_due(self, now: float, limit: int) -> list[Delivery]:
        """Outstanding emergencies whose receipt is due a check, longest waiting first."""
        rows = await self._read(lambda c: c.execute(Q["receipts_due"], (now, limit)).fetchall())
        return [_delivery(r) for r in rows]

    async def escalate(self, delivery_id: int, deliveries: Sequence[NewDelivery],
                       now: float) -> int:
        """Pass an outstanding, not yet escalated emergency on: enqueue ``deliveries`` and
        mark it escalated, atomically; how many were enqueued (0 if it no longer stands)."""
        def write(conn: sqlite3.Connection) -> int:
            if not conn.execute(Q["mark_escalated"], (now, now, delivery_id)).rowcount:
                return 0
            conn.executemany(Q["insert_delivery"], [_delivery_row(d, now) for d in deliveries])
            return len(deliveries)

        return await self._write(write)

    async def delivery_by_receipt(self, receipt: str) -> Delivery | None:
        """The delivery Pushover gave ``receipt`` for, or None."""
        row = await self._read(lambda c: c.execute(
            Q["delivery_by_receipt"], (receipt,)).fetchone())
        return _delivery(row) if row else None

    async def record_receipt(self, delivery_id: int, update: ReceiptUpdate, now: float,
                             follow_up: Sequence[NewDelivery] = ()) -> bool:
        """Record what a receipt check found, if the receipt is still outstanding, with the
        deliveries it causes; whether it was."""
        args = (update.state.value, update.next_check_at, update.acknowledged_at,
                update.acknowledged_by, update.acknowledged_by_device, now, delivery_id)

        def write(conn: sqlite3.Connection) -> bool:
            if not conn.execute(Q["record_receipt"], args).rowcount:
                return False
            conn.executemany(Q["insert_delivery"], [_delivery_row(d, now) for d in follow_up])
            return True

        return await self._write(write)

    async def stats(self) -> OutboxStats:
        """Outbox depth by status, the oldest waiting delivery, outstanding emergencies."""
        def read(conn: sqlite3.Connection) -> OutboxStats:
            counts = dict(conn.execute(Q["count_by_status"]).fetchall())
            oldest = conn.execute(Q["oldest_open"]).fetchone()[0]
            receipts, oldest_receipt = conn.execute(Q["outstanding_receipts"]).fetchone()
            return OutboxStats({s.value: counts.get(s.value, 0) for s in DeliveryStatus},
                               oldest, receipts, oldest_receipt)

        return await self._read(read)

    async def flush_coalesced(self, now: float, summarize: Summarizer) -> int:
        """Enqueue a summary for each handler's coalesced deliveries that ``summarize`` says
        are due, linking them to it, atomically; how many summaries were enqueued."""
        return await self._write(lambda c: _flush_coalesced(c, now, summarize))

    async def prune(self, before: float) -> int:
        """Delete finished (sent, dead, summarised) deliveries last updated before ``before``."""
        return await self._write(lambda c: c.execute(Q["prune"], (before,)).rowcount)

    # Config overrides ----------------------------------------------------------------------
    async def config_overrides(self) -> list[ConfigOverride]:
        """Every stored config override, sorted by ID."""
        rows = await self._read(lambda c: c.execute(Q["select_config_overrides"]).fetchall())
        return [ConfigOverride(r[0], json.loads(r[1]), bool(r[2])) for r in rows]

    async def set_config_override(self, override: ConfigOverride) -> None:
        """Store an override, replacing any with the same ID."""
        row = (override.id, json.dumps(override.options), int(override.create), self._clock())
        await self._write(lambda c: c.execute(Q["upsert_config_override"], row))

    async def delete_config_override(self, override_id: str) -> bool:
        """Delete an override; whether it existed."""
        return await self._write(
            lambda c: c.execute(Q["delete_config_override"], (override_id,)).rowcount > 0)



# Files -----------------------------------------------------------------------------------

def _prepare_files(path: str) -> None:
    """The database's folder (created 0700) and files (0600): they hold user keys."""
    folder = Path(path).parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        log.warning("the data directory %s is open to other users (mode %04o) and its database "
                    "holds Pushover user keys; chmod 700 it", folder, mode)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for suffix in _DB_FILE_SUFFIXES:
        if os.path.exists(path + suffix):
            os.chmod(path + suffix, 0o600)


def _lock_file(path: str) -> IO[str]:
    # The embedded store belongs to one daemon: two writers would each believe they own the
    # outbox and send everything twice. (Several replicas share PostgreSQL instead.)
    handle = os.fdopen(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreError(f"{path[:-5]} is in use by another pushoverd process") from None
    return handle


# Row helpers, run inside the writer or reader threads ------------------------------------

def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    current = row[0] or 0
    for version, script in _migrations():
        if version > current:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))


def _statements(script: str) -> list[str]:
    # executescript() would commit on its own; run the statements inside our transaction.
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [s for s in code.split(";") if s.strip()]


def _handler_exists(conn: sqlite3.Connection, topic: str, handler_id: str) -> bool:
    return conn.execute(Q["handler_exists"], (topic, handler_id)).fetchone() is not None


def _insert_handler(conn: sqlite3.Connection, spec: HandlerSpec, source: str | None,
                    created_at: float, now: float) -> None:
    options = None if spec.options is None else json.dumps(spec.options)
    conn.execute(Q["insert_handler"], (spec.topic, spec.id, spec.kind, options, spec.match,
                                       source, created_at, now))
    conn.execute(Q["bump_handlers_revision"])


def _handler(row: Sequence[Any]) -> HandlerSpec:
    options = None if row[3] is None else json.loads(row[3])
    return HandlerSpec(topic=row[0], id=row[1], kind=row[2], options=options, match=row[4])


def _collect(conn: sqlite3.Connection, topic: str, events: Sequence[Event], plan: Planner,
             now: float) -> Collected:
    collector = _Collector(conn, plan, now)
    for event in events:
        collector.collect(topic, event)
    return collector.finish()


class _Collector:
    """Collects events into topics inside one transaction, following publish handlers."""

    def __init__(self, conn: sqlite3.Connection, plan: Planner, now: float) -> None:
        self.conn, self.plan, self.now = conn, plan, now
        self.enqueued, self.skipped = 0, list[str]()
        self.counts: dict[str, int] = {}

    def collect(self, topic: str, event: Event, hops: int = 0,
                unseen: Level = Level.OK) -> None:
        conn, now = self.conn, self.now
        if topic not in self.counts:
            conn.execute(Q["ensure_topic"], (topic, now))
        self.counts[topic] = self.counts.get(topic, 0) + 1
        row = conn.execute(Q["event_level"], (topic, event.id)).fetchone()
        previous = Level(row[0]) if row else unseen
        conn.execute(Q["upsert_event"], (
            topic, event.id, event.message, event.details, _time_column(event.time_ns),
            event.duration_ns, int(event.level), int(previous), json.dumps(event.data),
            int(event.recoverable), now))
        result = self.plan(Collecting(topic, event, previous, now, self._notifications(topic),
                                      self._last(topic, event.id),
                                      self._unfinished(topic, event.id), hops))
        conn.executemany(Q["insert_delivery"], [_delivery_row(d, now) for d in result.deliveries])
        conn.executemany(Q["insert_held_event"], [
            (topic, held.handler_id, _event_json(held.event), now) for held in result.held])
        self.enqueued += len(result.deliveries)
        self.skipped += result.skipped
        for published in result.published:
            self.collect(published.topic, published.event, hops + 1, published.previous)

    def finish(self) -> Collected:
        for topic, count in self.counts.items():
            self.conn.execute(Q["count_collected"], (count, topic))
        return Collected(self.enqueued, tuple(self.skipped))

    def _notifications(self, topic: str) -> Callable[[str, float, int], int]:
        def count(handler_id: str, since: float, at_most: int) -> int:
            return self.conn.execute(Q["count_notifications"],
                                     (topic, handler_id, since, at_most)).fetchone()[0]
        return count

    def _last(self, topic: str, event_id: str) -> Callable[[str], Delivery | None]:
        def last_notification(handler_id: str) -> Delivery | None:
            row = self.conn.execute(Q["last_notification"],
                                    (topic, handler_id, event_id)).fetchone()
            return _delivery(row) if row else None
        return last_notification

    def _unfinished(self, topic: str, event_id: str) -> Callable[[str], list[Delivery]]:
        def of_handler(handler_id: str) -> list[Delivery]:
            rows = self.conn.execute(Q["unfinished"], (topic, handler_id, event_id)).fetchall()
            return [_delivery(r) for r in rows]
        return of_handler


def _flush_aggregate(conn: sqlite3.Connection, topic: str, handler_id: str,
                     aggregate: Aggregation, plan: Planner, now: float) -> Collected | None:
    rows = conn.execute(Q["select_held_events"], (topic, handler_id)).fetchall()
    if not rows:
        return None
    conn.execute(Q["delete_held_events"], (topic, handler_id))
    made = aggregate([_event_from_json(r[0]) for r in rows])
    return _collect(conn, made.topic, [made.event], plan, now)


def _event_json(event: Event) -> str:
    return json.dumps({"id": event.id, "level": int(event.level), "message": event.message,
                       "details": event.details, "time_ns": event.time_ns,
                       "duration_ns": event.duration_ns, "data": event.data,
                       "previous_level": int(event.previous_level),
                       "recoverable": event.recoverable})


def _event_from_json(text: str) -> Event:
    fields = json.loads(text)
    return Event(**{**fields, "level": Level(fields["level"]),
                    "previous_level": Level(fields["previous_level"])})


def _flush_coalesced(conn: sqlite3.Connection, now: float, summarize: Summarizer) -> int:
    flushed = 0
    for group in _held_groups(conn):
        summary = summarize(group, now)
        if summary is None:
            continue
        summary_id = conn.execute(Q["insert_delivery"], _delivery_row(summary, now)).lastrowid
        conn.execute(Q["link_summary"], (summary_id, now, group.topic, group.handler_id,
                                         group.latest.id))
        flushed += 1
    return flushed


def _held_groups(conn: sqlite3.Connection) -> list[HeldGroup]:
    """Each handler's held deliveries, counted per level in SQL; only the latest is read."""
    rows: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in conn.execute(Q["held_by_level"]).fetchall():
        rows.setdefault((row[0], row[1]), []).append(row)
    groups = []
    for (topic, handler_id), levels in sorted(rows.items()):
        latest = conn.execute(Q["select_delivery"], (max(r[5] for r in levels),)).fetchone()
        groups.append(HeldGroup(
            topic=topic, handler_id=handler_id, count=sum(r[3] for r in levels),
            by_level={Level(r[2]): r[3] for r in levels},
            first_created_at=min(r[4] for r in levels), latest=_delivery(latest)))
    return groups


def _delivery_row(d: NewDelivery, now: float) -> tuple[Any, ...]:
    return (d.topic, d.handler_id, d.kind, d.event_id, int(d.level), json.dumps(d.payload),
            d.status.value, now, now, now, d.last_error, d.summarizes, int(d.control), d.origin)


_INT64 = range(-(2**63), 2**63)


def _time_column(time_ns: int) -> int | str:
    # SQLite integers are 64-bit, which holds nanoseconds only for 1677-2262; Kapacitor's times
    # span years 0-9999 (its zero time is year 1). Those outside are kept as RFC3339 text,
    # which the column's INTEGER affinity leaves as text, so nothing is rounded.
    return time_ns if time_ns in _INT64 else format_rfc3339nano(time_ns)


def _time_ns(value: int | str) -> int:
    return parse_rfc3339nano(value) if isinstance(value, str) else value


def _event_state(row: Sequence[Any]) -> EventState:
    return EventState(id=row[0], message=row[1], details=row[2], time_ns=_time_ns(row[3]),
                      duration_ns=row[4], level=Level(row[5]), previous_level=Level(row[6]))


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        id=row[0], topic=row[1], handler_id=row[2], kind=row[3], event_id=row[4],
        level=Level(row[5]), payload=json.loads(row[6]), status=DeliveryStatus(row[7]),
        attempts=row[8], created_at=row[9], next_attempt_at=row[10], updated_at=row[11],
        sent_at=row[12], request_id=row[13], last_error=row[14], info=row[15],
        summary_id=row[16], summarizes=row[17], requeued_at=row[18], receipt=row[19],
        receipt_state=ReceiptState(row[20]) if row[20] else None, acknowledged_at=row[21],
        acknowledged_by=row[22], acknowledged_by_device=row[23], receipt_check_at=row[24],
        control=bool(row[25]), escalated_at=row[26], origin=row[27])


def _delivery_where(query: DeliveryFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("topic", query.topic), ("handler_id", query.handler_id),
                          ("kind", query.kind), ("id", query.delivery_id),
                          ("event_id", query.event_id)):
        if value is not None:
            clauses.append(f"{column}=?")
            args.append(value)
    if query.statuses:
        clauses.append(f"status IN ({','.join('?' * len(query.statuses))})")
        args.extend(s.value for s in query.statuses)
    if query.recipient is not None:
        clauses.append("json_extract(payload, '$.recipient')=?")
        args.append(query.recipient)
    if query.acknowledged is not None:
        clauses.append("receipt IS NOT NULL AND COALESCE(receipt_state, '')"
                       + ("=" if query.acknowledged else "<>") + "'acknowledged'")
    for clause, value in (("created_at>=?", query.since), ("created_at<?", query.until),
                          ("id<?", query.before_id)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
