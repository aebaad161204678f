-- An emergency (Pushover priority 2) is followed up by its receipt.
ALTER TABLE deliveries ADD COLUMN receipt TEXT;
