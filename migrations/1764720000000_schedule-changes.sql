-- Up Migration

-- Operators may move an open enrollment's deadlines (issue 12): the read model keeps each change (who, why, old and
-- new times) beside the deadlines it shows; window_ends_at and evaluates_at follow the latest record.
ALTER TABLE enrollments ADD COLUMN schedule_changes jsonb;

-- Down Migration
ALTER TABLE enrollments DROP COLUMN schedule_changes;
