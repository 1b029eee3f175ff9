-- Up Migration

-- Notifications become a transactional outbox: the member workflow's recorder writes them with the audit lines and
-- the view, in one transaction, and a relay in the worker pushes them (claiming due rows, retrying with backoff).
ALTER TABLE notifications ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status = 'RECORDED';

-- Down Migration
DROP INDEX notifications_due_idx;
ALTER TABLE notifications DROP COLUMN next_attempt_at;
