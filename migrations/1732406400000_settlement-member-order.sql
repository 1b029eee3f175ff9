-- Up Migration

-- The batch applies lines member by member (one update per member and chunk), in file order within a member.
DROP INDEX settlement_records_todo_idx;
CREATE INDEX settlement_records_todo_idx ON settlement_records (batch_pk, member_id, line) WHERE outcome IS NULL;

-- Down Migration
DROP INDEX settlement_records_todo_idx;
CREATE INDEX settlement_records_todo_idx ON settlement_records (batch_pk, line) WHERE outcome IS NULL;
