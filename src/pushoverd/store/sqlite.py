"""The embedded store: SQLite in WAL mode, one group-committing writer, pooled readers."""

from __future__ import annotations

import asyncio
import fcntl
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import IO, Any, TypeVar

from pushoverd.errors import Conflict, NotFound, StoreError
from pushoverd.models import (
    Delivery,
    DeliveryFilter,
    DeliveryStatus,
    Event,
    EventState,
    HandlerSpec,
    Level,
    NewDelivery,
    OutboxStats,
    TopicState,
)
from pushoverd.store.base import Planner, Summarizer
from pushoverd.store.writer import GroupWriter
from pushoverd.timefmt import format_rfc3339nano, parse_rfc3339nano

T = TypeVar("T")

_DELIVERY_COLUMNS = (
    "id, topic, handler_id, kind, event_id, level, payload, status, attempts, created_at, "
    "next_attempt_at, updated_at, sent_at, request_id, last_error, info, summary_id, summarizes"
)
_EVENT_COLUMNS = "id, message, details, time_ns, duration_ns, level, previous_level"


def _migrations() -> list[tuple[int, str]]:
    """The schema scripts shipped in ``sql/``, as (version, script), in order."""
    folder = resources.files("pushoverd.store") / "sql"
    scripts = [p for p in folder.iterdir()
               if p.name.startswith("sqlite_") and p.name.endswith(".sql")]
    return sorted((int(p.name.split("_")[1]), p.read_text()) for p in scripts)


