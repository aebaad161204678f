-- The id of the HTTP request whose alert caused a delivery (its Request-Id), so that the log
-- lines of sending it can name that request.
ALTER TABLE deliveries ADD COLUMN origin TEXT;
