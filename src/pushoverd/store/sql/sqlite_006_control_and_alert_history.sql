-- A control delivery sends no notification: it stops earlier ones (cancels an emergency's
-- repeats). Once sent, it closes the outstanding receipts of its alert.
ALTER TABLE deliveries ADD COLUMN control INTEGER NOT NULL DEFAULT 0;

-- Planning asks for an alert's latest notification (is an emergency for it still ringing?).
CREATE INDEX deliveries_alert ON deliveries (topic, handler_id, event_id, id);

-- Notifications only: neither held, nor suppressed, nor control deliveries count for floods.
DROP INDEX deliveries_notifications;
CREATE INDEX deliveries_notifications ON deliveries (topic, handler_id, created_at)
    WHERE status <> 'coalesced' AND status <> 'suppressed' AND control = 0;
