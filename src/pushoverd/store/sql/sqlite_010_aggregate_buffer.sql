-- Events an aggregate handler holds until its next tick, oldest first (seq). Kapacitor keeps
-- them in memory and loses them on a restart; here they are part of the ingest transaction.
CREATE TABLE held_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    handler_id TEXT NOT NULL,
    event TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX held_events_by_handler ON held_events (topic, handler_id, seq);
