-- Order is kept per alert (handler and event id), not per handler: a claim checks the head of
-- its own alert's queue, so the open deliveries are indexed by that key.
DROP INDEX deliveries_open_handler;
CREATE INDEX deliveries_open_alert ON deliveries (topic, handler_id, event_id, id)
    WHERE status IN ('pending', 'failed', 'sending');
