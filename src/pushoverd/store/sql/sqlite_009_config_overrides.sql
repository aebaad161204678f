-- Options changed through the config override API (/kapacitor/v1/config), one row per
-- element: id is "<section>/<element>" ("pushover/", "httppost/<endpoint>"), options a JSON
-- object, created 1 for an element the API added. They win over the file at start.
CREATE TABLE config_overrides (
    id          TEXT PRIMARY KEY,
    options     TEXT NOT NULL,
    created     INTEGER NOT NULL DEFAULT 0,
    updated_at  REAL NOT NULL
);
