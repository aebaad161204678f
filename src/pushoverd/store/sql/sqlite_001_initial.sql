-- Topics exist from their first event or handler until deleted.
CREATE TABLE topics (
    id          TEXT PRIMARY KEY,
    collected   INTEGER NOT NULL DEFAULT 0,
    created_at  REAL NOT NULL
);

-- The latest state of each event ID in each topic.
CREATE TABLE events (
    topic           TEXT NOT NULL,
    id              TEXT NOT NULL,
    message         TEXT NOT NULL,
    details         TEXT NOT NULL,
    time_ns         INTEGER NOT NULL,
    duration_ns     INTEGER NOT NULL,
    level           INTEGER NOT NULL,
    previous_level  INTEGER NOT NULL,
    data            TEXT,
    recoverable     INTEGER NOT NULL,
    updated_at      REAL NOT NULL,
    PRIMARY KEY (topic, id)
);

-- Handler specs; handlers outlive their topic (deleting a topic keeps them working).
CREATE TABLE handlers (
    topic       TEXT NOT NULL,
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    options     TEXT,
    match       TEXT NOT NULL DEFAULT '',
    source      TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (topic, id)
);

-- The outbox: one row per notification, from acceptance to sent or dead.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    topic            TEXT NOT NULL,
    handler_id       TEXT NOT NULL,
    kind             TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    level            INTEGER NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       REAL NOT NULL,
    next_attempt_at  REAL NOT NULL,
    lease_until      REAL,
    updated_at       REAL NOT NULL,
    sent_at          REAL,
    request_id       TEXT,
    last_error       TEXT,
    info             TEXT,
    -- Flood control: a coalesced delivery points at the summary that covers it; a summary
    -- counts the deliveries it covers.
    summary_id       INTEGER,
    summarizes       INTEGER NOT NULL DEFAULT 0
);

-- Open deliveries (not yet sent or dead) in arrival order, overall and per handler: claims
-- walk the first and check each handler's head in the second. A leased delivery's
-- next_attempt_at is its lease expiry, so "due" means the same thing in every open status.
CREATE INDEX deliveries_open ON deliveries (id)
    WHERE status IN ('pending', 'failed', 'sending');
CREATE INDEX deliveries_open_handler ON deliveries (topic, handler_id, id)
    WHERE status IN ('pending', 'failed', 'sending');
-- Held back by flood control and not yet summarised: only such rows pay for this index.
CREATE INDEX deliveries_unsummarized ON deliveries (topic, handler_id, id)
    WHERE status = 'coalesced' AND summary_id IS NULL;
