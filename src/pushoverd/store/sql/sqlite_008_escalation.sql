-- When an unanswered emergency was passed on to its escalate-to recipients (once).
ALTER TABLE deliveries ADD COLUMN escalated_at REAL;
