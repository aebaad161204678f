-- The SQLite backend's statements, one per "-- name:" block, read once by store/sqlite.py.
-- Deliveries are always read with the column list in "delivery_columns".

-- name: delivery_columns
id, topic, handler_id, kind, event_id, level, payload, status, attempts, created_at,
next_attempt_at, updated_at, sent_at, request_id, last_error, info, summary_id, summarizes,
requeued_at, receipt, receipt_state, acknowledged_at, acknowledged_by, acknowledged_by_device,
receipt_check_at, control, escalated_at, origin

-- name: event_columns
id, message, details, time_ns, duration_ns, level, previous_level

-- Handler specs ---------------------------------------------------------------------------

-- name: select_handlers
SELECT topic, id, kind, options, match, source FROM handlers ORDER BY topic, id

-- name: handler_exists
SELECT 1 FROM handlers WHERE topic=? AND id=?

-- name: handler_created_at
SELECT created_at FROM handlers WHERE topic=? AND id=?

-- name: insert_handler
INSERT INTO handlers (topic, id, kind, options, match, source, created_at, updated_at)
VALUES (?,?,?,?,?,?,?,?)

-- name: delete_handler
DELETE FROM handlers WHERE topic=? AND id=?

-- name: handlers_revision
SELECT value FROM revisions WHERE name='handlers'

-- name: bump_handlers_revision
UPDATE revisions SET value=value+1 WHERE name='handlers'

-- Topics and events -----------------------------------------------------------------------

