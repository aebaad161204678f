-- When an operator last re-queued a delivery: its retry budget counts from then, while
-- created_at keeps the time the alert arrived.
ALTER TABLE deliveries ADD COLUMN requeued_at REAL;

-- Flood control counts a handler's recent notifications from the stored rows, inside the
-- ingest transaction; coalesced rows are not notifications and are left out of the index.
CREATE INDEX deliveries_notifications ON deliveries (topic, handler_id, created_at)
    WHERE status <> 'coalesced';

-- Bumped on every handler spec change, so a daemon can tell its routing table is stale.
CREATE TABLE revisions (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
INSERT INTO revisions (name, value) VALUES ('handlers', 0);
