-- What became of an emergency: outstanding until acknowledged, expired or cancelled, and when
-- its receipt is checked next. Only outstanding receipts pay for the index the poller walks.
ALTER TABLE deliveries ADD COLUMN receipt_state TEXT;
ALTER TABLE deliveries ADD COLUMN acknowledged_at REAL;
ALTER TABLE deliveries ADD COLUMN acknowledged_by TEXT;
ALTER TABLE deliveries ADD COLUMN acknowledged_by_device TEXT;
ALTER TABLE deliveries ADD COLUMN receipt_check_at REAL;
CREATE INDEX deliveries_receipts_due ON deliveries (receipt_check_at)
    WHERE receipt_state = 'outstanding';