-- name: ensure_topic
INSERT INTO topics (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING

-- name: topic_exists
SELECT 1 FROM topics WHERE id=?

-- name: select_topics
SELECT t.id, COALESCE((SELECT MAX(level) FROM events e WHERE e.topic=t.id), 0), t.collected
FROM topics t ORDER BY t.id

-- name: select_topic
SELECT t.id, COALESCE((SELECT MAX(level) FROM events e WHERE e.topic=t.id), 0), t.collected
FROM topics t WHERE t.id=?

-- name: delete_topic_events
DELETE FROM events WHERE topic=?

-- name: delete_topic
DELETE FROM topics WHERE id=?

-- name: count_collected
UPDATE topics SET collected=collected+? WHERE id=?

-- name: event_level
SELECT level FROM events WHERE topic=? AND id=?

-- name: upsert_event
INSERT INTO events (topic, id, message, details, time_ns, duration_ns, level, previous_level,
                    data, recoverable, updated_at)
VALUES (?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (topic, id) DO UPDATE SET message=excluded.message, details=excluded.details,
    time_ns=excluded.time_ns, duration_ns=excluded.duration_ns, level=excluded.level,
    previous_level=excluded.previous_level, data=excluded.data,
    recoverable=excluded.recoverable, updated_at=excluded.updated_at

-- name: select_events
SELECT id, message, details, time_ns, duration_ns, level, previous_level
FROM events WHERE topic=? AND level>=? ORDER BY level DESC, id

-- name: select_event
SELECT id, message, details, time_ns, duration_ns, level, previous_level
FROM events WHERE topic=? AND id=?

-- Outbox ----------------------------------------------------------------------------------

-- name: insert_delivery
INSERT INTO deliveries (topic, handler_id, kind, event_id, level, payload, status,
                        created_at, next_attempt_at, updated_at, last_error, summarizes, control,
                        origin)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)

-- The flood window: a handler's notifications since a time, stopping at the limit that matters.
-- name: count_notifications
SELECT COUNT(*) FROM (
    SELECT 1 FROM deliveries INDEXED BY deliveries_notifications
    WHERE topic=? AND handler_id=? AND created_at>? AND status <> 'coalesced'
      AND status <> 'suppressed' AND control = 0 LIMIT ?)

-- name: last_notification
SELECT {delivery_columns} FROM deliveries INDEXED BY deliveries_alert
WHERE topic=? AND handler_id=? AND event_id=? AND status NOT IN ('coalesced','suppressed')
  AND control=0 ORDER BY id DESC LIMIT 1

-- name: unfinished
SELECT {delivery_columns} FROM deliveries INDEXED BY deliveries_alert
WHERE topic=? AND handler_id=? AND event_id=? AND control=0
  AND (status IN ('pending','failed','sending') OR receipt_state='outstanding') ORDER BY id

-- A control delivery, once sent, closes the outstanding receipts of its alert before it.
-- name: close_receipts
UPDATE deliveries SET receipt_state='cancelled', receipt_check_at=NULL, updated_at=:now
WHERE receipt_state='outstanding' AND id<:id AND (topic, handler_id, event_id) =
    (SELECT topic, handler_id, event_id FROM deliveries WHERE id=:id AND control=1)

-- Due open deliveries of the given kinds (a JSON array), oldest first, whose alert (handler and
-- event id) has no earlier open delivery that is not due: that one is leased or waiting for its
-- retry. A leased delivery's next_attempt_at is its lease expiry, so "due" means the same in
-- every open status.
-- name: claim
UPDATE deliveries SET status='sending', lease_until=?, next_attempt_at=?, attempts=attempts+1,
    updated_at=?
WHERE id IN (
    SELECT d.id FROM deliveries d INDEXED BY deliveries_open
    WHERE d.status IN ('pending','failed','sending') AND d.next_attempt_at<=?
      AND d.kind IN (SELECT value FROM json_each(?))
      AND NOT EXISTS (
        SELECT 1 FROM deliveries e INDEXED BY deliveries_open_alert
        WHERE e.status IN ('pending','failed','sending') AND e.topic=d.topic
          AND e.handler_id=d.handler_id AND e.event_id=d.event_id AND e.id<d.id
          AND e.next_attempt_at>?)
    ORDER BY d.id LIMIT ?)
RETURNING {delivery_columns}

-- A receipt makes the delivery an outstanding emergency, checked first at once.
-- name: mark_sent
UPDATE deliveries SET status='sent', sent_at=:now, updated_at=:now, request_id=:request,
    info=:info, receipt=:receipt,
    receipt_state=CASE WHEN :receipt IS NULL THEN NULL ELSE 'outstanding' END,
    receipt_check_at=CASE WHEN :receipt IS NULL THEN NULL ELSE :now END,
    lease_until=NULL, next_attempt_at=:now WHERE id=:id

-- name: mark_failed
UPDATE deliveries SET status='failed', last_error=?, next_attempt_at=?, updated_at=?,
    lease_until=NULL WHERE id=?

-- name: mark_dead
UPDATE deliveries SET status='dead', last_error=?, updated_at=?, lease_until=NULL,
    next_attempt_at=? WHERE id=?

-- An unattempted claim is undone: its attempt is not counted.
-- name: release
UPDATE deliveries SET status=CASE WHEN attempts>1 THEN 'failed' ELSE 'pending' END,
    attempts=attempts-1, lease_until=NULL, next_attempt_at=?, updated_at=?
WHERE id=? AND status='sending'

-- name: requeue
UPDATE deliveries SET status='pending', attempts=0, payload=?, next_attempt_at=?, updated_at=?,
    requeued_at=?, lease_until=NULL
WHERE id=? AND status IN ('dead','failed')

-- After a crash: the lock file proves every lease still held belonged to a dead run.
-- name: reclaim
UPDATE deliveries SET status='failed', next_attempt_at=?, lease_until=NULL, updated_at=?,
    last_error=COALESCE(last_error, 'interrupted: the daemon stopped during the send')
WHERE status='sending'

-- name: receipts_due
SELECT {delivery_columns} FROM deliveries INDEXED BY deliveries_receipts_due
WHERE receipt_state='outstanding' AND receipt_check_at<=? ORDER BY receipt_check_at LIMIT ?

-- name: mark_escalated
UPDATE deliveries SET escalated_at=?, updated_at=?
WHERE id=? AND receipt_state='outstanding' AND escalated_at IS NULL

-- name: delivery_by_receipt
SELECT {delivery_columns} FROM deliveries INDEXED BY deliveries_receipt WHERE receipt=?

-- name: record_receipt
UPDATE deliveries SET receipt_state=?, receipt_check_at=?, acknowledged_at=?, acknowledged_by=?,
    acknowledged_by_device=?, updated_at=? WHERE id=? AND receipt_state='outstanding'

-- name: outstanding_receipts
SELECT COUNT(*), MIN(sent_at) FROM deliveries INDEXED BY deliveries_receipts_due
WHERE receipt_state='outstanding'

-- name: select_delivery
SELECT {delivery_columns} FROM deliveries WHERE id=?

-- name: count_by_status
SELECT status, COUNT(*) FROM deliveries GROUP BY status

-- name: oldest_open
SELECT MIN(created_at) FROM deliveries WHERE status IN ('pending','failed','sending')

-- Held deliveries at a glance, per handler and level (the partial index holds only them).
-- name: held_by_level
SELECT topic, handler_id, level, COUNT(*), MIN(created_at), MAX(id)
FROM deliveries INDEXED BY deliveries_unsummarized
WHERE status='coalesced' AND summary_id IS NULL GROUP BY topic, handler_id, level

-- name: link_summary
UPDATE deliveries SET summary_id=?, updated_at=?
WHERE status='coalesced' AND summary_id IS NULL AND topic=? AND handler_id=? AND id<=?

-- name: prune
DELETE FROM deliveries
WHERE (status IN ('sent','dead','suppressed') OR (status='coalesced' AND summary_id IS NOT NULL))
  AND updated_at<?

-- Aggregates ------------------------------------------------------------------------------

-- name: insert_held_event
INSERT INTO held_events (topic, handler_id, event, created_at) VALUES (?,?,?,?)

-- name: select_held_events
SELECT event FROM held_events WHERE topic=? AND handler_id=? ORDER BY seq

-- name: delete_held_events
DELETE FROM held_events WHERE topic=? AND handler_id=?

-- name: rename_held_events
UPDATE held_events SET handler_id=? WHERE topic=? AND handler_id=?

-- Config overrides ------------------------------------------------------------------------

-- name: select_config_overrides
SELECT id, options, created FROM config_overrides ORDER BY id

-- name: upsert_config_override
INSERT INTO config_overrides (id, options, created, updated_at) VALUES (?,?,?,?)
ON CONFLICT (id) DO UPDATE SET options=excluded.options, created=excluded.created,
    updated_at=excluded.updated_at

-- name: delete_config_override
DELETE FROM config_overrides WHERE id=?
