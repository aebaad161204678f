-- An acknowledgement callback names its receipt: find the notification it belongs to.
CREATE INDEX deliveries_receipt ON deliveries (receipt) WHERE receipt IS NOT NULL;