class SQLiteStore:
    """The Store protocol on one SQLite database file."""

    def __init__(self, path: str | Path, synchronous: str = "FULL", readers: int = 2) -> None:
        self.path = str(path)
        self._synchronous = synchronous
        self._writer = GroupWriter(self._connect)
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

    async def open(self) -> None:
        """Create the database file and bring its schema up to date."""
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._exclusive = _lock_file(self.path + ".lock")
            self._writer.start()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from None
        await self._write(_migrate)
        self.reclaimed = await self._write(lambda c: _reclaim(c, _now()))

    reclaimed = 0
    """How many deliveries a previous run left leased (sent or not), claimable again at once."""

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
        """Every handler spec with its source."""
        rows = await self._read(lambda c: c.execute(
            "SELECT topic, id, kind, options, match, source FROM handlers ORDER BY topic, id"
        ).fetchall())
        return [(_handler(r), r[5]) for r in rows]

    async def create_handler(self, spec: HandlerSpec, source: str | None) -> None:
        """Store a new spec; Conflict if its ID is taken in its topic."""
        now = _now()

        def write(conn: sqlite3.Connection) -> None:
            if _handler_exists(conn, spec.topic, spec.id):
                raise Conflict("cannot register handler, "
                               f'handler with ID "{spec.id}" already exists')
            _ensure_topic(conn, spec.topic, now)
            _insert_handler(conn, spec, source, now, now)

        await self._write(write)

    async def replace_handler(self, topic: str, handler_id: str, spec: HandlerSpec,
                              source: str | None) -> None:
        """Replace a spec, renaming it if ``spec.id`` differs."""
        now = _now()

        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT created_at FROM handlers WHERE topic=? AND id=?",
                               (topic, handler_id)).fetchone()
            if row is None:
                raise NotFound(f'unknown handler: "{handler_id}"')
            if spec.id != handler_id and _handler_exists(conn, spec.topic, spec.id):
                raise Conflict(f'cannot rename handler, handler with ID "{spec.id}" already exists')
            conn.execute("DELETE FROM handlers WHERE topic=? AND id=?", (topic, handler_id))
            _insert_handler(conn, spec, source, row[0], now)

        await self._write(write)

    async def delete_handler(self, topic: str, handler_id: str) -> bool:
        """Delete a spec; whether it existed."""
        return await self._write(lambda c: c.execute(
            "DELETE FROM handlers WHERE topic=? AND id=?", (topic, handler_id)).rowcount > 0)

    # Topics and events ---------------------------------------------------------------------
    async def ensure_topic(self, topic: str) -> None:
        """Create the topic if it does not exist."""
        now = _now()
        await self._write(lambda c: _ensure_topic(c, topic, now))

    async def collect(self, topic: str, events: Sequence[Event], plan: Planner) -> int:
        """Record events and their deliveries in one transaction."""
        now = _now()
        return await self._write(lambda c: _collect(c, topic, events, plan, now))

    async def topics(self) -> list[TopicState]:
        """Every topic, sorted by ID."""
        rows = await self._read(lambda c: c.execute(_TOPIC_SQL + " ORDER BY t.id").fetchall())
        return [TopicState(r[0], Level(r[1]), r[2]) for r in rows]

    async def topic(self, topic: str) -> TopicState | None:
        """One topic, or None."""
        row = await self._read(lambda c: c.execute(
            _TOPIC_SQL + " WHERE t.id=?", (topic,)).fetchone())
        return TopicState(row[0], Level(row[1]), row[2]) if row else None

    async def delete_topic(self, topic: str) -> bool:
        """Delete a topic and its events; its handlers stay and keep working."""
        def write(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM events WHERE topic=?", (topic,))
            return conn.execute("DELETE FROM topics WHERE id=?", (topic,)).rowcount > 0

        return await self._write(write)

    async def events(self, topic: str, min_level: Level) -> list[EventState] | None:
        """A topic's events at or above ``min_level``, highest level first, then by ID."""
        def read(conn: sqlite3.Connection) -> list[EventState] | None:
            if conn.execute("SELECT 1 FROM topics WHERE id=?", (topic,)).fetchone() is None:
                return None
            rows = conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE topic=? AND level>=? "
                "ORDER BY level DESC, id", (topic, int(min_level))).fetchall()
            return [_event_state(r) for r in rows]

        return await self._read(read)

    async def event(self, topic: str, event_id: str) -> EventState | None:
        """One event's state, or None."""
        row = await self._read(lambda c: c.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE topic=? AND id=?",
            (topic, event_id)).fetchone())
        return _event_state(row) if row else None

    # Outbox --------------------------------------------------------------------------------
    async def claim(self, now: float, limit: int, lease_seconds: float) -> list[Delivery]:
        """Lease due deliveries (and those whose lease expired), oldest first; a handler's
        delivery is held back while an earlier one of the same handler waits."""
        until = now + lease_seconds
        rows = await self._write(lambda c: c.execute(
            "UPDATE deliveries SET status='sending', lease_until=?, next_attempt_at=?, "
            f"attempts=attempts+1, updated_at=? WHERE id IN ({_CLAIMABLE}) "
            f"RETURNING {_DELIVERY_COLUMNS}",
            (until, until, now, now, now, limit)).fetchall())
        return sorted((_delivery(r) for r in rows), key=lambda d: d.id)

    async def mark_sent(self, delivery_id: int, request_id: str | None, info: str | None,
                        now: float) -> None:
        """Record a successful send."""
        await self._write(lambda c: c.execute(
            "UPDATE deliveries SET status='sent', sent_at=?, updated_at=?, request_id=?, info=?, "
            "lease_until=NULL, next_attempt_at=? WHERE id=?",
            (now, now, request_id, info, now, delivery_id)))

    async def mark_failed(self, delivery_id: int, error: str, next_attempt_at: float,
                          now: float) -> None:
        """Record a failed attempt, to be retried at ``next_attempt_at``."""
        await self._write(lambda c: c.execute(
            "UPDATE deliveries SET status='failed', last_error=?, next_attempt_at=?, "
            "updated_at=?, lease_until=NULL WHERE id=?",
            (error, next_attempt_at, now, delivery_id)))

    async def mark_dead(self, delivery_id: int, error: str, now: float) -> None:
        """Dead-letter a delivery."""
        await self._write(lambda c: c.execute(
            "UPDATE deliveries SET status='dead', last_error=?, updated_at=?, lease_until=NULL, "
            "next_attempt_at=? WHERE id=?", (error, now, now, delivery_id)))

    async def release(self, delivery_ids: Sequence[int], now: float) -> None:
        """Give claimed, unattempted deliveries back (their attempt is not counted)."""
        ids = list(delivery_ids)
        await self._write(lambda c: c.executemany(
            "UPDATE deliveries SET status=CASE WHEN attempts>1 THEN 'failed' ELSE 'pending' END, "
            "attempts=attempts-1, lease_until=NULL, next_attempt_at=?, updated_at=? "
            "WHERE id=? AND status='sending'", [(now, now, i) for i in ids]))

    async def deliveries(self, query: DeliveryFilter) -> list[Delivery]:
        """Deliveries matching ``query``, newest first."""
        where, args = _delivery_where(query)
        sql = f"SELECT {_DELIVERY_COLUMNS} FROM deliveries{where} ORDER BY id DESC LIMIT ?"
        rows = await self._read(lambda c: c.execute(sql, [*args, query.limit]).fetchall())
        return [_delivery(r) for r in rows]

    async def delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery, or None."""
        row = await self._read(lambda c: c.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id=?", (delivery_id,)).fetchone())
        return _delivery(row) if row else None

    async def requeue_dead(self, now: float, delivery_id: int | None = None,
                           topic: str | None = None, handler_id: str | None = None) -> int:
        """Put dead deliveries back in the queue, due now; how many."""
        query = DeliveryFilter(topic=topic, handler_id=handler_id,
                               statuses=(DeliveryStatus.DEAD,))
        where, args = _delivery_where(query)
        if delivery_id is not None:
            where, args = where + " AND id=?", [*args, delivery_id]
        sql = ("UPDATE deliveries SET status='pending', next_attempt_at=?, updated_at=?, "
               f"attempts=0, created_at=?{where}")
        return await self._write(lambda c: c.execute(sql, [now, now, now, *args]).rowcount)

    async def stats(self) -> OutboxStats:
        """Outbox depth by status and the oldest waiting delivery."""
        def read(conn: sqlite3.Connection) -> OutboxStats:
            counts = dict(conn.execute(
                "SELECT status, COUNT(*) FROM deliveries GROUP BY status").fetchall())
            oldest = conn.execute(
                "SELECT MIN(created_at) FROM deliveries "
                "WHERE status IN ('pending','failed','sending')").fetchone()[0]
            return OutboxStats({s.value: counts.get(s.value, 0) for s in DeliveryStatus}, oldest)

        return await self._read(read)

    async def flush_coalesced(self, now: float, summarize: Summarizer) -> int:
        """Enqueue a summary for each handler's coalesced deliveries that ``summarize`` says
        are due, linking them to it, atomically; how many summaries were enqueued."""
        return await self._write(lambda c: _flush_coalesced(c, now, summarize))

    async def prune(self, before: float) -> int:
        """Delete finished (sent, dead, summarised) deliveries last updated before ``before``."""
        return await self._write(lambda c: c.execute(
            "DELETE FROM deliveries WHERE (status IN ('sent','dead') OR "
            "(status='coalesced' AND summary_id IS NOT NULL)) AND updated_at<?",
            (before,)).rowcount)


# Row helpers, run inside the writer or reader threads ------------------------------------

_OPEN = "('pending','failed','sending')"
_CLAIMABLE = (
    "SELECT d.id FROM deliveries d INDEXED BY deliveries_open "
    f"WHERE d.status IN {_OPEN} AND d.next_attempt_at<=? AND NOT EXISTS ("
    "SELECT 1 FROM deliveries e INDEXED BY deliveries_open_handler "
    f"WHERE e.status IN {_OPEN} AND e.topic=d.topic AND e.handler_id=d.handler_id "
    "AND e.id<d.id AND e.next_attempt_at>?) ORDER BY d.id LIMIT ?"
)

_TOPIC_SQL = (
    "SELECT t.id, COALESCE((SELECT MAX(level) FROM events e WHERE e.topic=t.id), 0), "
    "t.collected FROM topics t"
)

_UPSERT_EVENT = (
    "INSERT INTO events (topic, id, message, details, time_ns, duration_ns, level, "
    "previous_level, data, recoverable, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (topic, id) DO UPDATE SET message=excluded.message, details=excluded.details, "
    "time_ns=excluded.time_ns, duration_ns=excluded.duration_ns, level=excluded.level, "
    "previous_level=excluded.previous_level, data=excluded.data, "
    "recoverable=excluded.recoverable, updated_at=excluded.updated_at"
)

_INSERT_DELIVERY = (
    "INSERT INTO deliveries (topic, handler_id, kind, event_id, level, payload, status, "
    "created_at, next_attempt_at, updated_at, last_error, summarizes) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def _now() -> float:
    return time.time()


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    current = row[0] or 0
    for version, script in _migrations():
        if version > current:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))


def _lock_file(path: str) -> IO[str]:
    # The embedded store belongs to one daemon: two writers would each believe they own the
    # outbox and send everything twice. (Several replicas share PostgreSQL instead.)
    handle = open(path, "w")  # noqa: SIM115 - held open for the store's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreError(f"{path[:-5]} is in use by another pushoverd process") from None
    return handle


def _reclaim(conn: sqlite3.Connection, now: float) -> int:
    # The lock file proves no other daemon uses this database, so every lease still held was
    # held by a run that died: waiting for it to expire would only delay its handlers.
    return conn.execute(
        "UPDATE deliveries SET status='failed', next_attempt_at=?, lease_until=NULL, "
        "updated_at=?, last_error=COALESCE(last_error, 'interrupted: the daemon stopped "
        "during the send') WHERE status='sending'", (now, now)).rowcount


def _statements(script: str) -> list[str]:
    # executescript() would commit on its own; run the statements inside our transaction.
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [s for s in code.split(";") if s.strip()]


def _ensure_topic(conn: sqlite3.Connection, topic: str, now: float) -> None:
    conn.execute("INSERT INTO topics (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
                 (topic, now))


def _handler_exists(conn: sqlite3.Connection, topic: str, handler_id: str) -> bool:
    return conn.execute("SELECT 1 FROM handlers WHERE topic=? AND id=?",
                        (topic, handler_id)).fetchone() is not None


def _insert_handler(conn: sqlite3.Connection, spec: HandlerSpec, source: str | None,
                    created_at: float, now: float) -> None:
    options = None if spec.options is None else json.dumps(spec.options)
    conn.execute(
        "INSERT INTO handlers (topic, id, kind, options, match, source, created_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?)",
        (spec.topic, spec.id, spec.kind, options, spec.match, source, created_at, now))


def _handler(row: Sequence[Any]) -> HandlerSpec:
    options = None if row[3] is None else json.loads(row[3])
    return HandlerSpec(topic=row[0], id=row[1], kind=row[2], options=options, match=row[4])


def _collect(conn: sqlite3.Connection, topic: str, events: Sequence[Event], plan: Planner,
             now: float) -> int:
    _ensure_topic(conn, topic, now)
    enqueued = 0
    for event in events:
        row = conn.execute("SELECT level FROM events WHERE topic=? AND id=?",
                           (topic, event.id)).fetchone()
        previous = Level(row[0]) if row else Level.OK
        conn.execute(_UPSERT_EVENT, (
            topic, event.id, event.message, event.details, _time_column(event.time_ns),
            event.duration_ns, int(event.level), int(previous), json.dumps(event.data),
            int(event.recoverable), now))
        deliveries = plan(topic, event, previous)
        conn.executemany(_INSERT_DELIVERY, [_delivery_row(d, now) for d in deliveries])
        enqueued += len(deliveries)
    conn.execute("UPDATE topics SET collected=collected+? WHERE id=?", (len(events), topic))
    return enqueued


def _flush_coalesced(conn: sqlite3.Connection, now: float, summarize: Summarizer) -> int:
    groups = conn.execute(
        "SELECT topic, handler_id FROM deliveries WHERE status='coalesced' "
        "AND summary_id IS NULL GROUP BY topic, handler_id").fetchall()
    flushed = 0
    for topic, handler_id in groups:
        rows = conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE status='coalesced' "
            "AND summary_id IS NULL AND topic=? AND handler_id=? ORDER BY id",
            (topic, handler_id)).fetchall()
        summary = summarize(topic, handler_id, [_delivery(r) for r in rows], now)
        if summary is None:
            continue
        summary_id = conn.execute(_INSERT_DELIVERY, _delivery_row(summary, now)).lastrowid
        conn.executemany("UPDATE deliveries SET summary_id=?, updated_at=? WHERE id=?",
                         [(summary_id, now, r[0]) for r in rows])
        flushed += 1
    return flushed


def _delivery_row(d: NewDelivery, now: float) -> tuple[Any, ...]:
    return (d.topic, d.handler_id, d.kind, d.event_id, int(d.level), json.dumps(d.payload),
            d.status.value, now, now, now, d.last_error, d.summarizes)


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
        summary_id=row[16], summarizes=row[17])


def _delivery_where(query: DeliveryFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("topic", query.topic), ("handler_id", query.handler_id)):
        if value is not None:
            clauses.append(f"{column}=?")
            args.append(value)
    if query.statuses:
        clauses.append(f"status IN ({','.join('?' * len(query.statuses))})")
        args.extend(s.value for s in query.statuses)
    for clause, value in (("created_at>=?", query.since), ("created_at<?", query.until),
                          ("id<?", query.before_id)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
